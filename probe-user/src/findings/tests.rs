//! The schema, the summary line and the book, exercised together.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use serde_json::{Value, json};

use super::{
    book::{Book, BookConfig, Draft, Later},
    evidence::Evidence,
    schema::{Finding, Kind, Status},
    time::{NS_PER_MS, NS_PER_SEC},
};
use crate::{contact::Proto, knowledge::Level};

const S: u64 = NS_PER_SEC;
/// 2024-05-01T12:00:00Z.
const T0: u64 = 1_714_564_800 * S;

fn draft(kind: Kind, subject: &str, at: u64) -> Draft {
    Draft {
        kind,
        subject: subject.to_owned(),
        level: Level::Suspicious,
        src: Some(subject.to_owned()),
        dst: Some("198.18.0.1".to_owned()),
        proto: Some(Proto::Tcp),
        port: None,
        tool: None,
        add: 1,
        first_seen_ns: at,
        last_seen_ns: at,
        evidence: Some(Evidence::Raw(json!({ "at": at }))),
        explanation: "A test. More words.".to_owned(),
        later: None,
    }
}

fn book() -> Book {
    Book::new(&BookConfig {
        window_secs: 300,
        refresh_secs: 60,
        max_open: 4,
        answer_wait_secs: 0,
    })
}

#[test]
fn kinds_serialise_as_their_documented_names_and_read_back() {
    let mut names = std::collections::BTreeSet::new();
    for kind in Kind::ALL {
        let text = serde_json::to_string(&kind).unwrap();
        assert_eq!(text, format!("\"{}\"", kind.as_str()));
        assert_eq!(serde_json::from_str::<Kind>(&text).unwrap(), kind);
        assert!(names.insert(kind.as_str()), "{kind} twice");
    }
    // Ordered as their names are, which is the order the book walks them in.
    let mut sorted = Kind::ALL;
    sorted.sort();
    assert!(sorted.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
}

#[test]
fn a_finding_is_one_json_object_in_the_documented_shape() {
    let mut b = book();
    let f = b
        .merge(draft(Kind::VerticalScan, "198.18.0.66", T0))
        .remove(0);
    let line = f.to_json_line();
    assert!(!line.contains('\n'));
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        v,
        json!({
            "ts": "2024-05-01T12:00:00.000Z",
            "id": 1,
            "status": "new",
            "kind": "vertical_scan",
            "level": "suspicious",
            "src": "198.18.0.66",
            "dst": "198.18.0.1",
            "proto": "tcp",
            "port": null,
            "tool": null,
            "count": 1,
            "first_seen": "2024-05-01T12:00:00.000Z",
            "last_seen": "2024-05-01T12:00:00.000Z",
            "evidence": { "at": T0 },
            "explanation": "A test. More words."
        })
    );
    let back: Finding = serde_json::from_str(&line).unwrap();
    assert_eq!(back, f);
}

#[test]
fn the_summary_is_one_line_with_the_first_sentence() {
    let mut b = book();
    let mut d = draft(Kind::PortMeaning, "198.18.0.66", T0);
    d.port = Some(31_337);
    let f = b.merge(d).remove(0);
    assert_eq!(
        f.summary(),
        "suspicious port_meaning 198.18.0.66 -> 198.18.0.1 port 31337/tcp (x1, new, #1): A test."
    );
}

#[test]
fn the_same_kind_and_subject_fold_into_one_finding_refreshed_once_per_interval() {
    // 201 drafts over 150 s, the book driven as time goes by: three lines in all.
    let mut b = book();
    let mut lines = b.merge(draft(Kind::VerticalScan, "a", T0));
    for i in 1..=200u64 {
        let at = T0 + i * 750 * NS_PER_MS;
        lines.extend(b.due(at));
        lines.extend(b.merge(draft(Kind::VerticalScan, "a", at)));
    }
    let seen: Vec<_> = lines
        .iter()
        .map(|f| (f.status, f.ts_ns, f.count, f.id))
        .collect();
    assert_eq!(
        seen,
        vec![
            (Status::New, T0, 1, 1),
            (Status::Update, T0 + 60 * S, 80, 1),
            (Status::Update, T0 + 120 * S, 160, 1),
        ]
    );
    assert_eq!(lines[2].last_seen_ns, T0 + 119_250 * NS_PER_MS);
    // Nothing due before 180 s; flush writes the state that changed since 120 s.
    assert!(b.due(T0 + 150 * S).is_empty());
    let last = b.flush(T0 + 152 * S);
    assert_eq!(last.len(), 1);
    assert_eq!(
        (
            last[0].ts_ns,
            last[0].count,
            last[0].id,
            last[0].last_seen_ns
        ),
        (T0 + 152 * S, 201, 1, T0 + 150 * S)
    );
    assert!(b.is_empty());
    assert!(b.flush(T0 + 153 * S).is_empty());
}

