//! Engine-wide behaviour: normal traffic stays quiet, output is deterministic however the
//! engine is ticked, memory stays bounded, nothing panics.

use probe_common::packet::tcp_flags::{ACK, FIN, PSH, RST, SYN, URG};

use super::{Config, testkit::*};
use crate::{contact::Contact, findings::Finding};

/// Kinds that say someone is scanning.
const SCAN_KINDS: &[&str] = &[
    "vertical_scan",
    "horizontal_sweep",
    "ping_sweep",
    "decoy_scan",
    "stealth_scan",
    "sscan",
    "proxy_check",
    "remapped_service",
    "traceroute",
    "smurf",
    "fraggle",
];

#[test]
fn normal_traffic_stays_quiet() {
    let mut contacts = Vec::new();
    let mut ms = 0;
    let mut push = |c: Contact| {
        contacts.push(at(c, ms));
        ms += 37;
    };
    // Clients connecting to a web server, each once (the kernel reports one SYN per port).
    for i in 0..50u8 {
        push(syn(&format!("198.18.3.{i}"), "198.18.0.1", 80));
        push(syn(&format!("198.18.3.{i}"), "198.18.0.1", 443));
    }
    // Our own connections answered: SYN+ACK from servers to our temporary ports.
    for i in 0..40u16 {
        push(syn_ack("198.18.4.1", 443, "198.18.0.1", 40_000 + i));
    }
    // DNS: our queries answered from port 53 to many of our ports; a client's query to us.
    for i in 0..40u16 {
        push(udp("198.18.4.53", 53, "198.18.0.1", 30_000 + i * 7));
    }
    push(udp("198.18.3.9", 51_515, "198.18.0.1", 53));
    // NTP answers, and a few pings and their replies.
    push(udp("198.18.4.123", 123, "198.18.0.1", 45_000));
    for i in 1..=3u8 {
        push(icmp(&format!("198.18.3.{i}"), "198.18.0.1", 8, 0));
        push(icmp(&format!("198.18.4.{i}"), "198.18.0.1", 0, 0));
    }
    // RSTs to connections that ended.
    push(tcp("198.18.4.1", 443, "198.18.0.1", 40_100, RST));
    let lines = run(&mut engine(), &contacts);
    let loud: Vec<&Finding> = lines
        .iter()
        .filter(|f| SCAN_KINDS.contains(&f.kind.as_str()))
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
    assert!(lines.is_empty(), "nothing at all to report: {lines:#?}");
}

/// A little of everything, for the determinism and robustness tests.
fn mixed() -> Vec<Contact> {
    let mut out = Vec::new();
    for i in 0..300u16 {
        let ms = u64::from(i) * 250;
        out.push(at(syn("198.18.0.66", "198.18.0.1", 1 + i), ms));
        if i % 3 == 0 {
            out.push(at(
                tcp("198.18.0.67", 40_000, "198.18.0.1", 100 + i, FIN),
                ms + 1,
            ));
        }
        if i % 7 == 0 {
            out.push(at(
                icmp("198.18.0.68", &format!("198.18.1.{}", i % 250), 8, 0),
                ms + 2,
            ));
        }
        if i % 11 == 0 {
            out.push(at(udp("10.0.0.1", 19, "198.18.0.1", 7), ms + 3));
        }
    }
    out
}

#[test]
fn the_same_contacts_give_the_same_lines_however_often_time_is_ticked() {
    let contacts = mixed();
    let last = contacts.last().map_or(T0, |c| c.ts_ns) + 400 * SEC;
    // Never ticked.
    let mut a = engine();
    let mut lines_a: Vec<Finding> = contacts.iter().flat_map(|c| a.contact(c)).collect();
    lines_a.extend(a.tick(last));
    lines_a.extend(a.flush(last));
    // Ticked every 100 ms of contact time, and once in between every contact.
    let mut b = engine();
    let mut lines_b = Vec::new();
    let mut next_tick = T0;
    for c in &contacts {
        while next_tick < c.ts_ns {
            lines_b.extend(b.tick(next_tick));
            next_tick += 100_000_000;
        }
        lines_b.extend(b.contact(c));
    }
    lines_b.extend(b.tick(last));
    lines_b.extend(b.flush(last));
    let json = |ls: &[Finding]| ls.iter().map(Finding::to_json_line).collect::<Vec<_>>();
    assert_eq!(json(&lines_a), json(&lines_b));
    assert!(lines_a.len() > 5);
}

