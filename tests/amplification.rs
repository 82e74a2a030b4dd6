//! Attacks that make other machines do the work, and what gives them away: `smurf` (pings to a
//! broadcast address with the victim's address forged, and the crowd of echo replies the victim
//! then gets), `fraggle` (the same with UDP echo and chargen), `echo_chargen_loop` (UDP between
//! ports 7 and 19) and `directed_broadcast` (anything else to an address ending in .255 or .0).
//!
//! hping3 sends the single forged packets; scapy the replies from many hosts, each a forged
//! source in 198.18.0.0/15.

use probe_integration::{
    ATTACKER_V4, Daemon, Lab, SENSOR_V4, describe, expect, of_kind, only, require_root,
};
use serde_json::json;

/// A broadcast address behind the sensor (198.18.1.0/24 is routed via it).
const BROADCAST: &str = "198.18.1.255";
/// The forged source of the broadcasts: the victim.
const VICTIM: &str = "198.18.0.77";

/// Runs hping3 in the attacker namespace; nothing answers a broadcast, so it exits 1.
fn hping3_unanswered(lab: &Lab, args: &[&str]) {
    let mut command = vec!["hping3"];
    command.extend_from_slice(args);
    let out = lab.attacker_unchecked(&command);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{command:?} should see no answer: {out:?}"
    );
}

/// (src, dst, port, level) of a finding.
type Row<'a> = (Option<&'a str>, Option<&'a str>, Option<u16>, &'a str);

#[test]
fn a_ping_to_a_broadcast_address_with_a_forged_source_is_a_smurf_naming_the_victim() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    hping3_unanswered(&lab, &["--icmp", "-a", VICTIM, "-c", "1", BROADCAST]);

    let findings = probe.finish();
    // smurf explains the broadcast destination: no directed_broadcast besides.
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "smurf");
    expect(f)
        .level("hostile")
        .src(VICTIM)
        .dst(BROADCAST)
        .proto("icmp")
        .port(None);
    assert_eq!(f.evidence["role"], json!("amplifier"));
    assert_eq!(f.evidence["broadcasts"], json!([BROADCAST]));
}

#[test]
fn echo_replies_from_sixty_hosts_are_a_smurf_against_their_destination() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // What a smurf victim receives: echo replies it never asked for, from 60 hosts at once.
    lab.send_frames(
        "[eth()/IP(src='198.18.2.%d' % i, dst=SENSOR_V4)/ICMP(type=0, id=7, seq=i) \
          for i in range(1, 61)]",
    );

    let findings = probe.finish();
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "smurf");
    expect(f)
        .level("hostile")
        .src("many")
        .dst(SENSOR_V4)
        .port(None)
        .count(60);
    assert_eq!(f.evidence["role"], json!("victim"));
    assert_eq!(f.evidence["sources_total"], json!(60));
}

#[test]
fn udp_to_echo_and_chargen_at_a_broadcast_address_is_a_fraggle_per_victim() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    hping3_unanswered(
        &lab,
        &["--udp", "-p", "7", "-a", VICTIM, "-c", "1", BROADCAST],
    );
    hping3_unanswered(
        &lab,
        &[
            "--udp",
            "-p",
            "19",
            "-a",
            "198.18.0.78",
            "-c",
            "1",
            BROADCAST,
        ],
    );

    let findings = probe.finish();
    assert_eq!(findings.len(), 2, "{}", describe(&findings));
    let mut got: Vec<Row<'_>> = findings
        .iter()
        .map(|f| {
            expect(f).because(describe(&findings)).kind("fraggle");
            assert_eq!(
                f.evidence["role"].as_str(),
                Some("amplifier"),
                "{}",
                describe(&findings)
            );
            (f.src.as_deref(), f.dst.as_deref(), f.port, f.level.as_str())
        })
        .collect();
    got.sort_unstable();
    assert_eq!(
        got,
        [
            (Some("198.18.0.77"), Some(BROADCAST), Some(7), "hostile"),
            (Some("198.18.0.78"), Some(BROADCAST), Some(19), "hostile"),
        ]
    );
}

#[test]
fn udp_from_chargen_ports_of_twelve_hosts_is_a_fraggle_against_their_destination() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // What a fraggle victim receives: chargen output from 12 hosts to one of its ports.
    lab.send_frames(
        "[eth()/IP(src='198.18.3.%d' % i, dst=SENSOR_V4)/UDP(sport=19, dport=40500)/Raw(b'!\"#$%&') \
          for i in range(1, 13)]",
    );

    let findings = probe.finish();
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "fraggle");
    expect(f)
        .level("hostile")
        .src("many")
        .dst(SENSOR_V4)
        .port(None)
        .count(12);
    assert_eq!(f.evidence["role"], json!("victim"));
    assert_eq!(f.evidence["sources_total"], json!(12));
}

#[test]
fn udp_from_the_echo_port_to_the_chargen_port_is_an_echo_chargen_loop() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // -s 7 -k: from source port 7, kept for every packet. The sensor answers port unreachable.
    lab.attacker(&[
        "hping3", "--udp", "-s", "7", "-k", "-p", "19", "-c", "1", SENSOR_V4,
    ]);

    let findings = probe.finish();
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "echo_chargen_loop");
    expect(f)
        .level("hostile")
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .proto("udp")
        .port(Some(19));
    assert_eq!(
        (&f.evidence["src_port"], &f.evidence["dst_port"]),
        (&json!(7), &json!(19))
    );
}

#[test]
fn syns_to_broadcast_and_network_addresses_are_a_directed_broadcast() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    hping3_unanswered(&lab, &["-S", "-p", "40000", "-c", "1", BROADCAST]);
    hping3_unanswered(&lab, &["-S", "-p", "40000", "-c", "1", "198.18.1.0"]);
    // NetBIOS name queries to a broadcast address are LAN chatter, not a directed broadcast.
    hping3_unanswered(
        &lab,
        &[
            "--udp", "-s", "137", "-k", "-p", "137", "-c", "1", BROADCAST,
        ],
    );

    let findings = probe.finish();
    assert_eq!(findings.len(), 3, "{}", describe(&findings));
    // One finding per broadcast address, whose `dst` is that address.
    let broadcasts = of_kind(&findings, "directed_broadcast");
    assert_eq!(broadcasts.len(), 2, "{}", describe(&findings));
    for (f, dst) in broadcasts.iter().zip([BROADCAST, "198.18.1.0"]) {
        expect(f)
            .because(dst)
            .level("suspicious")
            .src(ATTACKER_V4)
            .dst(dst)
            .proto("tcp")
            .port(Some(40000))
            .count(1);
        assert_eq!(f.evidence["hosts"], json!([dst]));
    }
    let chatter = only(&findings, "netbios_chatter");
    expect(chatter)
        .src(ATTACKER_V4)
        .dst(BROADCAST)
        .port(Some(137));
}