#[test]
fn a_refresh_is_stamped_when_it_fell_due_not_when_asked() {
    let mut b = book();
    b.merge(draft(Kind::VerticalScan, "a", T0));
    b.merge(draft(Kind::VerticalScan, "a", T0 + 10 * S));
    let lines = b.due(T0 + 100 * S);
    assert_eq!(lines.len(), 1);
    assert_eq!((lines[0].ts_ns, lines[0].count), (T0 + 60 * S, 2));
}

#[test]
fn a_quiet_finding_closes_after_the_window_and_a_later_draft_opens_a_new_one() {
    let mut b = book();
    b.merge(draft(Kind::Land, "a", T0));
    assert!(b.due(T0 + 299 * S).is_empty());
    assert!(b.is_open(Kind::Land, "a"));
    assert!(b.due(T0 + 300 * S).is_empty(), "unchanged: closes silently");
    assert!(!b.is_open(Kind::Land, "a"));
    let again = b.merge(draft(Kind::Land, "a", T0 + 400 * S));
    assert_eq!(
        (again.len(), again[0].id, again[0].status),
        (1, 2, Status::New)
    );
}

#[test]
fn a_rising_level_is_written_at_once() {
    let mut b = book();
    b.merge(draft(Kind::PortMeaning, "a", T0));
    let mut d = draft(Kind::PortMeaning, "a", T0 + S);
    d.level = Level::Hostile;
    let out = b.merge(d);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].level, out[0].status, out[0].count),
        (Level::Hostile, Status::Update, 2)
    );
}

#[test]
fn the_book_is_bounded() {
    let mut b = book();
    for i in 0..10u64 {
        b.merge(draft(Kind::Land, &format!("s{i}"), T0 + i * S));
    }
    assert_eq!(b.len(), 4);
    assert!(b.is_open(Kind::Land, "s9") && !b.is_open(Kind::Land, "s0"));
}

/// A draft whose evidence is made later, counting how often it is made.
fn later_draft(subject: &str, at: u64, made: &Arc<AtomicUsize>) -> Draft {
    let made = Arc::clone(made);
    Draft {
        evidence: None,
        explanation: String::new(),
        later: Some(Later::new(move || {
            made.fetch_add(1, Ordering::Relaxed);
            (
                Evidence::Raw(json!({ "at": at })),
                format!("Made for {at}. More words."),
            )
        })),
        ..draft(Kind::VerticalScan, subject, at)
    }
}

#[test]
fn evidence_left_for_later_is_made_once_per_line_from_the_latest_draft() {
    let made = Arc::new(AtomicUsize::new(0));
    let mut b = book();
    let new = b.merge(later_draft("a", T0, &made));
    assert_eq!(new.len(), 1);
    assert_eq!(
        (new[0].evidence.clone(), new[0].explanation.as_str()),
        (
            json!({ "at": T0 }),
            format!("Made for {T0}. More words.").as_str()
        )
    );
    assert_eq!(made.load(Ordering::Relaxed), 1);
    // A hundred drafts fold in without a line: nothing is made.
    for i in 1..=100u64 {
        assert!(b.merge(later_draft("a", T0 + i * S / 10, &made)).is_empty());
    }
    assert_eq!(made.load(Ordering::Relaxed), 1);
    // The refresh shows the last draft's evidence, made once.
    let last = T0 + 10 * S;
    let lines = b.due(T0 + 60 * S);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (lines[0].count, lines[0].status, lines[0].evidence.clone()),
        (101, Status::Update, json!({ "at": last }))
    );
    assert_eq!(
        lines[0].explanation,
        format!("Made for {last}. More words.")
    );
    assert_eq!(made.load(Ordering::Relaxed), 2);
    // Asking for the open state makes it again, the same.
    let open = b.open_findings();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].evidence, json!({ "at": last }));
    assert_eq!(made.load(Ordering::Relaxed), 3);
    // Nothing changed since the refresh: the flush writes nothing and makes nothing.
    assert!(b.flush(T0 + 100 * S).is_empty());
    assert_eq!(made.load(Ordering::Relaxed), 3);
}

