//! Interface faults: the watched interface goes down and up, or is deleted and created again,
//! while the daemon runs. The daemon says what happened, keeps answering queries, resumes
//! counting when the interface is up again, and with `--follow` attaches to a re-created
//! interface of the same name and counts on top of the old counts; without it, it does not.

use std::time::Duration;

use probe_integration::{
    ATTACKER_V4, Daemon, Lab, ROUTED_V4, Stats, bpf,
    craft::{self, Ipv4, proto},
    port_list, require_root,
};

/// How long the daemon (reading the interface's state every 200 ms) may take to notice.
const NOTICE_LIMIT: Duration = Duration::from_secs(5);
const PORT: u16 = 7100;

/// A UDP datagram from the attacker to a routed address, port [`PORT`].
fn frame() -> Vec<u8> {
    let mut f = craft::ethernet(&[], craft::ETHER_IPV4);
    let ip = Ipv4::new(
        ATTACKER_V4.parse().expect("an address"),
        ROUTED_V4.parse().expect("an address"),
        proto::UDP,
    );
    f.extend_from_slice(&ip.packet(&craft::udp(40_000, PORT, b"fault")));
    f
}

/// Sends `n` frames on a fresh raw socket (one bound to the interface as it is now).
fn send(lab: &Lab, n: u64) {
    let raw = lab.raw_socket();
    for _ in 0..n {
        raw.send(&frame());
    }
}

/// What `n` of those frames add up to.
fn counted(n: u64) -> Stats {
    Stats {
        packets: n,
        bytes: n * frame().len() as u64,
        ipv4: n,
        udp: n,
        ..Stats::default()
    }
}

#[test]
fn down_and_up_is_logged_queries_keep_answering_and_counting_resumes() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);
    send(&lab, 5);
    assert_eq!(probe.settled_stats(), counted(5));

    lab.set_sensor_up(false);
    let iface = lab.sensor_if();
    probe.wait_for_log(
        &format!("{iface} is down: no traffic to count until it is up; still serving queries"),
        NOTICE_LIMIT,
    );
    assert_eq!(probe.stats(), counted(5), "queries answer while it is down");

    lab.set_sensor_up(true);
    probe.wait_for_log(&format!("{iface} is up again"), NOTICE_LIMIT);
    assert!(
        lab.xdp_program().is_some(),
        "the program stays attached across down and up"
    );
    send(&lab, 7);
    assert_eq!(probe.settled_stats(), counted(12));
    assert_eq!(port_list(&probe.query(&["ports"])), [("udp", PORT, 12)]);
}

#[test]
fn a_deleted_interface_is_logged_and_queries_keep_answering_but_without_follow_a_new_one_is_not_watched()
 {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);
    send(&lab, 5);
    assert_eq!(probe.settled_stats(), counted(5));

    lab.delete_link();
    let iface = lab.sensor_if();
    probe.wait_for_log(
        &format!(
            "{iface} was deleted: the probe is detached from it; still serving queries; nothing more will be counted"
        ),
        NOTICE_LIMIT,
    );
    assert_eq!(
        probe.stats(),
        counted(5),
        "queries answer after the deletion"
    );

    lab.recreate_link();
    probe.wait_for_log(
        &format!(
            "{iface} is back (a new interface with the same name); the probe is not attached to it without --follow"
        ),
        NOTICE_LIMIT,
    );
    assert_eq!(
        lab.xdp_program(),
        None,
        "without --follow nothing attaches to the new interface"
    );
    send(&lab, 4);
    assert_eq!(
        probe.settled_stats(),
        counted(5),
        "the new interface's traffic is not counted"
    );
    assert!(!probe.log().contains("attached again"), "{}", probe.log());
    // Dropping the daemon asserts it still stops cleanly (exit 0, socket removed).
}

#[test]
fn with_follow_a_recreated_interface_is_attached_again_and_counts_add_to_the_old_ones() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start_with(&lab, &["--follow"]);
    send(&lab, 5);
    assert_eq!(probe.settled_stats(), counted(5));

    lab.delete_link();
    let iface = lab.sensor_if();
    probe.wait_for_log(
        &format!(
            "{iface} was deleted: the probe is detached from it; still serving queries; waiting for it to come back (--follow)"
        ),
        NOTICE_LIMIT,
    );
    assert_eq!(probe.stats(), counted(5), "queries answer while it is gone");

    lab.recreate_link();
    probe.wait_for_log(
        &format!(
            "{iface} is back: attached again (native XDP); counting continues in the same maps"
        ),
        NOTICE_LIMIT,
    );
    let program = lab
        .xdp_program()
        .expect("--follow attaches to the new interface");
    assert_eq!(
        program,
        bpf::link_program(&lab.pins().join("link")),
        "the new attachment is pinned in place of the old one"
    );
    send(&lab, 6);
    assert_eq!(probe.settled_stats(), counted(11));
    assert_eq!(port_list(&probe.query(&["ports"])), [("udp", PORT, 11)]);
}
