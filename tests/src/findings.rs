//! Findings as the daemon writes them (`--findings FILE`, `probe query findings --json`) and as
//! `probe replay --json` prints them, read into a plain struct so assertions read simply.
//!
//! Every line of one finding carries the same `id`; a later line (`status: "update"`) replaces
//! an earlier one. [`latest`] keeps the last line of each finding, which after the daemon's
//! shutdown flush (or at the end of a replay) is its final state.

use std::{collections::BTreeSet, path::Path, process::Command};

use serde_json::Value;

use crate::daemon::probe_bin;

/// One line of a finding (docs/findings.md, "One finding, as JSON").
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub id: u64,
    /// `new` or `update`.
    pub status: String,
    pub kind: String,
    pub level: String,
    pub src: Option<String>,
    pub dst: Option<String>,
    pub proto: Option<String>,
    pub port: Option<u16>,
    /// The scanner the source's probes were recognised as.
    pub tool: Option<String>,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub evidence: Value,
    pub explanation: String,
}

/// What two runs over the same traffic must agree on: (kind, src, dst, port, level).
pub type FindingKey = (String, Option<String>, Option<String>, Option<u16>, String);

impl Finding {
    /// Reads one finding object; panics with the object when the schema does not match.
    pub fn from_json(v: &Value) -> Self {
        let text = |name: &str| {
            v.get(name).and_then(Value::as_str).map_or_else(
                || panic!("finding has no string {name:?}: {v}"),
                str::to_owned,
            )
        };
        let nullable = |name: &str| match v.get(name) {
            Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            _ => panic!("finding has no string-or-null {name:?}: {v}"),
        };
        let number = |name: &str| {
            v.get(name)
                .and_then(Value::as_u64)
                .unwrap_or_else(|| panic!("finding has no integer {name:?}: {v}"))
        };
        let port = match v.get("port") {
            Some(Value::Null) => None,
            Some(p) => Some(
                p.as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or_else(|| panic!("finding's port is not a port number: {v}")),
            ),
            None => panic!("finding has no \"port\": {v}"),
        };
        Self {
            id: number("id"),
            status: text("status"),
            kind: text("kind"),
            level: text("level"),
            src: nullable("src"),
            dst: nullable("dst"),
            proto: nullable("proto"),
            port,
            tool: nullable("tool"),
            count: number("count"),
            first_seen: text("first_seen"),
            last_seen: text("last_seen"),
            evidence: v
                .get("evidence")
                .cloned()
                .unwrap_or_else(|| panic!("finding has no \"evidence\": {v}")),
            explanation: text("explanation"),
        }
    }

    /// What a live run and a replay of its capture must agree on.
    pub fn key(&self) -> FindingKey {
        (
            self.kind.clone(),
            self.src.clone(),
            self.dst.clone(),
            self.port,
            self.level.clone(),
        )
    }
}

/// Every JSON line of `text` (JSON Lines, as `--findings` and `replay --json` write them).
pub fn parse_lines(text: &str) -> Vec<Finding> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("a findings line is not JSON ({e}): {l}"));
            Finding::from_json(&v)
        })
        .collect()
}

/// The last line of each finding, ordered by `id`: the final state of every finding.
pub fn latest(lines: Vec<Finding>) -> Vec<Finding> {
    let mut by_id = std::collections::BTreeMap::new();
    for f in lines {
        by_id.insert(f.id, f);
    }
    by_id.into_values().collect()
}

/// The findings of kind `kind`.
pub fn of_kind<'a>(findings: &'a [Finding], kind: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.kind == kind).collect()
}

/// The one finding of kind `kind`; panics (listing every finding) unless there is exactly one.
pub fn only<'a>(findings: &'a [Finding], kind: &str) -> &'a Finding {
    match of_kind(findings, kind).as_slice() {
        [one] => one,
        found => panic!(
            "expected exactly one {kind} finding, got {}; all findings:\n{}",
            found.len(),
            describe(findings)
        ),
    }
}

/// The set of kinds found.
pub fn kinds(findings: &[Finding]) -> BTreeSet<String> {
    findings.iter().map(|f| f.kind.clone()).collect()
}

/// The set of (kind, src, dst, port, level).
pub fn keys(findings: &[Finding]) -> BTreeSet<FindingKey> {
    findings.iter().map(Finding::key).collect()
}

/// One line per finding, for failure messages.
pub fn describe(findings: &[Finding]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for f in findings {
        let _ = writeln!(
            out,
            "  #{} {} {} {} -> {} {} port {:?} x{} evidence {}",
            f.id,
            f.level,
            f.kind,
            f.src.as_deref().unwrap_or("null"),
            f.dst.as_deref().unwrap_or("null"),
            f.proto.as_deref().unwrap_or("null"),
            f.port,
            f.count,
            f.evidence
        );
    }
    out
}

/// What `probe replay FILE --json` did.
#[derive(Debug)]
pub struct Replay {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Its standard output: one JSON line per finding line.
    pub stdout: String,
    /// Its standard error: the summary or the error.
    pub stderr: String,
}

impl Replay {
    /// Every line printed, in order.
    pub fn lines(&self) -> Vec<Finding> {
        parse_lines(&self.stdout)
    }

    /// The final state of every finding.
    pub fn findings(&self) -> Vec<Finding> {
        latest(self.lines())
    }
}

/// Runs the scapy program `program` (with `args` in its `sys.argv`) to write capture files
/// offline: nothing is sent, so no root and no lab. Panics with its output unless it succeeds.
pub fn write_captures(program: &str, args: &[&str]) {
    let out = Command::new(probe_lab::python())
        .arg("-c")
        .arg(program)
        .args(args)
        .output()
        .expect("running scapy");
    assert!(out.status.success(), "scapy failed: {out:?}");
}

/// Runs `probe replay <capture> --json` (offline: no root, no daemon).
pub fn replay(capture: &Path) -> Replay {
    replay_with(capture, &[])
}

/// Replays `capture` and checks that it finds what the live daemon found (`live`): the same
/// (kind, source, destination, port, level) for every finding. Returns the replay's findings.
pub fn replay_agrees(capture: &Path, live: &[Finding]) -> Vec<Finding> {
    let replayed = replay(capture);
    assert_eq!(replayed.code, Some(0), "{}", replayed.stderr);
    let again = replayed.findings();
    assert_eq!(
        keys(&again),
        keys(live),
        "the replay of {} found:\n{}",
        capture.display(),
        describe(&again)
    );
    again
}

/// [`replay`] with more `probe replay` arguments (`--detectors F`, `--event-rate N`...).
pub fn replay_with(capture: &Path, extra: &[&str]) -> Replay {
    let bin = probe_bin();
    let out = Command::new("timeout")
        .arg("60")
        .arg(&bin)
        .arg("replay")
        .arg(capture)
        .arg("--json")
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} replay: {e}", bin.display()));
    Replay {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
