use serde_json::json;

use super::*;
use crate::findings::{Kind, Status};

/// 2024-05-01T12:00:00Z.
const T0: u64 = 1_714_564_800_000_000_000;
const MIN: u64 = 60_000_000_000;

#[expect(
    clippy::too_many_arguments,
    reason = "a finding's fields, written out in each test"
)]
fn finding(
    id: u64,
    kind: Kind,
    level: Level,
    src: &str,
    port: Option<u16>,
    first: u64,
    evidence: serde_json::Value,
    explanation: &str,
) -> Stored {
    Stored {
        run: T0 - 60 * MIN,
        iface: "eth0".to_owned(),
        finding: Finding {
            ts_ns: first,
            id,
            status: Status::New,
            kind,
            level,
            src: Some(src.to_owned()),
            dst: Some("198.18.0.1".to_owned()),
            proto: Some(if kind == Kind::PingSweep {
                contact::Proto::Icmp
            } else {
                contact::Proto::Tcp
            }),
            port,
            tool: None,
            count: 3,
            first_seen_ns: first,
            last_seen_ns: first + 5 * MIN,
            evidence,
            explanation: explanation.to_owned(),
        },
    }
}

/// Five findings over two hours: a trojan probe, a scan and a probe of SSH from one source, a
/// ping sweep opened before the report's start, and a smurf from many sources.
fn fixed() -> Report {
    let findings = vec![
        finding(
            1,
            Kind::PingSweep,
            Level::Notable,
            "198.18.0.88",
            None,
            T0 - 30 * MIN,
            json!({"hosts": ["198.18.0.1"]}),
            "198.18.0.88 pinged 12 hosts.",
        ),
        finding(
            2,
            Kind::TrojanProbe,
            Level::Hostile,
            "198.18.0.66",
            Some(31_337),
            T0 + 10 * MIN,
            json!({"ports": [{"port": 31337, "proto": "tcp", "name": "Back Orifice"}]}),
            "<script>alert(1)</script> tried 31337.",
        ),
        finding(
            3,
            Kind::VerticalScan,
            Level::Suspicious,
            "198.18.0.77",
            None,
            T0 + 70 * MIN,
            json!({"ports": "1000-1001,31337 (+4 more ports)"}),
            "198.18.0.77 probed 7 ports.",
        ),
        finding(
            4,
            Kind::PortMeaning,
            Level::Suspicious,
            "198.18.0.77",
            Some(22),
            T0 + 75 * MIN,
            json!({"ports": [{"port": 22, "proto": "tcp"}]}),
            "198.18.0.77 tried SSH.",
        ),
        finding(
            5,
            Kind::Smurf,
            Level::Hostile,
            "many",
            None,
            T0 + 80 * MIN,
            json!({"role": "victim"}),
            "Echo replies from many hosts.",
        ),
    ];
    Report::new(
        "the findings history /var/lib/probe/findings.db".to_owned(),
        T0,
        T0 + 120 * MIN,
        findings,
        &Knowledge::builtin(),
    )
}

#[test]
fn the_ports_come_from_the_findings_port_and_evidence_with_their_meanings() {
    let r = fixed();
    let ports: Vec<(u16, u64, u64, Level)> = r
        .ports
        .iter()
        .map(|p| (p.port, p.sources, p.findings, p.level))
        .collect();
    assert_eq!(
        ports,
        [
            // Two sources: the trojan probe's and the scan's.
            (31_337, 2, 2, Level::Hostile),
            (22, 1, 1, Level::Suspicious),
            (1000, 1, 1, Level::Suspicious),
            (1001, 1, 1, Level::Suspicious),
        ]
    );
    assert_eq!(r.ports[0].name, "Back Orifice");
    assert_eq!(r.bucket_secs, 3600);
    let hours: Vec<(u64, u64)> = r
        .over_time
        .iter()
        .map(|b| ((b.start - T0) / MIN, b.levels.total()))
        .collect();
    // The ping sweep opened before the start counts in the first hour.
    assert_eq!(hours, [(0, 2), (60, 3), (120, 0)]);
}

#[test]
fn the_text_report_is_exactly_its_tables() {
    let text = fixed().render(Format::Text);
    let expected = "\
probe report: the findings history /var/lib/probe/findings.db
from 2024-05-01T12:00:00.000Z to 2024-05-01T14:00:00.000Z
5 findings: 2 hostile, 2 suspicious, 1 notable, 0 benign

Findings by kind
KIND           HOSTILE  SUSPICIOUS  NOTABLE  BENIGN  TOTAL
ping_sweep           0           0        1       0      1
port_meaning         0           1        0       0      1
smurf                1           0        0       0      1
trojan_probe         1           0        0       0      1
vertical_scan        0           1        0       0      1

Ports probed by the most sources
 PORT  PROTO  SOURCES  FINDINGS  LEVEL       NAME: MEANING
31337  tcp          2         2  hostile     PORT31337
   22  tcp          1         1  suspicious  PORT22
 1000  tcp          1         1  suspicious  PORT1000
 1001  tcp          1         1  suspicious  PORT1001

Sources with the worst findings
SOURCE       FINDINGS  LEVEL       LAST SEEN                 WHAT
198.18.0.66         1  hostile     2024-05-01T12:15:00.000Z  trojan_probe 31337
198.18.0.77         2  suspicious  2024-05-01T13:20:00.000Z  vertical_scan, port_meaning 22
198.18.0.88         1  notable     2024-05-01T11:35:00.000Z  ping_sweep

Findings opened per hour
FROM                      HOSTILE  SUSPICIOUS  NOTABLE  BENIGN
2024-05-01T12:00:00.000Z        1           0        1       0
2024-05-01T13:00:00.000Z        1           2        0       0
";
    assert_eq!(text, with_meanings(expected));
}

