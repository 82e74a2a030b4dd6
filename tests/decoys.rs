//! `decoy_scan`: the same ports of one host probed from several sources at once (FAQ 1.3), as
//! `nmap -D` does. Exactly one finding per target, naming the real scanner:
//!
//! - with plain `nmap -D`, every copy leaves the scanning host and nmap draws each packet's TTL
//!   at random, so TTLs cannot tell the copies apart; the scanner is named because it alone was
//!   in touch more than 5 s before the scan (`earlier_contact`; "the attacker has actually
//!   connected to you recently");
//! - with decoys forged from a machine one hop further away than the scanner, the scanner's
//!   TTLs stand apart from the decoys', which all share one path (`ttl_stands_apart`).
//!
//! Decoy addresses are from 198.18.0.0/15 and never sent anything before the scan.

use std::{collections::BTreeSet, thread, time::Duration};

use probe_integration::{
    ATTACKER_V4, Daemon, FarAttacker, Finding, Lab, SENSOR_V4, describe, expect, only, require_root,
};
use serde_json::json;

/// Scanned ports: registered ports with no meaning in the knowledge tables, so nothing but the
/// decoy scan is reported.
const PORTS: &str = "40000-40019";
const PORT_COUNT: u64 = 20;

/// Every member of the group, by address: (ttl_min, ttl_max, probes, earlier_contact).
fn members(f: &Finding) -> Vec<(String, u64, u64, u64, bool)> {
    f.evidence["sources"]
        .as_array()
        .unwrap_or_else(|| panic!("decoy_scan evidence has no sources: {}", f.evidence))
        .iter()
        .map(|m| {
            let n = |k: &str| m[k].as_u64().unwrap_or_else(|| panic!("{k} in {m}"));
            (
                m["addr"].as_str().expect("addr").to_owned(),
                n("ttl_min"),
                n("ttl_max"),
                n("probes"),
                m["earlier_contact"].as_bool().expect("earlier_contact"),
            )
        })
        .collect()
}

#[test]
fn an_nmap_decoy_scan_names_the_scanner_that_was_in_touch_before() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);
    let decoys = ["198.18.0.50", "198.18.0.51", "198.18.0.52"];

    // The real scanner looks at its target first (one ping, TTL 64)...
    lab.attacker(&["ping", "-c", "1", "-W", "1", SENSOR_V4]);
    // ...and scans more than `history_gap_secs` (5 s) later, hidden among three decoys.
    thread::sleep(Duration::from_secs(6));
    lab.attacker(&[
        "nmap",
        "-sS",
        "-Pn",
        "-n",
        "-D",
        &decoys.join(","),
        "-p",
        PORTS,
        SENSOR_V4,
    ]);
    probe.settled_stats();

    // While the daemon runs: one decoy_scan finding for the target.
    let live = probe.query_findings(&["--kind", "decoy_scan"]);
    assert_eq!(live.len(), 1, "{}", describe(&live));
    assert_eq!(live[0].dst.as_deref(), Some(SENSOR_V4));

    let findings = probe.finish();
    // The members are not reported as vertical scans, and the ping is no finding.
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "decoy_scan");
    expect(f)
        .level("suspicious")
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .proto("tcp")
        .port(None)
        .count(4 * PORT_COUNT);
    assert_eq!(f.evidence["real_source"], json!(ATTACKER_V4));
    assert_eq!(f.evidence["reasons"], json!(["earlier_contact"]));
    assert_eq!(f.evidence["confidence"], json!("medium"));
    assert_eq!(f.evidence["ports"], json!(PORTS));
    assert_eq!(f.evidence["common_ports"], json!(PORT_COUNT));
    assert_eq!(f.evidence["sources_total"], json!(4));
    let got = members(f);
    let addrs: BTreeSet<&str> = got.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(
        addrs,
        BTreeSet::from([ATTACKER_V4, decoys[0], decoys[1], decoys[2]])
    );
    for (addr, ttl_min, ttl_max, probes, earlier) in &got {
        assert_eq!(*probes, PORT_COUNT, "{addr}: every port from every member");
        assert_eq!(
            *earlier,
            addr == ATTACKER_V4,
            "{addr}: only the scanner came before"
        );
        // nmap draws every packet's TTL from 37-59, decoys' and its own alike.
        assert!(
            (37..=59).contains(ttl_min) && (37..=59).contains(ttl_max),
            "{addr}: TTLs {ttl_min}-{ttl_max}"
        );
    }
    let scanner = f.evidence["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|m| m["addr"] == json!(ATTACKER_V4)))
        .expect("the scanner is a member");
    assert_eq!(scanner["earlier_ttl"], json!(64), "the ping's TTL");
}

