//! IPv6 extension headers (hop-by-hop, routing, destination options) are walked to reach the
//! transport header behind them, which counts normally.

use probe_integration::{Daemon, Lab, Stats, port_list, require_root};

#[test]
fn udp_behind_a_chain_of_extension_headers_counts_on_its_port() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    let lengths = lab.send_frames(
        "[eth()/IPv6(src=ATTACKER_V6, dst=SENSOR_V6)/IPv6ExtHdrHopByHop()/UDP(sport=33000, dport=4700), \
          eth()/IPv6(src=ATTACKER_V6, dst=SENSOR_V6)/IPv6ExtHdrHopByHop()/IPv6ExtHdrRouting()\
             /IPv6ExtHdrDestOpt()/UDP(sport=33000, dport=4701)]",
    );
    // Ethernet 14 + IPv6 40 + UDP 8 = 62, plus 8 bytes per (empty) extension header.
    assert_eq!(lengths, [70, 86]);

    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 2,
            bytes: 156,
            ipv6: 2,
            udp: 2,
            ..Stats::default()
        }
    );
    assert_eq!(
        port_list(&probe.query(&["ports"])),
        [("udp", 4700, 1), ("udp", 4701, 1)]
    );
}
