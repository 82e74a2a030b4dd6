//! Every fact of the Firewall Forensics FAQ, checked against the probe's knowledge.
//!
//! The tables below were written by reading the FAQ (and, for sections whose text is missing,
//! the networking knowledge they are built from), not by copying the data file: a wrong or
//! missing entry in the data makes a row fail. The reverse check, that every entry of the FAQ's
//! table has a row here, keeps this list complete as the data grows.
//!
//! A port the modern table describes too (22, 23, 81, 445, 8080, 8888) has two answers; the
//! rows here check the FAQ's, and `knowledge_modern.rs` checks which of the two detectors use.

use std::{collections::BTreeSet, io::Write as _, net::IpAddr};

use probe_user::knowledge::{
    Basis, Category, Direction, IcmpFamily, Knowledge, Level, Listed, PortMatch, Proto, Protos,
    RangeClass, Services,
};

/// Knowledge without the system's service names, so only the tables answer.
fn tables_only() -> Knowledge {
    Knowledge::new(Services::empty())
}

/// The FAQ table's answer for a port, whichever answer detectors use.
fn faq_answer(k: &Knowledge, port: u16, proto: Proto, dir: Direction) -> Option<PortMatch> {
    k.port_answers(port, proto, dir)
        .into_iter()
        .find(|m| matches!(m.basis, Basis::Faq | Basis::General))
}

#[derive(Clone, Copy, Debug)]
enum P {
    T,
    U,
    B,
}

#[derive(Clone, Copy, Debug)]
enum D {
    Dst,
    Src,
    Either,
}

#[derive(Clone, Copy, Debug)]
enum F {
    /// From the FAQ's surviving text.
    Faq,
    /// From general knowledge (section missing, or beyond the FAQ's table).
    Gen,
}

use Category as C;
use Level as L;

/// One FAQ fact about a port or range: which ports to try (ends and a middle for ranges), the
/// protocols and directions it holds for, and the exact answer expected.
struct Row {
    span: &'static str,
    probes: &'static [u16],
    proto: P,
    dir: D,
    name: &'static str,
    category: Category,
    level: Level,
    basis: F,
}

#[allow(clippy::too_many_arguments)]
const fn row(
    span: &'static str,
    probes: &'static [u16],
    proto: P,
    dir: D,
    name: &'static str,
    category: Category,
    level: Level,
    basis: F,
) -> Row {
    Row {
        span,
        probes,
        proto,
        dir,
        name,
        category,
        level,
        basis,
    }
}

use D::{Dst, Either, Src};
use F::{Faq, Gen};
use P::{B, T, U};

