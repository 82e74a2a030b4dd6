//! Clients that ask for the largest answer and never read it cannot grow the daemon or lock
//! others out: answers in flight are held to a budget (beyond it: `busy`), a client that does
//! not read within the write timeout is dropped, and `stats` answers within a second
//! throughout.

use std::{
    net::Ipv4Addr,
    process::Command,
    thread,
    time::{Duration, Instant},
};

use probe_integration::{
    Client, Daemon, Lab, SENSOR_V4,
    craft::{self, Ipv4, proto},
    require_root,
};

/// The README's bound on the daemon's own resident memory with every port active and clients
/// asking for every row: one full answer (rows, text, the counters' snapshot: about 40 MiB)
/// is made and held at a time, on top of what the daemon holds for 65,536 active ports. The
/// per-source table it maps comes on top ([`probe_integration::bpf::mapped_sources_kib`]).
const RSS_LIMIT_KIB: u64 = 108 * 1024;
/// Clients that ask and never read.
const SLOW_CLIENTS: usize = 16;

#[test]
fn slow_readers_of_the_largest_answer_stay_within_the_memory_bound_and_stats_answers() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);
    // A datagram to every UDP port: 65,536 active ports, a full answer of several MiB.
    let raw = lab.raw_socket();
    let (src, dst) = (
        "198.18.0.2".parse::<Ipv4Addr>().expect("an address"),
        SENSOR_V4.parse::<Ipv4Addr>().expect("an address"),
    );
    for port in 0..=u16::MAX {
        let mut frame = craft::ethernet(&[], craft::ETHER_IPV4);
        frame.extend_from_slice(&Ipv4::new(src, dst, proto::UDP).packet(&craft::udp(
            40_000,
            port,
            &[],
        )));
        raw.send(&frame);
    }
    let stats = probe.settled_stats();
    assert_eq!(stats.udp, 65_536);
    let rss_before = probe.rss_kib();

    // Each asks for every row and reads nothing.
    let ask_all = br#"{"version":1,"query":"ports","top":131072}"#;
    let mut slow = Vec::new();
    for _ in 0..SLOW_CLIENTS {
        let mut c = Client::connect(probe.socket(), Duration::from_secs(5)).expect("connecting");
        c.send_frame(ask_all).expect("asking");
        slow.push(c);
    }
    // Throughout, stats answers within a second and memory stays within the bound.
    let mut rss_peak = rss_before;
    let mut slowest = Duration::ZERO;
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        let start = Instant::now();
        let out = Command::new("timeout")
            .arg("5")
            .arg(probe_integration::probe_bin())
            .args(["query", "stats", "--json", "--socket"])
            .arg(probe.socket())
            .output()
            .expect("running probe query");
        assert!(out.status.success(), "stats failed: {out:?}");
        slowest = slowest.max(start.elapsed());
        rss_peak = rss_peak.max(probe.rss_kib());
        thread::sleep(Duration::from_millis(100));
    }
    assert!(slowest < Duration::from_secs(1), "stats took {slowest:?}");
    let limit = RSS_LIMIT_KIB
        + probe_integration::bpf::mapped_sources_kib(probe_common::track::DEFAULT_SOURCES);
    assert!(
        rss_peak < limit,
        "resident memory reached {rss_peak} KiB (from {rss_before} KiB) with {SLOW_CLIENTS} clients not reading, over {limit} KiB"
    );
    // One more client asking for everything is told the daemon is busy, not made to wait.
    let mut late = Client::connect(probe.socket(), Duration::from_secs(5)).expect("connecting");
    let reply = late.ask(&serde_json::json!({"version": 1, "query": "ports", "top": 131_072}));
    assert_eq!(
        probe_integration::error_code(&reply),
        Some("busy"),
        "{}",
        &reply.to_string()[..200.min(reply.to_string().len())]
    );
    drop(slow);
}
