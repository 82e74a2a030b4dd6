//! "The significant port is the source" (FAQ 1.2, 1.9, 1.10): a game server sending from
//! several server ports to one client port, and DNS queries from several low source ports to
//! one server, are each judged port by port. The kernel keys a contact by its source port when
//! the port is reserved (below 1024) or the knowledge lists it as a source, so each such port
//! is a first contact of its own. A capture of the same traffic replays to the same findings.

use probe_integration::{
    ATTACKER_V4, Daemon, Lab, PcapCapture, SENSOR_V4, Scratch, describe, expect, kinds, of_kind,
    only, replay_agrees, require_root,
};
use serde_json::json;

#[test]
fn game_servers_on_several_ports_and_dns_queries_from_several_low_ports_are_each_seen() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let mut probe = Daemon::start(&lab);
    let capture = PcapCapture::start(&lab, &files.path("sources.pcap"));

    // A Half-Life server (27015) and a Quake server (26000) still sending to one old client
    // port, 50123.
    for server in ["27015", "26000"] {
        lab.attacker(&[
            "hping3", "--udp", "-s", server, "-k", "-p", "50123", "-c", "1", SENSOR_V4,
        ]);
    }
    // Two DNS queries from reserved source ports, as a NAT box sends them. Nothing answers
    // them in the lab: dig says so with a status of its own.
    for port in ["1001", "1002"] {
        let source = format!("{ATTACKER_V4}#{port}");
        let server = format!("@{SENSOR_V4}");
        let out = lab.attacker_unchecked(&[
            "dig",
            "-b",
            &source,
            &server,
            "+tries=1",
            "+time=1",
            "probe.test",
            "A",
        ]);
        assert_eq!(out.status.code(), Some(9), "dig: {out:?}");
    }
    probe.settled_stats();
    let capture = capture.stop();
    let live = probe.finish();

    assert_eq!(
        kinds(&live),
        ["dialup_remnant", "dns_low_source_port"]
            .map(String::from)
            .into(),
        "{}",
        describe(&live)
    );
    // One remnant per server port, each named by its port.
    let mut remnants: Vec<_> = of_kind(&live, "dialup_remnant")
        .iter()
        .map(|f| {
            expect(f).src(ATTACKER_V4).dst(SENSOR_V4).count(1);
            (
                f.port,
                f.evidence["app"].as_str().unwrap_or_default().to_owned(),
                f.evidence["side"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    remnants.sort();
    assert_eq!(
        remnants,
        [
            (Some(26000), "Quake server".to_owned(), "source".to_owned()),
            (
                Some(27015),
                "Half-Life server".to_owned(),
                "source".to_owned()
            ),
        ]
    );
    // Both low source ports were judged: the second query is no longer hidden behind the
    // first.
    let dns = only(&live, "dns_low_source_port");
    expect(dns)
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .port(Some(53))
        .count(2);
    assert_eq!(dns.evidence["src_ports"], json!("1001-1002"));

    replay_agrees(&capture, &live);
}

#[test]
fn a_knowledge_file_lists_more_significant_source_ports() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let knowledge = files.path("knowledge.toml");
    std::fs::write(
        &knowledge,
        "[[port]]\nport = 31000\nproto = \"udp\"\ndirection = \"source\"\n\
         name = \"Lab game server\"\ncategory = \"game\"\nlevel = \"benign\"\n\
         meaning = \"A game server of the lab.\"\n",
    )
    .expect("writing the knowledge file");
    let path = knowledge.to_str().expect("a UTF-8 path");
    let mut probe = Daemon::start_with(&lab, &["--knowledge", path]);

    // A client's port first, then the listed server port, to the same destination port: only
    // a contact keyed by the server port lets the second reach the detectors.
    for source in ["40000", "31000"] {
        lab.attacker(&[
            "hping3", "--udp", "-s", source, "-k", "-p", "50123", "-c", "1", SENSOR_V4,
        ]);
    }
    probe.settled_stats();
    let stats = probe.query(&["stats"]);
    let live = probe.finish();
    assert_eq!(stats["events"], json!(2), "{stats}");
    let f = only(&live, "dialup_remnant");
    expect(f)
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .port(Some(31000))
        .count(1);
    assert_eq!(f.evidence["app"], json!("Lab game server"));
}