#[rustfmt::skip]
const PORTS: &[Row] = &[
    // FAQ 1.1: common incoming probes.
    row("0", &[0], B, Dst, "Port 0 (OS fingerprinting)", C::Scan, L::Suspicious, Faq),
    row("1", &[1], T, Dst, "tcpmux", C::Service, L::Suspicious, Faq),
    row("7", &[7], B, Dst, "Echo", C::Service, L::Notable, Faq),
    row("11", &[11], T, Dst, "systat", C::Service, L::Suspicious, Faq),
    row("19", &[19], B, Dst, "chargen", C::Service, L::Suspicious, Faq),
    row("21", &[21], T, Dst, "FTP", C::FileSharing, L::Notable, Faq),
    row("22", &[22], T, Dst, "SSH", C::RemoteAccess, L::Notable, Faq),
    row("22", &[22], U, Dst, "pcAnywhere scan (22/udp)", C::Scan, L::Notable, Faq),
    row("23", &[23], T, Dst, "Telnet", C::RemoteAccess, L::Suspicious, Faq),
    row("25", &[25], T, Dst, "SMTP", C::Mail, L::Notable, Faq),
    row("53", &[53], U, Dst, "DNS", C::Service, L::Benign, Faq),
    row("53", &[53], T, Dst, "DNS (TCP, zone transfer)", C::Service, L::Notable, Faq),
    row("67", &[67], U, Dst, "DHCP/BOOTP server", C::Service, L::Benign, Faq),
    row("68", &[68], U, Dst, "DHCP/BOOTP client", C::Service, L::Benign, Faq),
    row("69", &[69], U, Dst, "TFTP", C::FileSharing, L::Suspicious, Faq),
    row("79", &[79], T, Dst, "finger", C::Service, L::Suspicious, Faq),
    row("98", &[98], T, Dst, "linuxconf", C::Management, L::Suspicious, Faq),
    row("109", &[109], T, Dst, "POP2", C::Mail, L::Notable, Faq),
    row("110", &[110], T, Dst, "POP3", C::Mail, L::Notable, Faq),
    row("111", &[111], B, Dst, "Sun RPC portmapper", C::Rpc, L::Suspicious, Faq),
    row("113", &[113], T, Dst, "ident (auth)", C::Service, L::Benign, Faq),
    row("119", &[119], T, Dst, "NNTP", C::Service, L::Notable, Faq),
    row("135", &[135], B, Dst, "MS RPC endpoint mapper", C::Rpc, L::Suspicious, Faq),
    row("137", &[137], U, Either, "NetBIOS name service", C::FileSharing, L::Benign, Faq),
    row("139", &[139], T, Dst, "NetBIOS session (SMB)", C::FileSharing, L::Suspicious, Faq),
    row("143", &[143], T, Dst, "IMAP", C::Mail, L::Suspicious, Faq),
    row("161", &[161], U, Dst, "SNMP", C::Management, L::Suspicious, Faq),
    row("162", &[162], U, Dst, "SNMP trap", C::Management, L::Notable, Faq),
    row("177", &[177], U, Dst, "XDMCP", C::RemoteAccess, L::Suspicious, Faq),
    row("513", &[513], U, Dst, "rwho", C::Service, L::Notable, Faq),
    row("553", &[553], U, Dst, "CORBA IIOP", C::Rpc, L::Notable, Faq),
    row("600", &[600], T, Dst, "pcserver backdoor", C::Backdoor, L::Hostile, Faq),
    row("635", &[635], B, Dst, "mountd", C::Rpc, L::Suspicious, Faq),
    row("1024-1027", &[1024, 1025, 1026, 1027], B, Dst, "First dynamic ports", C::Dynamic, L::Benign, Faq),
    row("1080", &[1080], T, Dst, "SOCKS proxy", C::Proxy, L::Suspicious, Faq),
    row("1114", &[1114], T, Dst, "mSQL (sscan)", C::Service, L::Suspicious, Faq),
    row("1243", &[1243], T, Dst, "SubSeven", C::Trojan, L::Hostile, Faq),
    row("1524", &[1524], T, Dst, "ingreslock backdoor", C::Backdoor, L::Hostile, Faq),
    row("2049", &[2049], B, Dst, "NFS", C::FileSharing, L::Suspicious, Faq),
    row("3128", &[3128], T, Dst, "Squid proxy", C::Proxy, L::Suspicious, Faq),
    row("5632", &[5632], U, Dst, "pcAnywhere", C::RemoteAccess, L::Notable, Faq),
    row("6000", &[6000], T, Dst, "X11", C::RemoteAccess, L::Suspicious, Faq),
    row("6776", &[6776], T, Dst, "SubSeven data port", C::Trojan, L::Hostile, Faq),
    row("6970-7170", &[6970, 7000, 7170], U, Dst, "RealAudio", C::Streaming, L::Benign, Faq),
    row("7070", &[7070], T, Dst, "RealAudio control", C::Streaming, L::Benign, Faq),
    row("13223", &[13223], T, Dst, "PowWow", C::Chat, L::Benign, Faq),
    row("17027", &[17027], T, Dst, "Conducent adbot", C::Adware, L::Notable, Faq),
    row("27374", &[27374], T, Dst, "SubSeven", C::Trojan, L::Hostile, Faq),
    row("30100", &[30100], T, Dst, "NetSphere", C::Trojan, L::Hostile, Faq),
    row("31337", &[31337], B, Dst, "Back Orifice", C::Trojan, L::Hostile, Faq),
    row("31789", &[31789], U, Dst, "Hack'a'Tack", C::Trojan, L::Hostile, Faq),
    row("32770-32900", &[32770, 32800, 32900], B, Dst, "Sun RPC (high ports)", C::Rpc, L::Suspicious, Faq),
    row("33434-33600", &[33434, 33500, 33600], U, Dst, "traceroute", C::Diagnostic, L::Benign, Faq),
    row("41508", &[41508], U, Dst, "Inoculan", C::Management, L::Notable, Faq),
    // FAQ 1.4: the trojan table (no protocol given, so both).
    row("555", &[555], B, Dst, "phAse zero", C::Trojan, L::Hostile, Faq),
    row("3129", &[3129], B, Dst, "Masters Paradise", C::Trojan, L::Hostile, Faq),
    row("6670", &[6670], B, Dst, "DeepThroat", C::Trojan, L::Hostile, Faq),
    row("6711", &[6711], B, Dst, "SubSeven", C::Trojan, L::Hostile, Faq),
    row("6969", &[6969], B, Dst, "GateCrasher", C::Trojan, L::Hostile, Faq),
    row("12345", &[12345], B, Dst, "NetBus", C::Trojan, L::Hostile, Faq),
    row("21544", &[21544], B, Dst, "GirlFriend", C::Trojan, L::Hostile, Faq),
    row("23456", &[23456], B, Dst, "EvilFtp", C::Trojan, L::Hostile, Faq),
    row("50505", &[50505], B, Dst, "Sockets de Troie", C::Trojan, L::Hostile, Faq),
    // FAQ 1.10: chat, games (UDP), and which side matters.
    row("4000", &[4000], U, Either, "ICQ", C::Chat, L::Benign, Faq),
    row("7777", &[7777], U, Dst, "Unreal", C::Game, L::Benign, Faq),
    row("7777", &[7777], U, Src, "Unreal server", C::Game, L::Benign, Faq),
    row("7778", &[7778], U, Dst, "Unreal Tournament", C::Game, L::Benign, Faq),
    row("7778", &[7778], U, Src, "Unreal Tournament server", C::Game, L::Benign, Faq),
    row("22450", &[22450], U, Dst, "Sin", C::Game, L::Benign, Faq),
    row("22450", &[22450], U, Src, "Sin server", C::Game, L::Benign, Faq),
    row("26000", &[26000], U, Dst, "Quake", C::Game, L::Benign, Faq),
    row("26000", &[26000], U, Src, "Quake server", C::Game, L::Benign, Faq),
    row("26900", &[26900], U, Dst, "Hexen 2", C::Game, L::Benign, Faq),
    row("26900", &[26900], U, Src, "Hexen 2 server", C::Game, L::Benign, Faq),
    row("26950", &[26950], U, Dst, "HexenWorld", C::Game, L::Benign, Faq),
    row("26950", &[26950], U, Src, "HexenWorld server", C::Game, L::Benign, Faq),
    row("27015", &[27015], U, Dst, "Half-Life", C::Game, L::Benign, Faq),
    row("27015", &[27015], U, Src, "Half-Life server", C::Game, L::Benign, Faq),
    row("27500", &[27500], U, Dst, "QuakeWorld", C::Game, L::Benign, Faq),
    row("27500", &[27500], U, Src, "QuakeWorld server", C::Game, L::Benign, Faq),
    row("27910", &[27910], U, Dst, "Quake 2", C::Game, L::Benign, Faq),
    row("27910", &[27910], U, Src, "Quake 2 server", C::Game, L::Benign, Faq),
    row("28000-28008", &[28000, 28004, 28008], U, Dst, "Starsiege TRIBES", C::Game, L::Benign, Faq),
    row("28000-28008", &[28000, 28004, 28008], U, Src, "Starsiege TRIBES server", C::Game, L::Benign, Faq),
    row("28910", &[28910], U, Dst, "Heretic 2", C::Game, L::Benign, Faq),
    row("28910", &[28910], U, Src, "Heretic 2 server", C::Game, L::Benign, Faq),
    // FAQ 1.12: remapped ports.
    row("81", &[81], T, Dst, "HTTP (remapped)", C::Remap, L::Notable, Faq),
    row("88", &[88], T, Dst, "HTTP (remapped)", C::Remap, L::Notable, Faq),
    row("1100", &[1100], T, Dst, "POP3 (remapped)", C::Remap, L::Notable, Faq),
    row("8000", &[8000], T, Dst, "HTTP alternate / proxy", C::Proxy, L::Notable, Faq),
    row("8001", &[8001], T, Dst, "HTTP proxy", C::Proxy, L::Suspicious, Faq),
    row("8080", &[8080], T, Dst, "HTTP alternate / proxy", C::Proxy, L::Notable, Faq),
    row("8888", &[8888], T, Dst, "HTTP alternate / proxy", C::Proxy, L::Notable, Faq),
    row("34567", &[34567], B, Dst, "Pattern port 34567", C::Remap, L::Notable, Faq),
    row("42", &[42], B, Dst, "Pattern port 42", C::Remap, L::Notable, Faq),
    row("666", &[666], B, Dst, "Pattern port 666", C::Remap, L::Notable, Faq),
    // FAQ 10 (text missing): NetBIOS, from general knowledge.
    row("138", &[138], U, Either, "NetBIOS datagram service", C::FileSharing, L::Benign, Gen),
    row("445", &[445], T, Dst, "SMB over TCP", C::FileSharing, L::Suspicious, Gen),
    // FAQ 1.2 (and 1.1 where it speaks of senders): source ports.
    row("0", &[0], B, Src, "Source port 0", C::Attack, L::Suspicious, Faq),
    row("1-5", &[1, 3, 5], T, Src, "sscan", C::Scan, L::Suspicious, Faq),
    row("7", &[7], U, Src, "Echo reply", C::Attack, L::Suspicious, Faq),
    row("19", &[19], U, Src, "chargen output", C::Attack, L::Suspicious, Faq),
    row("20", &[20], T, Src, "FTP data", C::FileSharing, L::Benign, Faq),
    row("53", &[53], B, Src, "DNS response", C::Service, L::Notable, Faq),
    row("123", &[123], U, Either, "NTP", C::Service, L::Benign, Faq),
    row("3130", &[3130], U, Src, "Squid/Harvest cache echo", C::Proxy, L::Benign, Faq),
    row("31790", &[31790], U, Src, "Hack'a'Tack scanner", C::Trojan, L::Hostile, Faq),
    row("27910-27961", &[27911, 27940, 27961], U, Either, "Quake-engine games", C::Game, L::Benign, Faq),
    row("1024-5000", &[1024, 2500, 5000], B, Src, "Client port", C::Dynamic, L::Benign, Faq),
    row("61000-65535", &[61000, 63000, 65535], B, Src, "Linux IP Masquerade", C::Dynamic, L::Benign, Faq),
];

