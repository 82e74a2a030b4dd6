//! `probe_overload`: first contacts the kernel could not deliver (its event rate limit held them
//! back, or the ring buffer was full) are counted, and the daemon says so with a finding of its
//! own instead of losing them silently.

use probe_integration::{Daemon, Lab, SENSOR_V4, describe, expect, kinds, only, require_root};
use serde_json::{Value, json};

/// The 50 new contacts of the burst: one SYN to each of 50 ports.
const CONTACTS: u64 = 50;

#[test]
fn a_burst_of_new_contacts_over_the_event_rate_is_a_probe_overload_counting_every_loss() {
    require_root!();
    let lab = Lab::new();
    // One event a second, a burst of one, per CPU.
    let mut probe = Daemon::start_with(&lab, &["--event-rate", "1", "--event-burst", "1"]);

    lab.attacker(&["nmap", "-sS", "-Pn", "-n", "-p", "40000-40049", SENSOR_V4]);
    probe.settled_stats();
    let stats = probe.query(&["stats"]);
    let total = |name: &str| {
        stats[name]
            .as_u64()
            .unwrap_or_else(|| panic!("stats has no {name}: {stats}"))
    };
    let (delivered, rate_limited, ring_full) = (
        total("events"),
        total("events_rate_limited"),
        total("events_ring_full"),
    );
    // Every new contact is either delivered or counted as lost.
    assert_eq!(delivered + rate_limited + ring_full, CONTACTS, "{stats}");
    // A burst of one per CPU and a refill of one a second per CPU let through a handful.
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    assert!(delivered <= 2 * cpus as u64, "{stats}");

    let findings = probe.finish();
    // Too few contacts got through for a scan finding; the loss is the finding.
    assert_eq!(
        kinds(&findings),
        ["probe_overload".to_owned()].into(),
        "{}",
        describe(&findings)
    );
    let f = only(&findings, "probe_overload");
    expect(f)
        .level("notable")
        .src(None)
        .dst(None)
        .proto(None)
        .port(None)
        .count(rate_limited + ring_full);
    assert_eq!(
        f.evidence,
        json!({
            "rate_limited": rate_limited,
            "ring_full": ring_full,
            "rate_limited_total": rate_limited,
            "ring_full_total": ring_full,
        })
    );
    assert_eq!(
        f.evidence["ring_full"],
        Value::from(0),
        "50 events fit the ring"
    );
}