#[test]
fn a_long_scan_gives_one_finding_refreshed_once_a_minute() {
    // 3000 ports, one every 100 ms: five minutes of scanning.
    let contacts: Vec<_> = (0..3000u16)
        .map(|i| {
            at(
                syn("198.18.0.66", "198.18.0.1", 10_000 + i),
                u64::from(i) * 100,
            )
        })
        .collect();
    let mut e = engine();
    let mut lines = Vec::new();
    for c in &contacts {
        lines.extend(e.contact(c));
    }
    lines.extend(e.flush(T0 + 301 * SEC));
    let scans = of(&lines, crate::findings::Kind::VerticalScan);
    let stamps: Vec<u64> = scans.iter().map(|f| (f.ts_ns - T0) / SEC).collect();
    // Found at the 20th port (1.9 s), written once 2 s passed without an answer, then
    // refreshed a minute after each line, and flushed at the end.
    assert_eq!(stamps, vec![3, 63, 123, 183, 243, 301]);
    assert!(scans.iter().all(|f| f.id == scans[0].id));
    assert_eq!(scans.last().map(|f| f.count), Some(3000));
}

/// A small deterministic generator, so the robustness test needs no dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[test]
fn arbitrary_contacts_never_panic_and_memory_stays_bounded() {
    let mut cfg = Config::default();
    cfg.limits.max_tracked = 64;
    cfg.findings.max_open = 32;
    cfg.decoy_scan.max_targets = 4;
    let mut e = engine_with(cfg);
    let mut r = Lcg(7);
    let protos = [
        crate::contact::Proto::Tcp,
        crate::contact::Proto::Udp,
        crate::contact::Proto::Icmp,
        crate::contact::Proto::Icmpv6,
        crate::contact::Proto::Other,
    ];
    let flags = [
        0,
        FIN,
        SYN,
        SYN | ACK,
        RST,
        FIN | PSH | URG,
        SYN | FIN,
        0xff,
    ];
    let mut ts = T0;
    for i in 0..20_000u64 {
        // Time mostly moves on, sometimes jumps back.
        ts = if r.next().is_multiple_of(50) {
            ts.saturating_sub(r.next() % (5 * SEC))
        } else {
            ts + r.next() % 20_000_000
        };
        let src = if r.next().is_multiple_of(2) {
            std::net::IpAddr::from((r.next() as u32 | 0x0a00_0000).to_be_bytes())
        } else {
            std::net::IpAddr::from(u128::from(r.next()).to_be_bytes())
        };
        let dst = std::net::IpAddr::from(((r.next() % 4) as u32 | 0xc612_00f0).to_be_bytes());
        let c = Contact {
            ts_ns: ts,
            src,
            dst: if i % 97 == 0 { src } else { dst },
            proto: protos[(r.next() % 5) as usize],
            protocol: (r.next() % 256) as u8,
            src_port: (r.next() % 65_536) as u16,
            dst_port: (r.next() % 65_536) as u16,
            ttl: (r.next() % 256) as u8,
            ip_id: r.next() as u32,
            tcp_flags: flags[(r.next() % 8) as usize],
            tcp_window: 0,
            tcp_seq: 0,
            icmp_type: (r.next() % 256) as u8,
            icmp_code: (r.next() % 16) as u8,
            ip_options: r.next() as u32,
            ip_options_malformed: r.next().is_multiple_of(2),
            dont_fragment: false,
            more_fragments: false,
            fragment_offset: 0,
            tiny_fragment: false,
            l4_held: 0,
            extensions: 0,
            long_chain: false,
            payload: (0..r.next() % 17).map(|_| r.next() as u8).collect(),
        };
        for f in e.contact(&c) {
            assert!(f.evidence.is_object(), "{f:?}");
            assert!(!f.explanation.is_empty());
        }
        if i % 1000 == 0 {
            e.tick(ts);
            e.overload(ts, i, i / 2);
        }
        assert!(e.open_findings() <= 32);
    }
    e.flush(u64::MAX);
    e.flush(0);
}

