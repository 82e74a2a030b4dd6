use serde_json::json;

use super::*;
use crate::{
    contact::Proto,
    error::Chain,
    findings::{Kind, Status},
};

/// 2024-05-01T12:00:00Z.
const T0: u64 = 1_714_564_800_000_000_000;
const SEC: u64 = 1_000_000_000;
const DAY: u64 = 86_400 * SEC;

fn finding(id: u64, kind: Kind, src: &str, last: u64) -> Finding {
    Finding {
        ts_ns: last,
        id,
        status: Status::New,
        kind,
        level: Level::Hostile,
        src: Some(src.to_owned()),
        dst: Some("198.18.0.1".to_owned()),
        proto: Some(Proto::Tcp),
        port: Some(31_337),
        tool: None,
        count: 1,
        first_seen_ns: last,
        last_seen_ns: last,
        evidence: json!({"hosts": ["198.18.0.1"]}),
        explanation: format!("Finding {id}."),
    }
}

fn row(run: u64, iface: &str, f: &Finding) -> Row {
    Row::new(run, iface, f, f.to_json_line())
}

fn stored(run: u64, iface: &str, finding: Finding) -> Stored {
    Stored {
        run,
        iface: iface.to_owned(),
        finding,
    }
}

#[test]
fn findings_are_written_replaced_by_later_lines_and_read_back_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("findings.db");
    let mut store = Store::open(&path).unwrap();
    let first = finding(1, Kind::TrojanProbe, "198.18.0.66", T0);
    let mut later = first.clone();
    later.status = Status::Update;
    later.count = 5;
    later.last_seen_ns = T0 + 60 * SEC;
    // A second run numbers its findings from 1 again.
    let other_run = finding(1, Kind::VerticalScan, "198.18.0.77", T0 + 120 * SEC);
    store.write(&[row(T0, "eth0", &first)]).unwrap();
    store
        .write(&[
            row(T0, "eth0", &later),
            row(T0 + 100 * SEC, "eth0", &other_run),
        ])
        .unwrap();
    assert_eq!(store.count().unwrap(), 2);
    let all = store.read(&Filter::default()).unwrap();
    assert_eq!(all.damaged, 0);
    assert_eq!(
        all.findings,
        [
            stored(T0, "eth0", later.clone()),
            stored(T0 + 100 * SEC, "eth0", other_run.clone())
        ]
    );
    let only = |filter: Filter| -> Vec<u64> {
        store
            .read(&filter)
            .unwrap()
            .findings
            .iter()
            .map(|s| s.run)
            .collect()
    };
    assert_eq!(
        only(Filter {
            since_ns: Some(T0 + 90 * SEC),
            ..Filter::default()
        }),
        [T0 + 100 * SEC]
    );
    assert_eq!(
        only(Filter {
            kind: Some("trojan_probe".to_owned()),
            ..Filter::default()
        }),
        [T0]
    );
    assert_eq!(
        only(Filter {
            src: Some("198.18.0.77".to_owned()),
            ..Filter::default()
        }),
        [T0 + 100 * SEC]
    );
    assert!(
        only(Filter {
            iface: Some("eth1".to_owned()),
            ..Filter::default()
        })
        .is_empty()
    );
    // The limit keeps the most recently seen.
    assert_eq!(
        only(Filter {
            limit: Some(1),
            ..Filter::default()
        }),
        [T0 + 100 * SEC]
    );
    assert_eq!(store.newest().unwrap(), Some(T0 + 120 * SEC));
}

#[test]
fn a_reopened_history_keeps_what_was_written_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("findings.db");
    let f = finding(7, Kind::Land, "198.18.0.9", T0);
    {
        let mut store = Store::open(&path).unwrap();
        store.write(&[row(T0, "eth0", &f)]).unwrap();
    }
    let again = Store::open(&path).unwrap();
    let mode: String = again
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(
        read(&path, &Filter::default()).unwrap().findings,
        [stored(T0, "eth0", f)]
    );
}

