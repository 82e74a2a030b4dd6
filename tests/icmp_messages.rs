//! The ICMP messages worth a finding of their own (FAQ 2), for IPv4 (hping3 where it can send
//! the type, scapy for the rest) and IPv6 (scapy): `icmp_frag_needed`, `icmp_redirect`,
//! `router_advertisement`, `source_quench`, `ttl_exceeded`, `parameter_problem`. One finding
//! per kind and sender, with the level the knowledge data gives the exact type and code.

use std::collections::BTreeSet;

use probe_integration::{
    ATTACKER_V4, ATTACKER_V6, Daemon, Finding, Lab, SENSOR_V4, SENSOR_V6, describe, expect,
    require_root,
};

/// (kind, src, level, family, type, code) of every finding.
fn messages(findings: &[Finding]) -> BTreeSet<(String, String, String, String, u64, u64)> {
    findings
        .iter()
        .map(|f| {
            let n = |k: &str| {
                f.evidence[k]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{k} in {}", f.evidence))
            };
            (
                f.kind.clone(),
                f.src.clone().unwrap_or_default(),
                f.level.clone(),
                f.evidence["family"].as_str().unwrap_or_default().to_owned(),
                n("type"),
                n("code"),
            )
        })
        .collect()
}

fn row(
    kind: &str,
    src: &str,
    level: &str,
    family: &str,
    ty: u64,
    code: u64,
) -> (String, String, String, String, u64, u64) {
    (
        kind.to_owned(),
        src.to_owned(),
        level.to_owned(),
        family.to_owned(),
        ty,
        code,
    )
}

#[test]
fn icmp_messages_from_hping3_and_scapy_are_one_finding_per_kind() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // hping3 sends these types (with a made-up quoted header); the sensor does not answer any
    // of them, so hping3 reports 100% loss and exits 1.
    for (ty, code) in [("3", "4"), ("5", "1"), ("4", "0"), ("11", "0")] {
        let out = lab.attacker_unchecked(&[
            "hping3", "--icmp", "-C", ty, "-K", code, "-c", "1", SENSOR_V4,
        ]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "hping3 -C {ty} -K {code}: {out:?}"
        );
    }
    // hping3 refuses types 9 and 12 ("Unsupported icmp type"): scapy sends those.
    lab.send_frames(
        "[eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4)/ICMP(type=9, code=0), \
          eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4)/ICMP(type=12, code=0, ptr=20)\
             /IP(src=SENSOR_V4, dst=ATTACKER_V4)/UDP(sport=40000, dport=53)]",
    );

    let findings = probe.finish();
    assert_eq!(
        messages(&findings),
        BTreeSet::from([
            row("icmp_frag_needed", ATTACKER_V4, "notable", "v4", 3, 4),
            row("icmp_redirect", ATTACKER_V4, "suspicious", "v4", 5, 1),
            row("source_quench", ATTACKER_V4, "notable", "v4", 4, 0),
            row("ttl_exceeded", ATTACKER_V4, "benign", "v4", 11, 0),
            row(
                "router_advertisement",
                ATTACKER_V4,
                "suspicious",
                "v4",
                9,
                0
            ),
            row("parameter_problem", ATTACKER_V4, "suspicious", "v4", 12, 0),
        ]),
        "{}",
        describe(&findings)
    );
    assert_eq!(findings.len(), 6, "{}", describe(&findings));
    for f in &findings {
        expect(f)
            .because(describe(&findings))
            .dst(SENSOR_V4)
            .proto("icmp")
            .port(None)
            .count(1);
    }
}

#[test]
fn icmpv6_counterparts_are_the_same_kinds() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    lab.send_frames(
        "[eth()/IPv6(src=ATTACKER_V6, dst=SENSOR_V6)/ICMPv6PacketTooBig(mtu=1280)\
             /IPv6(src=SENSOR_V6, dst=ATTACKER_V6)/UDP(sport=40000, dport=53), \
          eth()/IPv6(src=ATTACKER_V6, dst=SENSOR_V6, hlim=255)\
             /ICMPv6ND_Redirect(tgt='2001:db8::9', dst='2001:db8::10'), \
          eth()/IPv6(src=ATTACKER_V6, dst=SENSOR_V6, hlim=255)/ICMPv6ND_RA(), \
          eth()/IPv6(src=ATTACKER_V6, dst=SENSOR_V6)/ICMPv6TimeExceeded(code=0)\
             /IPv6(src=SENSOR_V6, dst=ATTACKER_V6)/UDP(sport=40000, dport=53), \
          eth()/IPv6(src=ATTACKER_V6, dst=SENSOR_V6)/ICMPv6ParamProblem(code=0, ptr=6)\
             /IPv6(src=SENSOR_V6, dst=ATTACKER_V6)/UDP(sport=40000, dport=53)]",
    );

    let findings = probe.finish();
    assert_eq!(
        messages(&findings),
        BTreeSet::from([
            row("icmp_frag_needed", ATTACKER_V6, "notable", "v6", 2, 0),
            row("icmp_redirect", ATTACKER_V6, "suspicious", "v6", 137, 0),
            row("router_advertisement", ATTACKER_V6, "notable", "v6", 134, 0),
            row("ttl_exceeded", ATTACKER_V6, "benign", "v6", 3, 0),
            row("parameter_problem", ATTACKER_V6, "suspicious", "v6", 4, 0),
        ]),
        "{}",
        describe(&findings)
    );
    assert_eq!(findings.len(), 5, "{}", describe(&findings));
    for f in &findings {
        expect(f)
            .because(describe(&findings))
            .dst(SENSOR_V6)
            .proto("icmpv6")
            .port(None)
            .count(1);
    }
}