/// What the far-decoy scenario leaves: the final findings, what `probe query findings` said
/// once the scan was over (before the daemon stopped), and the decoy addresses.
struct FarDecoys {
    findings: Vec<Finding>,
    queried: Vec<Finding>,
    decoys: [&'static str; 3],
}

/// Decoys forged from the far namespace, then the real scan from the attacker.
fn decoys_from_one_hop_further() -> FarDecoys {
    let lab = Lab::new();
    let far = FarAttacker::new(&lab);
    let mut probe = Daemon::start(&lab);
    let decoys = ["198.18.0.60", "198.18.0.61", "198.18.0.62"];

    // Forged copies from the far namespace, sent with TTL 64: the attacker namespace routes
    // them, so they arrive with TTL 63. Three per port, as a decoy scanner sends them.
    far.send_frames(&format!(
        "[eth()/IP(src=d, dst=SENSOR_V4, ttl=64)/TCP(sport=51000, dport=p, flags='S') \
          for p in range(40000, 40020) for d in {decoys:?}]"
    ));
    // The real scan at once (well within the 5 s a round of copies may spread over), from the
    // scanner one hop away: nmap's TTLs (37-59) never reach the decoys' 63.
    lab.attacker(&["nmap", "-sS", "-Pn", "-n", "-p", PORTS, SENSOR_V4]);

    probe.settled_stats();
    let queried = probe.query_findings(&["--kind", "decoy_scan"]);
    FarDecoys {
        findings: probe.finish(),
        queried,
        decoys,
    }
}

#[test]
fn decoys_forged_one_hop_further_away_leave_the_scanner_standing_apart_by_ttl() {
    require_root!();
    let FarDecoys {
        findings, decoys, ..
    } = decoys_from_one_hop_further();

    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "decoy_scan");
    expect(f)
        .level("suspicious")
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .port(None);
    assert_eq!(f.evidence["real_source"], json!(ATTACKER_V4));
    assert_eq!(f.evidence["reasons"], json!(["ttl_stands_apart"]));
    assert_eq!(f.evidence["confidence"], json!("medium"));
    assert_eq!(f.evidence["common_ports"], json!(PORT_COUNT));
    assert_eq!(f.evidence["sources_total"], json!(4));
    let got = members(f);
    assert_eq!(got.len(), 4, "{}", f.evidence);
    for (addr, ttl_min, ttl_max, probes, earlier) in &got {
        assert_eq!(*probes, PORT_COUNT, "{addr}");
        assert!(!earlier, "{addr}: nobody was in touch before");
        if addr == ATTACKER_V4 {
            assert!(*ttl_max <= 59, "the scanner's TTLs {ttl_min}-{ttl_max}");
        } else {
            assert!(decoys.contains(&addr.as_str()), "{addr} is no decoy");
            assert_eq!((*ttl_min, *ttl_max), (63, 63), "{addr}: one hop further");
        }
    }
}

/// `count` is "contacts the finding rests on" (docs/findings.md); this finding rests on 4
/// members x 20 ports, and its evidence says so (`probes: 20` for each member).
#[test]
fn a_decoy_scan_counts_every_probe_of_every_member() {
    require_root!();
    let FarDecoys { findings, .. } = decoys_from_one_hop_further();

    let f = only(&findings, "decoy_scan");
    let probes: u64 = members(f).iter().map(|m| m.3).sum();
    assert_eq!(probes, 4 * PORT_COUNT, "{}", f.evidence);
    assert_eq!(f.count, probes, "count must match the members' probes");
}

/// `probe query findings` is documented as "the latest state of each" finding. Here the finding
/// opened when the three decoys formed a group (src "many": nothing singled one out yet), and
/// the scanner, named a moment later, is written only at the next refresh (60 s) or at exit;
/// until then the query answers the stale first line.
#[test]
fn while_the_daemon_runs_a_query_shows_the_scanner_it_has_named() {
    require_root!();
    let FarDecoys { queried, .. } = decoys_from_one_hop_further();

    let f = only(&queried, "decoy_scan");
    assert_eq!(
        f.src.as_deref(),
        Some(ATTACKER_V4),
        "{}",
        describe(&queried)
    );
    assert_eq!(f.evidence["common_ports"], json!(PORT_COUNT));
}
