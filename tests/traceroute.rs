//! `traceroute`: Linux traceroute in its UDP mode (ports 33434 and up, TTLs 1, 2, 3...) and in
//! its ICMP mode (`-I`: echo requests with rising TTLs) is one benign finding naming the tracer.
//! Its probes are not a port scan and their ports need no reading of their own: nothing else is
//! reported.

use probe_integration::{
    ATTACKER_V4, Daemon, Lab, ROUTED_V4, SENSOR_V4, describe, expect, only, require_root,
};
use serde_json::json;

#[test]
fn a_udp_traceroute_is_one_benign_traceroute_finding_not_a_scan() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // Three probes for each TTL 1 to 5, all sent at once (traceroute's default -N 16), to ports
    // 33434-33448. The sensor is one hop away, so every probe reaches it.
    lab.attacker(&["traceroute", "-n", "-w", "1", "-m", "5", SENSOR_V4]);

    let findings = probe.finish();
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "traceroute");
    expect(f)
        .level("benign")
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .proto("udp")
        .port(None)
        .count(15);
    assert_eq!(f.evidence["mode"], json!("udp"));
    assert_eq!(f.evidence["ttls"], json!([1, 2, 3, 4, 5]));
    assert_eq!(f.evidence["ports"], json!("33434-33448"));
    assert_eq!(f.evidence["probes"], json!(15));
}

#[test]
fn an_icmp_traceroute_is_one_benign_traceroute_finding_not_a_ping_sweep() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // traceroute -I to a host behind the sensor (which does not forward): echo requests with
    // TTLs 1 to 6, three each; the kernel reports each new TTL as a new contact.
    lab.attacker(&["traceroute", "-I", "-n", "-w", "1", "-m", "6", ROUTED_V4]);

    let findings = probe.finish();
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "traceroute");
    expect(f)
        .level("benign")
        .src(ATTACKER_V4)
        .dst(ROUTED_V4)
        .proto("icmp")
        .port(None)
        .count(6);
    assert_eq!(f.evidence["mode"], json!("icmp"));
    assert_eq!(f.evidence["ttls"], json!([1, 2, 3, 4, 5, 6]));
    assert_eq!(f.evidence["probes"], json!(6));
}

#[test]
fn a_traceroute_repeated_from_another_cpu_counts_each_ttl_once() {
    require_root!();
    // On a veth the XDP program runs on the sending CPU, so pinning the sender picks the CPU
    // whose table of reported contacts sees the probes.
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    assert!(
        cpus >= 2,
        "this test sends from two CPUs and this machine offers {cpus}; run it where there are two"
    );
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // The same echo requests (TTLs 1 to 3) from CPU 0, then from CPU 1: the second CPU has not
    // seen them and reports them too, and the daemon must pass each contact on once.
    for cpu in ["0", "1"] {
        lab.attacker(&[
            "taskset",
            "-c",
            cpu,
            "traceroute",
            "-I",
            "-n",
            "-w",
            "1",
            "-m",
            "3",
            ROUTED_V4,
        ]);
    }

    probe.settled_stats();
    let stats = probe.query(&["stats"]);
    let findings = probe.finish();
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "traceroute");
    assert_eq!(f.evidence["ttls"], json!([1, 2, 3]));
    assert_eq!(f.count, 3, "{}", describe(&findings));
    // Each CPU reported the three contacts: the kernel's count says both did.
    assert_eq!(stats["events"], json!(6), "{stats}");
}
