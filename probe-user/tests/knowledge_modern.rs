//! The modern table: the ports most probed on today's Internet (issue #13), checked against the
//! probe's knowledge.
//!
//! The rows below were written from the list of ports and the level each deserves, not
//! copied from the data file: a missing or wrong entry makes a row fail, and the reverse check
//! keeps every entry of the table covered by a row.

use std::collections::BTreeSet;

use probe_user::knowledge::{
    Basis, Category, Direction, Knowledge, Level, Listed, Proto, Protos, Services,
};

/// Knowledge without the system's service names, so only the tables answer.
fn tables_only() -> Knowledge {
    Knowledge::new(Services::empty())
}

use Category as C;
use Level as L;
use Protos::{Both, Tcp, Udp};

/// One port of the list: protocol(s), name, category and level.
struct Row {
    port: u16,
    proto: Protos,
    name: &'static str,
    category: Category,
    level: Level,
}

const fn row(
    port: u16,
    proto: Protos,
    name: &'static str,
    category: Category,
    level: Level,
) -> Row {
    Row {
        port,
        proto,
        name,
        category,
        level,
    }
}

#[rustfmt::skip]
const PORTS: &[Row] = &[
    // Remote logins: exposed to the Internet, at least suspicious.
    row(22, Tcp, "SSH", C::RemoteAccess, L::Suspicious),
    row(23, Tcp, "Telnet", C::RemoteAccess, L::Suspicious),
    row(2323, Tcp, "Telnet (alternate)", C::RemoteAccess, L::Suspicious),
    row(3389, Tcp, "Remote Desktop (RDP)", C::RemoteAccess, L::Suspicious),
    row(5900, Tcp, "VNC", C::RemoteAccess, L::Suspicious),
    row(5985, Tcp, "WinRM (HTTP)", C::RemoteAccess, L::Suspicious),
    row(5986, Tcp, "WinRM (HTTPS)", C::RemoteAccess, L::Suspicious),
    row(1723, Tcp, "PPTP VPN", C::RemoteAccess, L::Suspicious),
    row(5555, Tcp, "Android Debug Bridge", C::RemoteAccess, L::Hostile),
    // The web: a connection alone is everyday traffic; the alternates are worth knowing.
    row(80, Tcp, "HTTP", C::Web, L::Benign),
    row(443, Tcp, "HTTPS", C::Web, L::Benign),
    row(81, Tcp, "HTTP on 81 (camera admin)", C::Web, L::Notable),
    row(8080, Tcp, "HTTP alternate", C::Web, L::Notable),
    row(8081, Tcp, "HTTP alternate (8081)", C::Web, L::Notable),
    row(8443, Tcp, "HTTPS alternate", C::Web, L::Notable),
    row(8888, Tcp, "HTTP alternate (8888)", C::Web, L::Notable),
    // File sharing.
    row(445, Tcp, "SMB over TCP", C::FileSharing, L::Suspicious),
    // Databases and caches: exposed to the Internet, at least suspicious.
    row(1433, Tcp, "Microsoft SQL Server", C::Database, L::Suspicious),
    row(1521, Tcp, "Oracle TNS listener", C::Database, L::Suspicious),
    row(3306, Tcp, "MySQL", C::Database, L::Suspicious),
    row(5432, Tcp, "PostgreSQL", C::Database, L::Suspicious),
    row(6379, Tcp, "Redis", C::Database, L::Suspicious),
    row(9200, Tcp, "Elasticsearch", C::Database, L::Suspicious),
    row(11211, Both, "memcached", C::Database, L::Suspicious),
    row(27017, Tcp, "MongoDB", C::Database, L::Suspicious),
    // Containers and orchestration.
    row(2375, Tcp, "Docker API (plain)", C::Management, L::Hostile),
    row(2376, Tcp, "Docker API (TLS)", C::Management, L::Suspicious),
    row(6443, Tcp, "Kubernetes API server", C::Management, L::Suspicious),
    row(10250, Tcp, "Kubernetes kubelet", C::Management, L::Suspicious),
    // Routers and their management.
    row(7547, Tcp, "TR-069 (CWMP)", C::Management, L::Suspicious),
    row(8291, Tcp, "MikroTik Winbox", C::Management, L::Suspicious),
    row(8728, Tcp, "MikroTik API", C::Management, L::Suspicious),
    row(1900, Udp, "SSDP (UPnP discovery)", C::Service, L::Notable),
    row(37215, Tcp, "Huawei HG532 exploit", C::Attack, L::Hostile),
    row(52869, Tcp, "Realtek UPnP exploit", C::Attack, L::Hostile),
    // A backdoor: a trojan_probe, not a port_meaning.
    row(4444, Tcp, "Metasploit / Blaster shell", C::Backdoor, L::Hostile),
    // Telephony.
    row(5060, Both, "SIP", C::Service, L::Suspicious),
    // Industrial control and IoT messaging.
    row(102, Tcp, "Siemens S7 (ISO-TSAP)", C::Industrial, L::Suspicious),
    row(502, Tcp, "Modbus/TCP", C::Industrial, L::Suspicious),
    row(20000, Both, "DNP3", C::Industrial, L::Suspicious),
    row(44818, Both, "EtherNet/IP (CIP)", C::Industrial, L::Suspicious),
    row(47808, Udp, "BACnet/IP", C::Industrial, L::Suspicious),
    row(1883, Tcp, "MQTT", C::Industrial, L::Suspicious),
    row(8883, Tcp, "MQTT over TLS", C::Industrial, L::Notable),
    row(5683, Udp, "CoAP", C::Industrial, L::Suspicious),
];