/// `expected` with each `PORTn` replaced by what the built-in knowledge says of port n, as
/// the tables show it: the meanings are the knowledge's to word, the layout the report's.
fn with_meanings(expected: &str) -> String {
    let k = Knowledge::builtin();
    let mut out = expected.to_owned();
    for port in [31_337u16, 1001, 1000, 22] {
        let m = k.port(port, Proto::Tcp, Direction::Destination);
        out = out.replace(
            &format!("PORT{port}"),
            &crate::knowledge::named(&m.name, &m.meaning),
        );
    }
    out
}

#[test]
fn the_markdown_report_is_the_same_tables_piped() {
    let md = fixed().render(Format::Markdown);
    let expected = "\
# probe report: the findings history /var/lib/probe/findings.db

- from 2024-05-01T12:00:00.000Z to 2024-05-01T14:00:00.000Z
- 5 findings: 2 hostile, 2 suspicious, 1 notable, 0 benign

## Findings by kind

| KIND | HOSTILE | SUSPICIOUS | NOTABLE | BENIGN | TOTAL |
|---|---:|---:|---:|---:|---:|
| ping_sweep | 0 | 0 | 1 | 0 | 1 |
| port_meaning | 0 | 1 | 0 | 0 | 1 |
| smurf | 1 | 0 | 0 | 0 | 1 |
| trojan_probe | 1 | 0 | 0 | 0 | 1 |
| vertical_scan | 0 | 1 | 0 | 0 | 1 |

## Ports probed by the most sources

| PORT | PROTO | SOURCES | FINDINGS | LEVEL | NAME: MEANING |
|---:|---|---:|---:|---|---|
| 31337 | tcp | 2 | 2 | hostile | PORT31337 |
| 22 | tcp | 1 | 1 | suspicious | PORT22 |
| 1000 | tcp | 1 | 1 | suspicious | PORT1000 |
| 1001 | tcp | 1 | 1 | suspicious | PORT1001 |

## Sources with the worst findings

| SOURCE | FINDINGS | LEVEL | LAST SEEN | WHAT |
|---|---:|---|---|---|
| 198.18.0.66 | 1 | hostile | 2024-05-01T12:15:00.000Z | trojan_probe 31337 |
| 198.18.0.77 | 2 | suspicious | 2024-05-01T13:20:00.000Z | vertical_scan, port_meaning 22 |
| 198.18.0.88 | 1 | notable | 2024-05-01T11:35:00.000Z | ping_sweep |

## Findings opened per hour

| FROM | HOSTILE | SUSPICIOUS | NOTABLE | BENIGN |
|---|---:|---:|---:|---:|
| 2024-05-01T12:00:00.000Z | 1 | 0 | 1 | 0 |
| 2024-05-01T13:00:00.000Z | 1 | 2 | 0 | 0 |
";
    assert_eq!(md, with_meanings(expected));
}

#[test]
fn the_html_report_draws_its_charts_inline_and_escapes_what_findings_say() {
    let html = fixed().render(Format::Html);
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    assert!(html.ends_with("</html>\n"));
    // The hours chart, the kinds and the ports.
    assert_eq!(html.matches("<svg ").count(), 3);
    assert!(!html.contains("<script"), "a finding's text ran as markup");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; tried 31337."));
    // Nothing fetched: no script, no link, no image from elsewhere.
    for outside in ["<link", "<img", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(outside), "{outside}");
    }
    // The first hour's column: one notable and one hostile finding, in their colours.
    assert!(html.contains("<title>2024-05-01T12:00:00.000Z 1 hostile</title>"));
    assert!(html.contains("<title>2024-05-01T12:00:00.000Z 1 notable</title>"));
}

#[test]
fn the_json_report_holds_every_finding_with_its_run() {
    let json: serde_json::Value = serde_json::from_str(&fixed().render(Format::Json)).unwrap();
    assert_eq!(json["from"], "2024-05-01T12:00:00.000Z");
    assert_eq!(json["levels"]["hostile"], 2);
    assert_eq!(json["ports"][0]["port"], 31_337);
    assert_eq!(json["ports"][0]["name"], "Back Orifice");
    assert_eq!(json["sources"][1]["kinds"][1], "port_meaning 22");
    assert_eq!(json["findings"].as_array().map(Vec::len), Some(5));
    assert_eq!(json["findings"][0]["run"], "2024-05-01T11:00:00.000Z");
    assert_eq!(json["findings"][0]["iface"], "eth0");
    assert!(
        json.get("counters").is_none(),
        "the history has no counters"
    );
}

#[test]
fn a_long_period_counts_by_day() {
    let r = Report::new(
        String::new(),
        T0,
        T0 + 40 * 24 * 60 * MIN,
        Vec::new(),
        &Knowledge::builtin(),
    );
    assert_eq!(r.bucket_secs, 86_400);
    assert_eq!(r.over_time.len(), 41);
    let text = r.render(Format::Text);
    assert!(
        text.contains("Findings opened per day\n(no findings)\n"),
        "{text}"
    );
}