#[test]
fn pruning_removes_what_was_last_seen_before_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("findings.db")).unwrap();
    let rows: Vec<Row> = [40, 31, 29, 1]
        .iter()
        .enumerate()
        .map(|(i, days_ago)| {
            let f = finding(i as u64 + 1, Kind::Land, "198.18.0.9", T0 - days_ago * DAY);
            row(T0 - 40 * DAY, "eth0", &f)
        })
        .collect();
    store.write(&rows).unwrap();
    // 30 days' retention at T0.
    assert_eq!(store.prune(T0 - 30 * DAY).unwrap(), 2);
    let ids: Vec<u64> = store
        .read(&Filter::default())
        .unwrap()
        .findings
        .iter()
        .map(|s| s.finding.id)
        .collect();
    assert_eq!(ids, [3, 4]);
    assert_eq!(store.prune(T0 - 30 * DAY).unwrap(), 0);
}

#[test]
fn a_file_that_is_not_a_history_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("findings.db");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    for e in [
        Store::open(&path).err().unwrap(),
        read(&path, &Filter::default()).err().unwrap(),
    ] {
        assert_eq!(
            Chain(&e).to_string(),
            format!(
                "cannot open the findings history {}: file is not a database",
                path.display()
            )
        );
    }
    let other = dir.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    assert_eq!(
        Store::open(&other).err().unwrap().to_string(),
        format!(
            "{} is not a findings history: it is another program's SQLite database (application id 0x0)",
            other.display()
        )
    );
    let missing = dir.path().join("none.db");
    assert_eq!(
        read(&missing, &Filter::default())
            .err()
            .unwrap()
            .to_string(),
        format!(
            "no findings history at {}: the daemon writes one with probe run --history PATH",
            missing.display()
        )
    );
}

#[test]
fn a_damaged_line_is_counted_and_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("findings.db");
    let mut store = Store::open(&path).unwrap();
    let good = finding(1, Kind::Land, "198.18.0.9", T0);
    let mut bad = row(T0, "eth0", &finding(2, Kind::Land, "198.18.0.9", T0));
    bad.line = "{\"id\": 2, \"kind\":".to_owned();
    store.write(&[row(T0, "eth0", &good), bad]).unwrap();
    let got = read(&path, &Filter::default()).unwrap();
    assert_eq!(got.damaged, 1);
    assert_eq!(got.findings, [stored(T0, "eth0", good)]);
}

#[test]
fn memory_wins_over_the_history_and_runs_stay_apart() {
    let old_run = stored(T0, "eth0", finding(1, Kind::Land, "198.18.0.9", T0));
    let this_run_db = stored(
        T0 + DAY,
        "eth0",
        finding(1, Kind::TrojanProbe, "198.18.0.66", T0 + DAY),
    );
    let mut newer = this_run_db.clone();
    newer.finding.count = 9;
    let only_memory = stored(
        T0 + DAY,
        "eth0",
        finding(2, Kind::TrojanProbe, "198.18.0.67", T0 + DAY),
    );
    let merged = merge(
        vec![this_run_db, old_run.clone()],
        vec![only_memory.clone(), newer.clone()],
    );
    assert_eq!(merged, [old_run, newer, only_memory]);
}

#[test]
fn summaries_name_each_run_only_when_there_are_several() {
    let one = stored(T0, "eth0", finding(1, Kind::Land, "198.18.0.9", T0));
    let two = stored(
        T0 + DAY + 250_000_000,
        "eth0",
        finding(1, Kind::Land, "198.18.0.9", T0 + DAY),
    );
    let line = |s: &Stored| s.finding.summary();
    assert_eq!(
        summaries(std::slice::from_ref(&one)),
        format!("{}\n", line(&one))
    );
    assert_eq!(
        summaries(&[one.clone(), two.clone()]),
        format!(
            "run started 2024-05-01T12:00:00.000Z on eth0:\n{}\n\
             run started 2024-05-02T12:00:00.250Z on eth0:\n{}\n",
            line(&one),
            line(&two)
        )
    );
}

#[test]
fn a_stored_finding_is_its_finding_with_run_and_iface() {
    let s = stored(
        T0 + 5_000_000,
        "eth0",
        finding(3, Kind::Land, "198.18.0.9", T0),
    );
    let text = serde_json::to_string(&s).unwrap();
    assert!(
        text.starts_with(r#"{"run":"2024-05-01T12:00:00.005Z","iface":"eth0","ts":"#),
        "{text}"
    );
    assert_eq!(serde_json::from_str::<Stored>(&text).unwrap(), s);
    // A client reading only findings reads it as one.
    assert_eq!(serde_json::from_str::<Finding>(&text).unwrap(), s.finding);
    assert_eq!(run_id(T0 + 5_123_456), T0 + 5_000_000);
}