fn protos(p: Protos) -> &'static [Proto] {
    match p {
        Tcp => &[Proto::Tcp],
        Udp => &[Proto::Udp],
        Both => &[Proto::Tcp, Proto::Udp],
    }
}

/// Every port of the list answers from the modern table, as the row says, with text
/// and a source: none answers "nothing known".
#[test]
fn every_listed_port_answers_with_basis_modern() {
    let k = tables_only();
    let mut failures = Vec::new();
    for r in PORTS {
        for &proto in protos(r.proto) {
            let m = k.port(r.port, proto, Direction::Destination);
            let got = (m.name.as_str(), m.category, m.level, m.basis);
            let want = (r.name, r.category, r.level, Basis::Modern);
            if got != want {
                failures.push(format!("{}/{proto}: got {got:?}, want {want:?}", r.port));
            }
            if m.entry.map(|e| (e.lo, e.hi)) != Some((r.port, r.port)) {
                failures.push(format!("{}/{proto}: entry {:?}", r.port, m.entry));
            }
            if m.meaning.is_empty() || m.explanation.len() < 200 || m.meaning.len() > 110 {
                failures.push(format!("{}/{proto}: thin meaning or explanation", r.port));
            }
            if m.source.as_deref().is_none_or(str::is_empty) {
                failures.push(format!("{}/{proto}: no source", r.port));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The reverse check: every entry of the modern table has a row above, for the same protocols,
/// written for destinations.
#[test]
fn every_modern_entry_has_a_row() {
    let k = tables_only();
    let rows: BTreeSet<(u16, String)> = PORTS
        .iter()
        .map(|r| (r.port, format!("{:?}", r.proto)))
        .collect();
    let mut data = BTreeSet::new();
    for e in k.list() {
        let info = e.info();
        if info.basis != Basis::Modern {
            continue;
        }
        let Listed::Port(p) = e else {
            panic!("{}: the modern table holds ports only", e.key());
        };
        assert_eq!(p.ports.lo, p.ports.hi, "{}: one port per entry", e.key());
        assert_eq!(
            p.direction,
            probe_user::knowledge::Applies::Destination,
            "{}",
            e.key()
        );
        assert!(!info.meaning.is_empty(), "{}: no meaning", e.key());
        assert!(!info.explanation.is_empty(), "{}: no explanation", e.key());
        assert!(
            info.source.as_deref().is_some_and(|s| !s.is_empty()),
            "{}: no source",
            e.key()
        );
        data.insert((p.ports.lo, format!("{:?}", p.proto)));
    }
    let untested: Vec<_> = data.difference(&rows).collect();
    let missing: Vec<_> = rows.difference(&data).collect();
    assert!(
        untested.is_empty(),
        "entries without a test row: {untested:?}"
    );
    assert!(missing.is_empty(), "rows without an entry: {missing:?}");
}

/// An answer's name, level and basis.
type Answer = (&'static str, Level, Basis);

/// Where the FAQ (2000) and today's reports both describe a port, both answers are kept: the
/// one detectors use first (the higher level; at the same level, today's), then the other.
#[test]
fn a_port_in_both_tables_has_both_answers() {
    let k = tables_only();
    #[rustfmt::skip]
    let both: &[(u16, [Answer; 2])] = &[
        // SSH: notable in 2000, suspicious now that bots guess passwords all day.
        (22, [("SSH", L::Suspicious, Basis::Modern), ("SSH", L::Notable, Basis::Faq)]),
        // Telnet: suspicious then and now; today's answer (Mirai) comes first.
        (23, [("Telnet", L::Suspicious, Basis::Modern), ("Telnet", L::Suspicious, Basis::Faq)]),
        (81, [("HTTP on 81 (camera admin)", L::Notable, Basis::Modern), ("HTTP (remapped)", L::Notable, Basis::Faq)]),
        (445, [("SMB over TCP", L::Suspicious, Basis::Modern), ("SMB over TCP", L::Suspicious, Basis::General)]),
        (8080, [("HTTP alternate", L::Notable, Basis::Modern), ("HTTP alternate / proxy", L::Notable, Basis::Faq)]),
        (8888, [("HTTP alternate (8888)", L::Notable, Basis::Modern), ("HTTP alternate / proxy", L::Notable, Basis::Faq)]),
    ];
    for (port, want) in both {
        let answers = k.port_answers(*port, Proto::Tcp, Direction::Destination);
        let got: Vec<(&str, Level, Basis)> = answers
            .iter()
            .map(|m| (m.name.as_str(), m.level, m.basis))
            .collect();
        assert_eq!(got, want, "{port}/tcp");
        // The first is what every other caller sees.
        assert_eq!(
            answers[0],
            k.port(*port, Proto::Tcp, Direction::Destination)
        );
        // Each cites its own ground: the FAQ's a section, today's its reports.
        assert!(answers[0].source.is_some() && answers[0].faq.is_none());
        assert!(answers[1].faq.is_some() && answers[1].source.is_none());
    }
    // A port only one table knows has one answer.
    assert_eq!(
        k.port_answers(3389, Proto::Tcp, Direction::Destination)
            .len(),
        1
    );
    assert_eq!(
        k.port_answers(31337, Proto::Tcp, Direction::Destination)
            .len(),
        1
    );
}

/// Modern entries are written for destinations; as a source they read as the FAQ's rules say:
/// a low port is the service answering, a high one a client's temporary port.
#[test]
fn modern_ports_as_sources_follow_the_source_rules() {
    let k = tables_only();
    let m = k.port(445, Proto::Tcp, Direction::Source);
    assert_eq!(
        (m.name.as_str(), m.level, m.basis),
        ("SMB over TCP", L::Benign, Basis::Modern)
    );
    assert!(m.meaning.starts_with("Sent from the SMB over TCP port"));
    // Both tables' replies are kept, as for destinations.
    let bases: Vec<Basis> = k
        .port_answers(445, Proto::Tcp, Direction::Source)
        .iter()
        .map(|m| m.basis)
        .collect();
    assert_eq!(bases, [Basis::Modern, Basis::General]);

    // The FAQ's 1024-5000 client-port entry answers, adding today's destination meaning.
    let m = k.port(3389, Proto::Tcp, Direction::Source);
    assert_eq!((m.name.as_str(), m.basis), ("Client port", Basis::Faq));
    assert!(
        m.explanation
            .contains("As a destination, 3389/tcp would be Remote Desktop (RDP):")
    );
}
