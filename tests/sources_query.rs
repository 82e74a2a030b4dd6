//! `probe query sources` and `probe query port`: who is sending, and everything about one
//! port, read from the kernel's per-source table and counters, against counts sent with
//! hping3.

use std::time::Duration;

use probe_integration::{ATTACKER_V4, Daemon, Lab, SENSOR_V4, require_root};
use serde_json::{Value, json};

fn uint(v: &Value, name: &str) -> u64 {
    v[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer {name:?} in {v}"))
}

#[test]
fn the_sources_and_port_queries_show_what_was_sent() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // Ten SYNs to ports 5000-5009, one to Back Orifice's 31337.
    lab.attacker(&[
        "hping3", "-S", "-p", "++5000", "-c", "10", "-i", "u20000", SENSOR_V4,
    ]);
    lab.attacker(&["hping3", "-S", "-p", "31337", "-c", "1", SENSOR_V4]);
    probe.settled_stats();

    // The trojan probe's finding is shown once its wait for answers is over.
    probe.wait_for_log("trojan_probe", Duration::from_secs(5));
    let rows = probe.query(&["sources"]);
    let rows = rows.as_array().expect("a list of sources");
    let attacker = rows
        .iter()
        .find(|r| r["src"] == ATTACKER_V4)
        .unwrap_or_else(|| panic!("no row for {ATTACKER_V4}: {rows:?}"));
    assert_eq!(
        (
            uint(attacker, "packets"),
            uint(attacker, "syns"),
            uint(attacker, "hosts"),
            uint(attacker, "ttl_min"),
            uint(attacker, "ttl_max"),
            uint(attacker, "hops"),
        ),
        (11, 11, 1, 64, 64, 0),
        "{attacker}"
    );
    // Eleven ports in a 512-bit sketch: the estimate is the count unless two share a bit.
    let ports = uint(attacker, "ports");
    assert!((10..=11).contains(&ports), "{attacker}");
    assert!(uint(attacker, "last_seen_ns") >= uint(attacker, "first_seen_ns"));
    assert_eq!(
        attacker["findings"],
        json!([{"id": 1, "kind": "trojan_probe", "level": "hostile", "port": 31337}])
    );
    // Busiest first.
    assert_eq!(rows[0]["src"], ATTACKER_V4, "{rows:?}");

    // Only sources that sent to 5003; a port nobody sent to has none of ours.
    let to_5003 = probe.query(&["sources", "--port", "5003"]);
    assert!(
        to_5003
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["src"] == ATTACKER_V4)),
        "{to_5003}"
    );

    let port = probe.query(&["port", "31337"]);
    assert_eq!(port["port"], json!(31337));
    assert_eq!(
        (
            uint(&port["tcp"], "packets"),
            uint(&port["tcp"], "syn"),
            uint(&port["udp"], "packets")
        ),
        (1, 1, 0),
        "{port}"
    );
    assert_eq!(port["tcp"]["name"], json!("Back Orifice"));
    assert_eq!(port["sources"][0]["src"], json!(ATTACKER_V4), "{port}");
    let findings = port["findings"].as_array().expect("a list of findings");
    assert_eq!(findings.len(), 1, "{port}");
    assert_eq!(
        (
            &findings[0]["kind"],
            &findings[0]["port"],
            &findings[0]["src"]
        ),
        (&json!("trojan_probe"), &json!(31337), &json!(ATTACKER_V4))
    );
    // The text form says the same on one screen.
    let text = probe.query_text(&["port", "31337"]);
    assert!(text.starts_with("port 31337 (registered)\n"), "{text}");
    assert!(
        text.contains(
            "  tcp: 1 to it (1 connection attempts), 0 from it; [hostile] Back Orifice's port, \
             and \"elite\" in hacker spelling; a scan for backdoored machines."
        ),
        "{text}"
    );
    assert!(text.contains(ATTACKER_V4), "{text}");
    let _ = probe.finish();
}