#[test]
fn an_empty_config_is_the_default_and_unknown_fields_are_refused() {
    assert_eq!(config("{}").unwrap(), Config::default());
    let cfg =
        config(r#"{"vertical_scan": {"ports": 50}, "findings": {"refresh_secs": 5}}"#).unwrap();
    assert_eq!(
        (
            cfg.vertical_scan.ports,
            cfg.vertical_scan.window_secs,
            cfg.findings.refresh_secs
        ),
        (50, 60, 5)
    );
    assert!(config(r#"{"vertical_scan": {"prots": 50}}"#).is_err());
    assert!(config(r#"{"nonsense": {}}"#).is_err());
}

#[test]
fn addresses_are_written_as_display_writes_them() {
    use std::net::{IpAddr, Ipv4Addr};

    use super::{addr_list, addr_list_and_words, addr_words, ip_text, table::Capped};

    for (text, want) in [
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("10.100.9.99", "10.100.9.99"),
        ("198.18.0.1", "198.18.0.1"),
        ("2001:db8::1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
    ] {
        let addr: IpAddr = text.parse().unwrap();
        assert_eq!(ip_text(addr), want);
    }
    // Every octet value, in every position.
    for v in 0..=255u8 {
        for addr in [
            Ipv4Addr::new(v, 1, 2, 3),
            Ipv4Addr::new(4, v, 5, 6),
            Ipv4Addr::new(7, 8, v, 9),
            Ipv4Addr::new(10, 11, 12, v),
        ] {
            assert_eq!(ip_text(IpAddr::V4(addr)), addr.to_string());
        }
    }
    let mut set = Capped::new(8);
    assert_eq!(addr_words(&set, 2), "no address");
    for last in [3u8, 1, 2] {
        set.insert(IpAddr::V4(Ipv4Addr::new(198, 18, 0, last)));
    }
    assert_eq!(addr_words(&set, 3), "198.18.0.1, 198.18.0.2, 198.18.0.3");
    assert_eq!(addr_words(&set, 2), "198.18.0.1, 198.18.0.2 and 1 more");
    assert_eq!(
        addr_list_and_words(&set, 2),
        (
            vec!["198.18.0.1".to_owned(), "198.18.0.2".to_owned()],
            "198.18.0.1, 198.18.0.2 and 1 more".to_owned()
        )
    );
    for max in 0..5 {
        assert_eq!(
            addr_list_and_words(&set, max),
            (addr_list(&set, max), addr_words(&set, max))
        );
    }
}

#[test]
fn every_story_is_in_the_built_in_knowledge_with_exactly_its_marks() {
    let knowledge = crate::knowledge::Knowledge::builtin();
    for story in super::STORIES {
        let Some((text, faq)) = knowledge.story(story.topic) else {
            panic!("topic {} has no story", story.topic);
        };
        assert!(faq.is_some(), "topic {} has no FAQ section", story.topic);
        let marks: std::collections::BTreeSet<&str> = text
            .split('{')
            .skip(1)
            .filter_map(|part| part.split_once('}').map(|(mark, _)| mark))
            .collect();
        let want = story.marks.iter().copied().collect();
        assert_eq!(marks, want, "marks of topic {}", story.topic);
    }
}

#[test]
fn a_story_fills_its_marks_and_leaves_unknown_ones_as_written() {
    let knowledge = crate::knowledge::Knowledge::builtin();
    let story = super::Story {
        topic: "nat-dns",
        marks: &["src", "dst"],
    };
    let (text, faq) = story.tell(&knowledge, &["198.18.0.66", "198.18.0.1"]);
    assert!(
        text.starts_with("198.18.0.66 sent a DNS query to 198.18.0.1 from port {sp}, below 1024."),
        "{text}"
    );
    assert_eq!(faq, "1.9");
}

/// An engine whose home network is 198.18.0.0/24: 198.19.x.x is outside.
fn home_engine() -> super::Engine {
    engine_with(config(r#"{"home": {"networks": ["198.18.0.0/24"]}}"#).unwrap())
}

fn kinds(lines: &[Finding]) -> Vec<&'static str> {
    lines.iter().map(|f| f.kind.as_str()).collect()
}

#[test]
fn a_home_host_browsing_many_web_servers_is_not_a_sweep() {
    // Twelve connections to twelve servers' port 443, each accepted (SYN+ACK) 30 ms later.
    let mut contacts = Vec::new();
    for h in 1u16..=12 {
        let server = format!("198.19.0.{h}");
        contacts.push(at(syn("198.18.0.5", &server, 443), u64::from(h) * 5));
        contacts.push(at(
            syn_ack(&server, 443, "198.18.0.5", 40_000),
            u64::from(h) * 5 + 30,
        ));
    }
    assert_eq!(kinds(&run(&mut home_engine(), &contacts)), [] as [&str; 0]);
    // The same without the answers is the home host sweeping out.
    let unanswered: Vec<_> = contacts.iter().step_by(2).cloned().collect();
    let lines = run(&mut home_engine(), &unanswered);
    assert_eq!(kinds(&lines), ["outbound_scan"]);
    let f = &lines[0];
    assert_eq!(
        (f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
        (Some("198.18.0.5"), Some("many"), Some(443), 12)
    );
    assert!(f.explanation.starts_with(
        "198.18.0.5, a host of the networks this probe protects, probed port 443/tcp"
    ));
}

#[test]
fn an_ntp_client_with_a_pool_of_ten_servers_is_quiet() {
    let mut contacts = Vec::new();
    for h in 1u16..=10 {
        let server = format!("198.19.1.{h}");
        contacts.push(at(
            udp("198.18.0.5", 50_000 + h, &server, 123),
            u64::from(h) * 10,
        ));
        contacts.push(at(
            udp(&server, 123, "198.18.0.5", 50_000 + h),
            u64::from(h) * 10 + 20,
        ));
    }
    assert_eq!(kinds(&run(&mut home_engine(), &contacts)), [] as [&str; 0]);
    // Replies that do not match the requests' ports answer nothing.
    let mismatched: Vec<_> = contacts
        .iter()
        .map(|c| Contact {
            dst_port: if c.src_port == 123 { 1 } else { c.dst_port },
            ..c.clone()
        })
        .collect();
    assert_eq!(
        kinds(&run(&mut home_engine(), &mismatched)),
        ["outbound_scan"]
    );
}

#[test]
fn a_trojan_port_that_completes_its_connections_is_a_service() {
    // A client connects to 12345 (NetBus in the FAQ) and completes the handshake: the
    // kernel's report of its first established segment is the answer.
    let lines = run(
        &mut engine(),
        &[
            syn("198.18.0.7", "198.18.0.1", 12_345),
            at(tcp("198.18.0.7", 40_000, "198.18.0.1", 12_345, ACK), 1),
            // Another client later (beyond the decoy detector's window, where two sources on
            // one port would be a decoy round).
            at(syn("198.18.0.8", "198.18.0.1", 12_345), 90_000),
            at(
                tcp("198.18.0.8", 40_000, "198.18.0.1", 12_345, ACK | PSH),
                90_001,
            ),
        ],
    );
    assert_eq!(
        opened(&lines),
        [crate::findings::Kind::Service],
        "{lines:#?}"
    );
    let f = last_of(&lines, crate::findings::Kind::Service);
    assert_eq!(
        (f.level, f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
        (
            crate::knowledge::Level::Benign,
            Some("198.18.0.8"),
            Some("198.18.0.1"),
            Some(12_345),
            2
        )
    );
    assert_eq!(
        f.evidence["clients"],
        serde_json::json!(["198.18.0.7", "198.18.0.8"])
    );
    assert_eq!(
        f.evidence["meanings"][0]["name"],
        serde_json::json!("NetBus")
    );
    assert!(
        f.explanation.contains(
            "What the port is known for: NetBus trojan's default port; also a favourite pick for \
             remapped services (faq). Make sure"
        ),
        "{}",
        f.explanation
    );
    // An answer that comes after the finding was written leaves it: the probe was reported.
    let late = run(
        &mut engine(),
        &[
            syn("198.18.0.7", "198.18.0.1", 12_345),
            at(tcp("198.18.0.7", 40_000, "198.18.0.1", 12_345, ACK), 3000),
        ],
    );
    assert_eq!(kinds(&late), ["trojan_probe"]);
}

#[test]
fn a_scan_with_a_few_open_ports_is_still_a_scan() {
    // 30 ports, three of which answer (nmap's connect scan completes those).
    let mut contacts = Vec::new();
    for (i, port) in (1u16..=30).enumerate() {
        contacts.push(at(syn("198.18.0.66", "198.18.0.1", port), i as u64));
        if [22, 80, 443].contains(&port) || port % 10 == 0 {
            contacts.push(at(
                tcp("198.18.0.66", 40_000, "198.18.0.1", port, ACK),
                i as u64,
            ));
        }
    }
    let lines = run(&mut engine(), &contacts);
    let scan = last_of(&lines, crate::findings::Kind::VerticalScan);
    // Counted: the unanswered probes, and every probe once the scan was found (10, 20 and
    // 22 were answered before that, 30 after).
    assert_eq!(scan.evidence["distinct_ports"], serde_json::json!(27));
    // Before the scan was found, its probes of described ports had their own findings; the
    // one whose connection completed (SSH, 22) is a service instead.
    let services: Vec<_> = of(&lines, crate::findings::Kind::Service)
        .iter()
        .map(|f| f.port)
        .collect();
    assert_eq!(services, [Some(22)]);
    // A client whose connections to 20 ports all complete is a conversation.
    let mut talk = Vec::new();
    for (i, port) in (5000u16..5020).enumerate() {
        talk.push(at(syn("198.18.0.70", "198.18.0.1", port), i as u64 * 10));
        talk.push(at(
            tcp("198.18.0.70", 40_000, "198.18.0.1", port, ACK),
            i as u64 * 10 + 1,
        ));
    }
    assert_eq!(kinds(&run(&mut engine(), &talk)), [] as [&str; 0]);
}