#[test]
fn a_finding_closed_to_make_room_shows_its_latest_evidence() {
    let made = Arc::new(AtomicUsize::new(0));
    let mut b = book();
    b.merge(later_draft("a", T0, &made));
    b.merge(later_draft("a", T0 + S, &made));
    for (i, subject) in ["b", "c", "d"].into_iter().enumerate() {
        b.merge(draft(Kind::Land, subject, T0 + 2 * S + i as u64));
    }
    // The book holds four: a fifth closes "a", whose refresh is due first.
    let out = b.merge(draft(Kind::Land, "e", T0 + 10 * S));
    assert_eq!(out.len(), 2);
    assert_eq!(
        (out[0].kind.as_str(), out[0].count, out[0].evidence.clone()),
        ("vertical_scan", 2, json!({ "at": T0 + S }))
    );
    assert_eq!(
        out[0].explanation,
        format!("Made for {}. More words.", T0 + S)
    );
    assert_eq!((out[1].kind.as_str(), out[1].status), ("land", Status::New));
    assert_eq!(made.load(Ordering::Relaxed), 2);
}

#[test]
fn a_retired_finding_takes_the_next_drafts_evidence() {
    let made = Arc::new(AtomicUsize::new(0));
    let mut b = book();
    b.merge(later_draft("a", T0, &made));
    b.merge(later_draft("a", T0 + S, &made));
    b.retire(Kind::VerticalScan, "a");
    // Retiring an unknown finding does nothing.
    b.retire(Kind::VerticalScan, "zz");
    b.merge(later_draft("a", T0 + 2 * S, &made));
    let lines = b.flush(T0 + 3 * S);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (lines[0].count, lines[0].evidence.clone()),
        (3, json!({ "at": T0 + 2 * S }))
    );
    assert_eq!(made.load(Ordering::Relaxed), 2);
}

#[test]
fn a_finding_about_probes_waits_for_answers_and_can_be_withdrawn_unwritten() {
    let mut b = Book::new(&BookConfig {
        answer_wait_secs: 2,
        ..BookConfig::default()
    });
    // A smurf does not wait; a scan does, under no id yet.
    assert_eq!(b.merge(draft(Kind::Smurf, "198.18.0.9", T0)).len(), 1);
    assert!(
        b.merge(draft(Kind::VerticalScan, "198.18.0.66", T0))
            .is_empty()
    );
    assert!(
        b.merge(draft(Kind::TrojanProbe, "198.18.0.67", T0))
            .is_empty()
    );
    assert!(b.is_open(Kind::VerticalScan, "198.18.0.66"));
    assert!(b.is_held(Kind::VerticalScan, "198.18.0.66"));
    // Held findings are not shown as open yet, nor counted: the smurf alone, at the level
    // it was drafted with.
    assert_eq!(b.open_findings().len(), 1);
    assert_eq!(b.open_by_level(), [0, 0, 1, 0]);
    // More probes while it waits: counted, still no line.
    assert!(
        b.merge(draft(Kind::VerticalScan, "198.18.0.66", T0 + S))
            .is_empty()
    );
    // An answer withdraws the trojan probe; nothing is ever written of it.
    assert!(b.withdraw(Kind::TrojanProbe, "198.18.0.67"));
    assert!(!b.is_open(Kind::TrojanProbe, "198.18.0.67"));
    assert!(b.due(T0 + 2 * S - 1).is_empty());
    // The wait ends: the scan's first line, with the next id and both probes.
    let lines = b.due(T0 + 2 * S);
    assert_eq!(
        lines
            .iter()
            .map(|f| (f.kind, f.status, f.id, f.count, f.ts_ns))
            .collect::<Vec<_>>(),
        [(Kind::VerticalScan, Status::New, 2, 2, T0 + 2 * S)]
    );
    // Written: an answer can no longer withdraw it.
    assert!(!b.withdraw(Kind::VerticalScan, "198.18.0.66"));
    assert!(b.is_open(Kind::VerticalScan, "198.18.0.66"));
    // A finding still waiting at shutdown is written by the flush.
    assert!(
        b.merge(draft(Kind::PortMeaning, "198.18.0.68", T0 + 3 * S))
            .is_empty()
    );
    let flushed = b.flush(T0 + 4 * S);
    let meaning: Vec<_> = flushed
        .iter()
        .filter(|f| f.kind == Kind::PortMeaning)
        .map(|f| (f.status, f.id))
        .collect();
    assert_eq!(meaning, [(Status::New, 3)]);
}
