//! What the IP header alone gives away: `bogon_source` (a source that cannot arrive
//! legitimately), `land` (source equals destination) and `source_routed` (LSRR and SSRR
//! options).
//!
//! The bogon sources come from `bogon_sources()` (tests/src/bogons.rs), the one place the tests
//! use addresses outside the lab ranges, as ../shared/docs/lab.md allows for bogon detection.

use probe_integration::{
    ATTACKER_V4, Daemon, Lab, SENSOR_V4, bogon_sources, describe, expect, kinds, of_kind, only,
    require_root,
};
use serde_json::json;

#[test]
fn private_loopback_and_link_local_sources_are_bogons_each_named_with_its_block() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);
    let [private, loopback, link_local] = bogon_sources();

    // A SYN, a UDP datagram and a ping, each from one bogon source, to registered ports with
    // no meaning of their own.
    lab.send_frames(&format!(
        "[eth()/IP(src='{}', dst=SENSOR_V4)/TCP(sport=40000, dport=40001, flags='S'), \
          eth()/IP(src='{}', dst=SENSOR_V4)/UDP(sport=40000, dport=40002), \
          eth()/IP(src='{}', dst=SENSOR_V4)/ICMP(type=8, id=1, seq=1)]",
        private.addr, loopback.addr, link_local.addr
    ));

    let findings = probe.finish();
    assert_eq!(
        kinds(&findings),
        ["bogon_source".to_owned()].into(),
        "{}",
        describe(&findings)
    );
    let bogons = of_kind(&findings, "bogon_source");
    assert_eq!(bogons.len(), 3, "{}", describe(&findings));
    for (bogon, proto) in [private, loopback, link_local]
        .iter()
        .zip(["tcp", "udp", "icmp"])
    {
        let src = bogon.addr.to_string();
        let f = bogons
            .iter()
            .find(|f| f.src.as_deref() == Some(src.as_str()))
            .unwrap_or_else(|| panic!("no bogon_source for {src}: {}", describe(&findings)));
        expect(f)
            .because(&src)
            .level("suspicious")
            .dst(SENSOR_V4)
            .proto(proto)
            .port(None)
            .count(1);
        assert_eq!(f.evidence["block"], json!(bogon.block), "{src}");
        assert_eq!(f.evidence["block_name"], json!(bogon.block_name), "{src}");
    }
}

#[test]
fn an_hping3_land_packet_is_land() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // -a: the sensor's own address as the source; the same port at both ends (-k keeps it).
    lab.attacker(&[
        "hping3", "-S", "-a", SENSOR_V4, "-s", "40000", "-k", "-p", "40000", "-c", "1", SENSOR_V4,
    ]);

    let findings = probe.finish();
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "land");
    expect(f)
        .level("hostile")
        .src(SENSOR_V4)
        .dst(SENSOR_V4)
        .proto("tcp")
        .port(Some(40000));
    assert_eq!(
        (&f.evidence["src_port"], &f.evidence["dst_port"]),
        (&json!(40000), &json!(40000))
    );
}

#[test]
fn loose_and_strict_source_routes_are_source_routed() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // traceroute -g: loose source routing (LSRR) through the sensor to a host behind it; one
    // probe per TTL 1 to 3, each with the option.
    lab.attacker(&[
        "traceroute",
        "-n",
        "-q",
        "1",
        "-w",
        "1",
        "-m",
        "3",
        "-g",
        SENSOR_V4,
        "198.18.1.9",
    ]);
    // Strict source routing (SSRR) has no tool: scapy.
    lab.send_frames(
        "[eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4, options=[IPOption_SSRR(routers=['198.18.1.9'])])\
             /UDP(sport=40000, dport=40003)]",
    );

    let findings = probe.finish();
    // The traceroute is a traceroute too.
    assert_eq!(
        kinds(&findings),
        ["source_routed".to_owned(), "traceroute".to_owned()].into(),
        "{}",
        describe(&findings)
    );
    let f = only(&findings, "source_routed");
    expect(f)
        .level("hostile")
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .proto("udp")
        .count(4);
    assert_eq!(
        f.evidence["packets_by_option"],
        json!({"LSRR": 3, "SSRR": 1})
    );
    // The latest packet's options.
    assert_eq!(f.evidence["options"], json!(["SSRR"]));
    let trace = only(&findings, "traceroute");
    expect(trace).src(ATTACKER_V4).dst(SENSOR_V4);
}
