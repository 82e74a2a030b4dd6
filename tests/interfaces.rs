//! One daemon watching two interfaces: the lab's link and a second veth pair into the same
//! sensor namespace. Each interface is counted and its findings made on its own; one query
//! socket answers for both (or for one, with `--iface`), one `/metrics` labels each series
//! with its interface, and deleting one interface leaves the other watched.

use std::time::Duration;

use probe_integration::{
    Daemon, Lab, SECOND_ATTACKER_V4, SECOND_SENSOR_V4, SENSOR_V4, Scratch, SecondLink, Stats,
    describe, of_kind, refused_start, require_root, scrape_metrics,
};
use serde_json::json;

#[test]
fn one_daemon_counts_and_finds_on_each_of_two_interfaces_and_outlives_one() {
    require_root!();
    let lab = Lab::new();
    let second = SecondLink::new(&lab);
    let (first_if, second_if) = (lab.sensor_if().to_owned(), second.sensor_if().to_owned());
    let mut probe = Daemon::start_with(&lab, &["--iface", &second_if]);

    // On the first interface, three pings; on the second, SYNs to 30 ports: a vertical scan.
    lab.attacker(&["ping", "-c", "3", "-i", "0.2", SENSOR_V4]);
    let sent = second.send_frames(&format!(
        "[eth()/IP(src='{SECOND_ATTACKER_V4}', dst='{SECOND_SENSOR_V4}')\
             /TCP(sport=40000, dport=p, flags='S') for p in range(1, 31)]"
    ));
    assert_eq!(sent.len(), 30);
    let all = probe.settled_stats();
    assert_eq!((all.packets, all.icmp, all.tcp), (33, 3, 30), "{all:?}");

    let on = |iface: &str| Stats::from_json(&probe.query(&["--iface", iface, "stats"]));
    let first = on(&first_if);
    assert_eq!(
        (first.packets, first.icmp, first.tcp),
        (3, 3, 0),
        "{first:?}"
    );
    let other = on(&second_if);
    assert_eq!(
        (other.packets, other.icmp, other.tcp),
        (30, 0, 30),
        "{other:?}"
    );
    // The answer for both names both, with how each is attached.
    let stats = probe.query(&["stats"]);
    assert_eq!(
        stats["interfaces"],
        json!([
            {"iface": first_if, "attach": "native"},
            {"iface": second_if, "attach": "native"},
        ]),
        "{stats}"
    );
    // An interface the daemon does not watch is refused, naming those it does.
    let refused = probe.run_query(&["--iface", "nosuch0", "stats"]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains(&format!("{first_if}, {second_if}")) && said.contains("nosuch0"),
        "{said}"
    );

    // The scan is the second interface's, in its queries and its lines.
    probe.wait_for_log("vertical_scan", Duration::from_secs(10));
    let scans_on = |iface: &str| {
        probe
            .query_findings(&["--iface", iface])
            .into_iter()
            .filter(|f| f.kind == "vertical_scan")
            .count()
    };
    assert_eq!(scans_on(&second_if), 1);
    assert_eq!(scans_on(&first_if), 0);
    // Open findings are counted per interface too: the scan and four described ports (1, 7,
    // 11, 19) on the second, nothing on the first.
    let open_on = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("stats");
        probe.query(&all)["open_findings"].clone()
    };
    let second_open = json!({"benign": 0, "notable": 1, "suspicious": 4, "hostile": 0});
    assert_eq!(open_on(&["--iface", &second_if]), second_open);
    assert_eq!(
        open_on(&["--iface", &first_if]),
        json!({"benign": 0, "notable": 0, "suspicious": 0, "hostile": 0})
    );
    assert_eq!(open_on(&[]), second_open);
    let lines = std::fs::read_to_string(probe.findings_path()).expect("the findings file");
    let scan_line: serde_json::Value = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .find(|v: &serde_json::Value| v["kind"] == "vertical_scan")
        .expect("a vertical_scan line");
    assert_eq!(scan_line["iface"], json!(second_if));
    assert_eq!(scan_line["src"], json!(SECOND_ATTACKER_V4));

    // One exposition, each family once, a series per interface.
    let text = scrape_metrics(&lab);
    assert_eq!(
        text.matches("# TYPE probe_packets_total counter\n").count(),
        1,
        "{text}"
    );
    for (iface, packets) in [(&first_if, 3), (&second_if, 30)] {
        assert!(
            text.contains(&format!(
                "probe_packets_total{{iface=\"{iface}\"}} {packets}\n"
            )),
            "{text}"
        );
    }

    // The second interface goes away: the first is still watched, the second's counts kept.
    second.delete();
    probe.wait_for_log(&format!("{second_if} was deleted"), Duration::from_secs(10));
    lab.attacker(&["ping", "-c", "2", "-i", "0.2", SENSOR_V4]);
    probe.settled_stats();
    assert_eq!(on(&first_if).icmp, 5);
    assert_eq!(on(&second_if).tcp, 30);
    let found = probe.finish();
    let scans = of_kind(&found, "vertical_scan");
    assert_eq!(scans.len(), 1, "{}", describe(&found));
}

/// `probe run` with `args` in the lab's sensor namespace, expected to be refused: its stderr.
fn refused(lab: &Lab, args: &[&str]) -> String {
    let files = Scratch::new();
    let socket = files.path("probe.sock");
    let mut all = vec![
        "--no-history",
        "--no-metrics",
        "--socket",
        socket.to_str().expect("a UTF-8 path"),
    ];
    all.extend_from_slice(args);
    refused_start(lab, &all)
}

#[test]
fn an_interface_that_cannot_be_watched_refuses_the_start_before_any_is_touched() {
    require_root!();
    let lab = Lab::new();
    let first = lab.sensor_if();
    let stderr = refused(&lab, &["--iface", first, "--iface", "nosuch0"]);
    assert!(stderr.contains("nosuch0"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert_eq!(lab.xdp_program(), None, "nothing attached to {first}");
    assert!(!lab.pin_dir().exists(), "nothing pinned");
    // The same interface twice is a mistake too, said before anything starts.
    let stderr = refused(&lab, &["--iface", &format!("{first},{first}")]);
    assert_eq!(
        stderr,
        format!("probe: --iface {first} is given twice: name each interface once\n")
    );
    assert_eq!(lab.xdp_program(), None);
}