fn protos(p: P) -> &'static [Proto] {
    match p {
        P::T => &[Proto::Tcp],
        P::U => &[Proto::Udp],
        P::B => &[Proto::Tcp, Proto::Udp],
    }
}

fn directions(d: D) -> &'static [Direction] {
    match d {
        D::Dst => &[Direction::Destination],
        D::Src => &[Direction::Source],
        D::Either => &[Direction::Destination, Direction::Source],
    }
}

#[test]
fn every_faq_port_answers_exactly() {
    let k = tables_only();
    let mut failures = Vec::new();
    for r in PORTS {
        for &port in r.probes {
            for &proto in protos(r.proto) {
                for &dir in directions(r.dir) {
                    let Some(m) = faq_answer(&k, port, proto, dir) else {
                        failures.push(format!("{port}/{proto} {dir:?}: no answer from the FAQ"));
                        continue;
                    };
                    let want_basis = match r.basis {
                        F::Faq => Basis::Faq,
                        F::Gen => Basis::General,
                    };
                    let got = (m.name.as_str(), m.category, m.level, m.basis);
                    let want = (r.name, r.category, r.level, want_basis);
                    if got != want {
                        failures.push(format!(
                            "{port}/{proto} {dir:?}: got {got:?}, want {want:?}"
                        ));
                    }
                    if m.entry.map(|e| e.to_string()).as_deref() != Some(r.span) {
                        failures.push(format!(
                            "{port}/{proto} {dir:?}: entry {:?}, want {}",
                            m.entry, r.span
                        ));
                    }
                    if m.faq.is_none() || m.meaning.is_empty() || m.explanation.is_empty() {
                        failures.push(format!(
                            "{port}/{proto} {dir:?}: empty faq/meaning/explanation"
                        ));
                    }
                }
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

fn row_key(span: &str, proto: P, dir: D) -> String {
    let p = match proto {
        P::T => "tcp",
        P::U => "udp",
        P::B => "tcp+udp",
    };
    let d = match dir {
        D::Dst => "destination",
        D::Src => "source",
        D::Either => "either",
    };
    format!("{span}/{p} {d}")
}

/// The reverse check: every port entry of the FAQ's table has a row above. (The modern table's
/// are checked in `knowledge_modern.rs`.)
#[test]
fn every_faq_port_entry_has_a_row() {
    let k = tables_only();
    let rows: BTreeSet<String> = PORTS
        .iter()
        .map(|r| row_key(r.span, r.proto, r.dir))
        .collect();
    let mut data = BTreeSet::new();
    for e in k.list() {
        if let Listed::Port(p) = e
            && matches!(p.info.basis, Basis::Faq | Basis::General)
        {
            let proto = match p.proto {
                Protos::Tcp => P::T,
                Protos::Udp => P::U,
                Protos::Both => P::B,
            };
            let dir = match p.direction {
                probe_user::knowledge::Applies::Destination => D::Dst,
                probe_user::knowledge::Applies::Source => D::Src,
                probe_user::knowledge::Applies::Either => D::Either,
            };
            data.insert(row_key(&p.ports.to_string(), proto, dir));
        }
    }
    let untested: Vec<_> = data.difference(&rows).collect();
    let missing: Vec<_> = rows.difference(&data).collect();
    assert!(
        untested.is_empty(),
        "entries without a test row: {untested:?}"
    );
    assert!(missing.is_empty(), "rows without an entry: {missing:?}");
}

struct IcmpRow {
    family: IcmpFamily,
    ty: u8,
    code: Option<u8>,
    name: &'static str,
    category: Category,
    level: Level,
    basis: F,
}

const fn icmp(
    family: IcmpFamily,
    ty: u8,
    code: Option<u8>,
    name: &'static str,
    category: Category,
    level: Level,
    basis: F,
) -> IcmpRow {
    IcmpRow {
        family,
        ty,
        code,
        name,
        category,
        level,
        basis,
    }
}

const V4: IcmpFamily = IcmpFamily::V4;
const V6: IcmpFamily = IcmpFamily::V6;

#[rustfmt::skip]
const ICMP: &[IcmpRow] = &[
    // FAQ 2: the summary table, every row.
    icmp(V4, 0, None, "Echo Reply", C::Diagnostic, L::Benign, Faq),
    icmp(V4, 3, None, "Destination Unreachable", C::Error, L::Benign, Faq),
    icmp(V4, 3, Some(0), "Net Unreachable", C::Error, L::Benign, Faq),
    icmp(V4, 3, Some(1), "Host Unreachable", C::Error, L::Benign, Faq),
    icmp(V4, 3, Some(3), "Port Unreachable", C::Error, L::Benign, Faq),
    icmp(V4, 3, Some(4), "Fragmentation Needed", C::Error, L::Notable, Faq),
    icmp(V4, 4, None, "Source Quench", C::Error, L::Notable, Faq),
    icmp(V4, 5, None, "Redirect", C::Routing, L::Suspicious, Faq),
    icmp(V4, 8, None, "Echo Request", C::Diagnostic, L::Benign, Faq),
    icmp(V4, 9, None, "Router Advertisement", C::Routing, L::Suspicious, Faq),
    icmp(V4, 11, None, "Time Exceeded", C::Error, L::Benign, Faq),
    icmp(V4, 11, Some(0), "TTL Exceeded", C::Diagnostic, L::Benign, Faq),
    icmp(V4, 11, Some(1), "Fragment Reassembly Timeout", C::Error, L::Notable, Faq),
    icmp(V4, 12, None, "Parameter Problem", C::Error, L::Suspicious, Faq),
    // Beyond the FAQ's table (RFC 792, 950, 1256, 1812).
    icmp(V4, 3, Some(2), "Protocol Unreachable", C::Error, L::Notable, Gen),
    icmp(V4, 3, Some(5), "Source Route Failed", C::Error, L::Notable, Gen),
    icmp(V4, 3, Some(13), "Communication Administratively Prohibited", C::Error, L::Benign, Gen),
    icmp(V4, 10, None, "Router Solicitation", C::Routing, L::Notable, Gen),
    icmp(V4, 13, None, "Timestamp Request", C::Diagnostic, L::Notable, Gen),
    icmp(V4, 14, None, "Timestamp Reply", C::Diagnostic, L::Notable, Gen),
    icmp(V4, 17, None, "Address Mask Request", C::Diagnostic, L::Notable, Gen),
    icmp(V4, 18, None, "Address Mask Reply", C::Diagnostic, L::Notable, Gen),
    // ICMPv6 counterparts (RFC 4443, 4861).
    icmp(V6, 1, None, "Destination Unreachable", C::Error, L::Benign, Gen),
    icmp(V6, 1, Some(0), "No Route to Destination", C::Error, L::Benign, Gen),
    icmp(V6, 1, Some(1), "Administratively Prohibited", C::Error, L::Benign, Gen),
    icmp(V6, 1, Some(3), "Address Unreachable", C::Error, L::Benign, Gen),
    icmp(V6, 1, Some(4), "Port Unreachable", C::Error, L::Benign, Gen),
    icmp(V6, 2, None, "Packet Too Big", C::Error, L::Notable, Gen),
    icmp(V6, 3, None, "Time Exceeded", C::Error, L::Benign, Gen),
    icmp(V6, 3, Some(0), "Hop Limit Exceeded", C::Diagnostic, L::Benign, Gen),
    icmp(V6, 3, Some(1), "Fragment Reassembly Timeout", C::Error, L::Notable, Gen),
    icmp(V6, 4, None, "Parameter Problem", C::Error, L::Suspicious, Gen),
    icmp(V6, 128, None, "Echo Request", C::Diagnostic, L::Benign, Gen),
    icmp(V6, 130, None, "Multicast Listener Query", C::Routing, L::Benign, Gen),
    icmp(V6, 131, None, "Multicast Listener Report", C::Routing, L::Benign, Gen),
    icmp(V6, 132, None, "Multicast Listener Done", C::Routing, L::Benign, Gen),
    icmp(V6, 143, None, "Multicast Listener Report v2", C::Routing, L::Benign, Gen),
    icmp(V6, 129, None, "Echo Reply", C::Diagnostic, L::Benign, Gen),
    icmp(V6, 133, None, "Router Solicitation", C::Routing, L::Benign, Gen),
    icmp(V6, 134, None, "Router Advertisement", C::Routing, L::Notable, Gen),
    icmp(V6, 135, None, "Neighbor Solicitation", C::Routing, L::Benign, Gen),
    icmp(V6, 136, None, "Neighbor Advertisement", C::Routing, L::Benign, Gen),
    icmp(V6, 137, None, "Redirect", C::Routing, L::Suspicious, Gen),
];

#[test]
fn every_icmp_type_and_code_answers_exactly() {
    let k = tables_only();
    let mut failures = Vec::new();
    for r in ICMP {
        let m = match r.code {
            Some(c) => k.icmp(r.family, r.ty, c),
            None => k.icmp_type(r.family, r.ty),
        };
        let want_basis = match r.basis {
            F::Faq => Basis::Faq,
            F::Gen => Basis::General,
        };
        let got = (m.name.as_str(), m.category, m.level, m.basis, m.exact);
        let want = (r.name, r.category, r.level, want_basis, true);
        if got != want {
            failures.push(format!(
                "{:?} {} {:?}: got {got:?}, want {want:?}",
                r.family, r.ty, r.code
            ));
        }
        if m.faq.as_deref().is_none_or(|f| !f.starts_with('2')) {
            failures.push(format!(
                "{:?} {} {:?}: faq {:?}",
                r.family, r.ty, r.code, m.faq
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let entries = k
        .list()
        .iter()
        .filter(|e| matches!(e, Listed::Icmp(_)))
        .count();
    assert_eq!(entries, ICMP.len(), "every ICMP entry has a row");
}

#[test]
fn icmp_codes_without_their_own_entry_fall_back_to_the_type() {
    let k = tables_only();
    let m = k.icmp(V4, 3, 7);
    assert_eq!(m.name, "Destination Unreachable");
    assert!(!m.exact);
    assert_eq!(m.code, Some(7));
    assert!(
        m.explanation
            .ends_with("Code 7 has no entry of its own; this is what type 3 means as a whole.")
    );
    let m = k.icmp(V4, 5, 1);
    assert_eq!((m.name.as_str(), m.level), ("Redirect", L::Suspicious));
}

#[test]
fn unknown_icmp_types_still_answer() {
    let k = tables_only();
    let m = k.icmp(V4, 42, 0);
    assert_eq!(m.name, "ICMP type 42");
    assert_eq!(
        (m.category, m.level, m.basis, m.exact),
        (C::Unknown, L::Notable, Basis::Unknown, false)
    );
    let m = k.icmp_type(V6, 200);
    assert_eq!(m.name, "ICMPv6 type 200");
    assert!(!m.meaning.is_empty() && !m.explanation.is_empty());
}

/// Range classes (FAQ 1) and where practice differs.
#[test]
fn ports_nothing_names_get_their_range_class() {
    let k = tables_only();
    #[rustfmt::skip]
    let cases: &[(u16, Proto, Direction, &str, Category, Level, RangeClass)] = &[
        (500, Proto::Tcp, Direction::Destination, "Unassigned well-known port", C::Unknown, L::Notable, RangeClass::WellKnown),
        (4446, Proto::Tcp, Direction::Destination, "Registered port", C::Unknown, L::Benign, RangeClass::Registered),
        (40000, Proto::Udp, Direction::Destination, "Registered port", C::Unknown, L::Benign, RangeClass::Registered),
        (50000, Proto::Tcp, Direction::Destination, "Dynamic port", C::Dynamic, L::Benign, RangeClass::Dynamic),
        (500, Proto::Udp, Direction::Source, "Reserved source port", C::Unknown, L::Notable, RangeClass::WellKnown),
        (40000, Proto::Tcp, Direction::Source, "Client port", C::Dynamic, L::Benign, RangeClass::Registered),
        (50000, Proto::Udp, Direction::Source, "Client port", C::Dynamic, L::Benign, RangeClass::Dynamic),
    ];
    for &(port, proto, dir, name, category, level, class) in cases {
        let m = k.port(port, proto, dir);
        assert_eq!(
            (
                m.name.as_str(),
                m.category,
                m.level,
                m.class,
                m.basis,
                m.entry
            ),
            (name, category, level, class, Basis::Range, None),
            "{port}/{proto} {dir:?}"
        );
    }
    assert_eq!(
        k.port(4446, Proto::Tcp, Direction::Destination).caveats,
        ["In practice systems start giving out temporary client ports at 1024, not 49152."]
    );
    assert_eq!(
        k.port(40000, Proto::Tcp, Direction::Destination).caveats,
        [
            "In practice systems start giving out temporary client ports at 1024, not 49152.",
            "Sun systems place their RPC services from 32768 upward, inside what looks like client space.",
        ]
    );
    assert_eq!(
        k.port(62000, Proto::Tcp, Direction::Destination).caveats,
        [
            "Sun systems place their RPC services from 32768 upward, inside what looks like client space.",
            "Linux IP Masquerade (NAT) rewrites outgoing connections to source ports from 61000 up.",
        ]
    );
    // Entries that name the port carry no range caveats.
    assert!(
        k.port(31337, Proto::Tcp, Direction::Destination)
            .caveats
            .is_empty()
    );
}

/// The same port means different things as a source and as a destination.
#[test]
fn direction_changes_the_meaning() {
    let k = tables_only();
    let dst = k.port(27015, Proto::Udp, Direction::Destination);
    let src = k.port(27015, Proto::Udp, Direction::Source);
    assert_eq!(dst.name, "Half-Life");
    assert_eq!(src.name, "Half-Life server");
    assert_eq!(src.faq.as_deref(), Some("1.10"));
    assert_ne!(dst.meaning, src.meaning);

    assert_eq!(k.port(53, Proto::Udp, Direction::Destination).name, "DNS");
    assert_eq!(
        k.port(53, Proto::Udp, Direction::Source).name,
        "DNS response"
    );
    assert_eq!(k.port(1, Proto::Tcp, Direction::Destination).name, "tcpmux");
    assert_eq!(k.port(1, Proto::Tcp, Direction::Source).name, "sscan");
    assert_eq!(
        k.port(62000, Proto::Tcp, Direction::Source).name,
        "Linux IP Masquerade"
    );
    assert_eq!(
        k.port(62000, Proto::Tcp, Direction::Destination).name,
        "Dynamic port"
    );

    // A high source port with only a destination meaning is a client's temporary port.
    let m = k.port(31337, Proto::Tcp, Direction::Source);
    assert_eq!(
        (m.name.as_str(), m.category, m.level),
        ("Client port", C::Dynamic, L::Benign)
    );
    // Back Orifice's meaning starts with its name, which is not said twice.
    assert!(
        m.explanation.contains(
            "As a destination, 31337/tcp would be Back Orifice's port, and \"elite\" in hacker \
             spelling; a scan for backdoored machines. A client's temporary port"
        ),
        "{}",
        m.explanation
    );

    // A low source port with a destination entry is the service answering; a backdoor
    // answering keeps its level.
    let m = k.port(110, Proto::Tcp, Direction::Source);
    assert_eq!(
        (m.name.as_str(), m.category, m.level),
        ("POP3", C::Mail, L::Benign)
    );
    assert!(m.meaning.starts_with("Sent from the POP3 port"));
    let m = k.port(555, Proto::Udp, Direction::Source);
    assert_eq!(
        (m.name.as_str(), m.category, m.level),
        ("phAse zero", C::Trojan, L::Hostile)
    );
}

/// Ports beyond the tables fall back to the system's service names, then to the range class.
/// (Ports no built-in table has: 4444 and 80, used here before, are the modern table's now.)
#[test]
fn services_file_is_the_fallback_for_uncovered_ports() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        file,
        "# test services\nrsync\t\t873/tcp\nkrb524\t\t4445/tcp\nntp\t\t123/udp\nbootps\t\t67/udp\nnothing\t\tbad/tcp"
    )
    .unwrap();
    let services = Services::read(file.path()).unwrap();
    assert_eq!(services.len(), 4);
    let k = Knowledge::new(services);

    let m = k.port(4445, Proto::Tcp, Direction::Destination);
    assert_eq!(
        (m.name.as_str(), m.category, m.level, m.basis),
        ("krb524", C::Service, L::Benign, Basis::Services)
    );
    assert_eq!(
        m.meaning,
        "Named \"krb524\" in the system's service list; beyond that name nothing is known."
    );
    assert!(m.explanation.contains(&file.path().display().to_string()));
    assert_eq!(m.faq, None);
    // Only the protocol listed: 4445/udp is not in the file.
    assert_eq!(
        k.port(4445, Proto::Udp, Direction::Destination).name,
        "Registered port"
    );

    let m = k.port(873, Proto::Tcp, Direction::Source);
    assert_eq!(
        (m.name.as_str(), m.level, m.basis),
        ("rsync", L::Benign, Basis::Services)
    );
    assert!(m.meaning.starts_with("Sent from the \"rsync\" port"));

    // The FAQ's tables come before the service names.
    assert_eq!(k.port(123, Proto::Udp, Direction::Destination).name, "NTP");
    assert_eq!(
        k.port(67, Proto::Udp, Direction::Destination).name,
        "DHCP/BOOTP server"
    );

    // A services file that cannot be read is an error for the caller to report.
    assert!(Services::read(std::path::Path::new("/nonexistent/services")).is_err());
}

/// Facts the FAQ lost in both copies are marked, and only those.
#[test]
fn lost_facts_are_marked_unknown() {
    let k = tables_only();
    let lost: BTreeSet<String> = k
        .list()
        .iter()
        .filter(|e| e.info().lost.is_some())
        .map(Listed::key)
        .collect();
    let expected: BTreeSet<String> = [
        // SubSeven's list of ports per role (1.4.1) lost its numbers.
        "1243/tcp",
        "6711/tcp+udp",
        "27374/tcp",
        "topic subseven",
        // Hack'a'Tack's second port is misprinted (1.1).
        "31789/udp",
        // The Undernet policy address (1.11).
        "topic irc-proxy-checks",
        // Section 2 kept its summary table but lost the detailed notes per type.
        "icmp 0",
        "icmp 3",
        "icmp 4",
        "icmp 5",
        "icmp 8",
        "icmp 9",
        "icmp 11",
        "icmp 12",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(lost, expected);
    let m = k.port(1243, Proto::Tcp, Direction::Destination);
    assert!(
        m.lost
            .as_deref()
            .is_some_and(|l| l.contains("did not survive"))
    );
}

/// Section 3: address blocks (its text is missing; built from the RFCs).
///
/// Offline lookups in the knowledge tables: nothing is sent. IPv4 addresses are written as
/// octets, network and prefix, so that no address outside the lab range stands as a literal.
#[test]
fn address_blocks() {
    type V4 = ([u8; 4], [u8; 4], u8);
    let k = tables_only();
    #[rustfmt::skip]
    let v4: &[(V4, &str, Level)] = &[
        (([0, 0, 0, 0], [0, 0, 0, 0], 8), "This network (0.x.x.x)", L::Notable),
        (([10, 20, 30, 40], [10, 0, 0, 0], 8), "Private (10.x.x.x)", L::Notable),
        (([100, 64, 0, 1], [100, 64, 0, 0], 10), "Carrier-grade NAT", L::Benign),
        (([127, 0, 0, 1], [127, 0, 0, 0], 8), "Loopback", L::Suspicious),
        (([169, 254, 1, 1], [169, 254, 0, 0], 16), "Link-local (169.254.x.x)", L::Notable),
        (([172, 31, 255, 255], [172, 16, 0, 0], 12), "Private (172.16-31.x.x)", L::Notable),
        (([192, 0, 2, 7], [192, 0, 2, 0], 24), "Documentation (TEST-NET-1)", L::Suspicious),
        (([192, 168, 1, 1], [192, 168, 0, 0], 16), "Private (192.168.x.x)", L::Notable),
        (([198, 51, 100, 1], [198, 51, 100, 0], 24), "Documentation (TEST-NET-2)", L::Suspicious),
        (([203, 0, 113, 1], [203, 0, 113, 0], 24), "Documentation (TEST-NET-3)", L::Suspicious),
        (([239, 255, 255, 250], [224, 0, 0, 0], 4), "Multicast", L::Benign),
        (([240, 0, 0, 1], [240, 0, 0, 0], 4), "Reserved (class E)", L::Suspicious),
        (([255, 255, 255, 255], [255, 255, 255, 255], 32), "Limited broadcast", L::Benign),
    ];
    #[rustfmt::skip]
    let v6: &[(&str, &str, &str, Level)] = &[
        ("::1", "::1/128", "IPv6 loopback", L::Suspicious),
        ("::ffff:a00:1", "::ffff:0.0.0.0/96", "IPv4-mapped IPv6", L::Suspicious),
        ("2001:db8::1", "2001:db8::/32", "IPv6 documentation", L::Suspicious),
        ("fd00::1", "fc00::/7", "IPv6 unique local", L::Notable),
        ("fe80::1", "fe80::/10", "IPv6 link-local", L::Benign),
        ("ff02::1", "ff00::/8", "IPv6 multicast", L::Benign),
    ];
    let addrs: Vec<(IpAddr, String, &str, Level)> =
        v4.iter()
            .map(|&((addr, net, prefix), name, level)| {
                let key = format!("{}/{prefix}", std::net::Ipv4Addr::from(net));
                (IpAddr::from(addr), key, name, level)
            })
            .chain(v6.iter().map(|&(addr, key, name, level)| {
                (addr.parse().unwrap(), key.to_owned(), name, level)
            }))
            .collect();
    for (addr, key, name, level) in &addrs {
        let a = k.address(*addr).unwrap_or_else(|| panic!("{addr}"));
        assert_eq!(
            (
                a.key.as_str(),
                a.name.as_str(),
                a.category,
                a.level,
                a.basis
            ),
            (key.as_str(), *name, C::Address, *level, Basis::General),
            "{addr}"
        );
        assert_eq!(a.faq.as_deref(), Some("3"));
    }
    // An ordinary public address, outside every block.
    assert_eq!(k.address(IpAddr::from([8, 8, 8, 8])), None);
    let count = k
        .list()
        .iter()
        .filter(|e| matches!(e, Listed::Address(_)))
        .count();
    assert_eq!(count, addrs.len());
}

/// FAQ 1.13: identifying a protocol by the first bytes of a connection.
#[test]
fn first_bytes_identify_protocols() {
    let k = tables_only();
    #[rustfmt::skip]
    let sigs: &[(&[u8], &str, Category, Level)] = &[
        (b"OPNG\x00\x01", "PowWow", C::Chat, L::Benign),
        (b"GET / HTTP/1.0\r\n", "HTTP request", C::Service, L::Benign),
        (b"POST /x HTTP/1.1", "HTTP request", C::Service, L::Benign),
        (b"HEAD / HTTP/1.1", "HTTP request", C::Service, L::Benign),
        (b"CONNECT example.org:443 HTTP/1.1", "HTTP proxy request", C::Proxy, L::Suspicious),
        (b"SSH-2.0-OpenSSH_9.6", "SSH banner", C::RemoteAccess, L::Notable),
    ];
    for &(bytes, name, category, level) in sigs {
        let a = k.first_bytes(bytes).unwrap();
        assert_eq!(
            (a.name.as_str(), a.category, a.level),
            (name, category, level)
        );
    }
    assert_eq!(k.first_bytes(b"OPN"), None);
    assert_eq!(k.first_bytes(b"GETX"), None);
    assert_eq!(
        k.first_bytes(b"OPNG").unwrap().faq.as_deref(),
        Some("1.13, 1.1")
    );
    let count = k
        .list()
        .iter()
        .filter(|e| matches!(e, Listed::Signature(_)))
        .count();
    assert_eq!(count, sigs.len());
}

/// Patterns and background that are not a single port, from every section.
#[test]
fn topics_answer_exactly() {
    let k = tables_only();
    #[rustfmt::skip]
    let topics: &[(&str, &str, Category, Level, &str, Basis)] = &[
        ("decoy-scan", "Decoy scan", C::Scan, L::Suspicious, "1.3", Basis::Faq),
        ("trojan-probes", "Trojan probes", C::Trojan, L::Hostile, "1.4", Basis::Faq),
        ("subseven", "SubSeven", C::Trojan, L::Hostile, "1.4.1, 1.4, 1.10", Basis::Faq),
        ("nat-dns", "DNS from low ports", C::Dynamic, L::Benign, "1.9", Basis::Faq),
        ("dialup-remnants", "Dial-up remnants", C::Dynamic, L::Benign, "1.10", Basis::Faq),
        ("irc-proxy-checks", "IRC proxy checks", C::Proxy, L::Notable, "1.11", Basis::Faq),
        ("remapped-ports", "Remapped ports", C::Remap, L::Notable, "1.12", Basis::Faq),
        ("unknown-protocol", "Identifying an unknown protocol", C::Diagnostic, L::Benign, "1.13", Basis::Faq),
        ("source-routing", "Source routing", C::Attack, L::Hostile, "3", Basis::General),
        ("private-addresses", "Private addresses from outside", C::Address, L::Suspicious, "3", Basis::General),
        ("directed-broadcast", "Directed broadcast", C::Attack, L::Suspicious, "3, 5", Basis::General),
        ("link-local", "169.254.x.x addresses", C::Address, L::Notable, "3", Basis::General),
        ("tracking-owner", "Finding who owns an address", C::Diagnostic, L::Benign, "3", Basis::General),
        ("slow-connections", "Slow connections behind a firewall", C::Diagnostic, L::Benign, "4, 1.1", Basis::Faq),
        ("icmp-filters", "Filtering ICMP", C::Diagnostic, L::Benign, "8, 2", Basis::General),
        ("split-dns", "Split DNS", C::Service, L::Benign, "8", Basis::General),
        ("traceroute", "traceroute", C::Diagnostic, L::Benign, "5, 1.1", Basis::General),
        ("sscan", "sscan", C::Scan, L::Suspicious, "5, 1.2, 1.1", Basis::General),
        ("proxy-scanners", "Proxy scanners", C::Proxy, L::Suspicious, "5.3, 1.1", Basis::General),
        ("smurf", "Smurf attack", C::Attack, L::Hostile, "5, 2", Basis::General),
        ("fraggle", "Fraggle attack", C::Attack, L::Hostile, "5, 1.1", Basis::General),
        ("ip-id", "IP ID field", C::Diagnostic, L::Benign, "9", Basis::General),
        ("ttl", "TTL field", C::Diagnostic, L::Benign, "9, 1.3", Basis::General),
        ("netbios", "NetBIOS traffic", C::FileSharing, L::Benign, "10, 1.1", Basis::General),
    ];
    for &(id, name, category, level, faq, basis) in topics {
        let a = k.topic(id).unwrap_or_else(|| panic!("topic {id}"));
        assert_eq!(
            (
                a.name.as_str(),
                a.category,
                a.level,
                a.faq.as_deref(),
                a.basis
            ),
            (name, category, level, Some(faq), basis),
            "topic {id}"
        );
    }
    let count = k
        .list()
        .iter()
        .filter(|e| matches!(e, Listed::Topic(_)))
        .count();
    assert_eq!(count, topics.len());
    assert_eq!(k.topic("nonexistent"), None);
}

/// The FAQ's own facts that live in the explanations: spot-check the ones a reader relies on.
#[test]
fn explanations_carry_the_faq_facts() {
    let k = tables_only();
    let text = |port, proto, dir| k.port(port, proto, dir).explanation;
    assert!(text(22, Proto::Udp, Direction::Destination).contains("0x1600"));
    // The two Conducent addresses the FAQ names (built from octets: not lab addresses).
    for addr in [[216, 33, 210, 40], [216, 33, 199, 81]] {
        let addr = std::net::Ipv4Addr::from(addr).to_string();
        assert!(
            text(17027, Proto::Tcp, Direction::Destination).contains(&addr),
            "{addr}"
        );
    }
    assert!(text(13223, Proto::Tcp, Direction::Destination).contains("OPNG"));
    assert!(text(0, Proto::Tcp, Direction::Destination).contains("0.0.0.0"));
    assert!(text(67, Proto::Udp, Direction::Destination).contains("255.255.255.255"));
    assert!(text(1524, Proto::Tcp, Direction::Destination).contains("IN-99-04"));
    assert!(text(6970, Proto::Udp, Direction::Destination).contains("7070"));
    assert!(k.topic("subseven").unwrap().explanation.contains("6776"));
}
