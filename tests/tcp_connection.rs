//! A complete TCP connection with no data, closed by the client, reaches the sensor as exactly
//! four segments from the client: SYN, ACK (handshake), FIN+ACK (close) and the ACK of the
//! server's FIN. Only the SYN is a connection attempt.

use std::time::Duration;

use probe_integration::{
    Daemon, Lab, PortRow, SENSOR_V4, Stats, flag_list, port_list, port_row, python, require_root,
};

const SERVER_PORT: u16 = 8080;
/// Fixed so the source-port counters can be asserted (dynamic range, RFC 6335).
const CLIENT_PORT: u16 = 50123;

#[test]
fn a_completed_connection_counts_one_attempt_and_four_segments() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // Accepts one connection, reads until the client's FIN, then closes its side.
    let server = format!(
        "import socket\n\
         s = socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('{SENSOR_V4}', {SERVER_PORT}))\n\
         s.listen(1)\n\
         print('ready', flush=True)\n\
         c, _ = s.accept()\n\
         assert c.recv(1) == b''\n\
         c.close()\n"
    );
    let mut server = lab.spawn_in_sensor(&[&python(), "-c", &server]);
    assert_eq!(server.read_line(), "ready");

    lab.python(&format!(
        "import socket\n\
         c = socket.socket()\n\
         c.bind(('0.0.0.0', {CLIENT_PORT}))\n\
         c.connect(('{SENSOR_V4}', {SERVER_PORT}))\n\
         c.close()\n"
    ));
    server.finish(Duration::from_secs(10));

    let stats = probe.settled_stats();
    // Linux adds options to the SYN (MSS, SACK-permitted, timestamps, window scale: 20 bytes)
    // and timestamps to every later segment (12 bytes): 74 + 3 * 66 bytes.
    assert_eq!(
        stats,
        Stats {
            packets: 4,
            bytes: 74 + 3 * 66,
            ipv4: 4,
            tcp: 4,
            ..Stats::default()
        }
    );

    let dst = probe.query(&["ports"]);
    assert_eq!(port_list(&dst), [("tcp", SERVER_PORT, 4)]);
    assert_eq!(
        port_row(&dst, SERVER_PORT, "tcp"),
        PortRow {
            packets: 4,
            syn: 1,
            class: "registered".into()
        }
    );
    assert_eq!(
        port_list(&probe.query(&["ports", "--source"])),
        [("tcp", CLIENT_PORT, 4)]
    );
    // SYN once; ACK twice (handshake, and the server's FIN); FIN+ACK once.
    assert_eq!(
        flag_list(&probe.query(&["flags"])),
        [(0x02, 1), (0x10, 2), (0x11, 1)]
    );
}
