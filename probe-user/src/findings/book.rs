//! The book: one open finding per (kind, subject), folded, refreshed and closed.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    sync::Arc,
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Evidence, Finding, Kind, Status, time::NS_PER_SEC};
use crate::{contact::Proto, knowledge::Level};

/// What a detector concluded from one contact, before dedupe.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub kind: Kind,
    /// Who the finding is about beyond its kind (usually the source address): drafts with the
    /// same kind and subject fold into one finding.
    pub subject: String,
    pub level: Level,
    pub src: Option<String>,
    pub dst: Option<String>,
    pub proto: Option<Proto>,
    pub port: Option<u16>,
    /// The scanner the source's probes were recognised as, when known (set by the engine),
    /// with how many of its probes carried the mark, out of how many.
    pub tool: Option<(&'static str, u32, u32)>,
    /// Contacts (or events) this draft adds to the finding's count.
    pub add: u64,
    /// When what the draft describes began; used when the draft opens a finding.
    pub first_seen_ns: u64,
    /// The latest contact the draft rests on.
    pub last_seen_ns: u64,
    /// The detector's whole current evidence (it replaces the previous one); `None` while
    /// `later` is set.
    pub evidence: Option<Evidence>,
    pub explanation: String,
    /// Makes `evidence` and `explanation` (which are then left empty) only when a line needs
    /// them. Most drafts only move a finding's count on and are replaced by the next one
    /// before any line is written, so building their text up front is wasted work.
    pub later: Option<Later>,
}

/// Evidence and explanation made on demand, from a snapshot the detector will not change.
///
/// Still worth its keep with typed evidence: replaying the benchmark's 1M-packet scan capture
/// with every first contact let through took 28% more CPU when every draft made its evidence
/// at once (median user time 4.67 s against 3.66 s).
#[derive(Clone)]
pub struct Later(Arc<dyn Fn() -> (Evidence, String) + Send + Sync>);

impl Later {
    pub fn new(make: impl Fn() -> (Evidence, String) + Send + Sync + 'static) -> Self {
        Self(Arc::new(make))
    }

    pub fn make(&self) -> (Evidence, String) {
        (self.0)()
    }
}

impl fmt::Debug for Later {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Later(..)")
    }
}

impl PartialEq for Later {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// How findings are folded and refreshed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BookConfig {
    /// A finding closes after this long without a new draft; a later draft opens a new one.
    pub window_secs: u64,
    /// A finding that changed is written again at most this often.
    pub refresh_secs: u64,
    /// Open findings kept at most; beyond it the one due soonest is closed early.
    pub max_open: usize,
    /// How long a new finding about probes that may yet be answered (a scan, a sweep, a
    /// port's meaning: [`Kind::waits_for_answer`]) waits before its first line. An answer in
    /// that time (the connection completed, the request got its reply) shows a conversation,
    /// and the detector withdraws the finding unwritten. 0: no wait.
    pub answer_wait_secs: u64,
}

impl Default for BookConfig {
    fn default() -> Self {
        Self {
            window_secs: 300,
            refresh_secs: 60,
            max_open: 4096,
            answer_wait_secs: 2,
        }
    }
}

type Key = (Kind, String);

#[derive(Clone, Debug)]
struct Case {
    /// Its evidence is left empty (see `evidence`), and so is its explanation while `later`
    /// is set.
    finding: Finding,
    /// The latest draft's evidence, written out only when a line is made.
    evidence: Option<Evidence>,
    /// Makes the evidence and explanation of the latest draft. Kept after a line was made
    /// from it, so that the text is made once per line rather than made and then copied.
    later: Option<Later>,
    /// Of the source's probes, how many carried its tool's mark, and how many there were.
    tool_probes: Option<(u32, u32)>,
    /// When the last line for this case was made.
    last_emit_ns: u64,
    /// Changed since the last line.
    dirty: bool,
    /// The deadline under which the case sits in [`Book::deadlines`].
    deadline_ns: u64,
    /// Waiting for answers (see [`BookConfig::answer_wait_secs`]): no line yet, no id yet;
    /// `last_emit_ns` is when the wait began.
    held: bool,
}

impl Case {
    /// The finding as it stands, its evidence and explanation made.
    fn line(&self) -> Finding {
        let mut f = self.finding.clone();
        if let Some(later) = &self.later {
            let (evidence, explanation) = later.make();
            f.evidence = evidence.into_value();
            f.explanation = explanation;
        } else if let Some(evidence) = &self.evidence {
            f.evidence = evidence.clone().into_value();
        }
        if let Some(tool) = f
            .tool
            .as_deref()
            .and_then(crate::knowledge::tools::Tool::from_name)
        {
            f.explanation.push(' ');
            f.explanation.push_str(tool.sentence());
            if let (Some((matched, probes)), serde_json::Value::Object(e)) =
                (self.tool_probes, &mut f.evidence)
            {
                e.insert(
                    "tool_probes".to_owned(),
                    serde_json::json!({"matched": matched, "probes": probes}),
                );
            }
        }
        f
    }
}

/// Open findings, folded by (kind, subject).
#[derive(Clone, Debug)]
pub struct Book {
    window_ns: u64,
    refresh_ns: u64,
    hold_ns: u64,
    max_open: usize,
    /// Open cases by kind, then subject: walked in (kind, subject) order, and looked up by a
    /// borrowed subject without building a key.
    open: BTreeMap<Kind, BTreeMap<String, Case>>,
    /// Cases in `open`.
    open_count: usize,
    /// Every open case under its next deadline (a refresh or its closing).
    deadlines: BTreeSet<(u64, Key)>,
    next_id: u64,
}

impl Book {
    pub fn new(config: &BookConfig) -> Self {
        Self {
            window_ns: config.window_secs.max(1).saturating_mul(NS_PER_SEC),
            refresh_ns: config.refresh_secs.max(1).saturating_mul(NS_PER_SEC),
            hold_ns: config.answer_wait_secs.saturating_mul(NS_PER_SEC),
            max_open: config.max_open.max(1),
            open: BTreeMap::new(),
            open_count: 0,
            deadlines: BTreeSet::new(),
            next_id: 1,
        }
    }

    /// Whether a finding of this kind and subject is open.
    pub fn is_open(&self, kind: Kind, subject: &str) -> bool {
        self.open
            .get(&kind)
            .is_some_and(|cases| cases.contains_key(subject))
    }

    /// Whether the finding of this kind and subject is open and still waiting for answers
    /// (no line written yet).
    pub fn is_held(&self, kind: Kind, subject: &str) -> bool {
        self.open
            .get(&kind)
            .and_then(|cases| cases.get(subject))
            .is_some_and(|c| c.held)
    }

    /// Drops the finding of this kind and subject if it is still waiting for answers: an
    /// answer showed that what it was about is a conversation. True when it was dropped; a
    /// finding whose line was written stays.
    pub fn withdraw(&mut self, kind: Kind, subject: &str) -> bool {
        if !self.is_held(kind, subject) {
            return false;
        }
        if let Some(case) = self.remove(kind, subject) {
            self.deadlines
                .remove(&(case.deadline_ns, (kind, subject.to_owned())));
        }
        true
    }

    /// Open findings.
    pub fn len(&self) -> usize {
        self.open_count
    }

    pub fn is_empty(&self) -> bool {
        self.open_count == 0
    }

    fn case_mut(&mut self, kind: Kind, subject: &str) -> Option<&mut Case> {
        self.open.get_mut(&kind)?.get_mut(subject)
    }

    fn remove(&mut self, kind: Kind, subject: &str) -> Option<Case> {
        let case = self.open.get_mut(&kind)?.remove(subject)?;
        self.open_count -= 1;
        Some(case)
    }

    /// Drops the unmade evidence of an open finding: the caller is about to change what it was
    /// to be made from, and merges a draft for the same finding right after, before anything
    /// else reads the book. That frees the snapshot, so the detector can change it in place
    /// instead of copying it.
    pub fn retire(&mut self, kind: Kind, subject: &str) {
        if let Some(case) = self.case_mut(kind, subject) {
            case.later = None;
        }
    }

    /// Folds a draft in. Returns the lines it causes: a new finding, an update when the level
    /// rose, or a finding closed early to make room.
    pub fn merge(&mut self, d: Draft) -> Vec<Finding> {
        let mut out = Vec::new();
        let (window_ns, refresh_ns, hold_ns) = (self.window_ns, self.refresh_ns, self.hold_ns);
        if let Some(case) = self
            .open
            .get_mut(&d.kind)
            .and_then(|c| c.get_mut(&d.subject))
        {
            let old_deadline = case.deadline_ns;
            let f = &mut case.finding;
            let rose = d.level > f.level;
            // A new verdict on who is behind it (a decoy scan naming its real source, a scanner
            // recognised) is news.
            let renamed =
                d.src != f.src || d.tool.is_some_and(|(t, ..)| f.tool.as_deref() != Some(t));
            if let Some((tool, matched, probes)) = d.tool {
                f.tool = Some(tool.to_owned());
                case.tool_probes = Some((matched, probes));
            }
            f.level = f.level.max(d.level);
            f.count = f.count.saturating_add(d.add);
            f.last_seen_ns = f.last_seen_ns.max(d.last_seen_ns);
            f.first_seen_ns = f.first_seen_ns.min(d.first_seen_ns);
            f.src = d.src;
            f.dst = d.dst;
            f.proto = d.proto;
            f.port = d.port;
            // Left empty by a draft with a `later`.
            case.evidence = d.evidence;
            f.explanation = d.explanation;
            case.later = d.later;
            case.dirty = true;
            if (rose || renamed) && !case.held {
                // A finding that became more worrying, or now names someone else, is worth a
                // line at once.
                out.push(emit_from(case, d.last_seen_ns, &mut self.next_id));
            }
            let new_deadline = deadline(window_ns, refresh_ns, hold_ns, case);
            case.deadline_ns = new_deadline;
            // Between two lines of a busy finding the deadline stays put.
            if new_deadline != old_deadline {
                let key: Key = (d.kind, d.subject);
                self.deadlines.remove(&(old_deadline, key.clone()));
                self.deadlines.insert((new_deadline, key));
            }
            return out;
        }
        if self.open_count >= self.max_open
            && let Some((_, (kind, subject))) = self.deadlines.pop_first()
            && let Some(mut case) = self.remove(kind, &subject)
            && case.dirty
        {
            let at = d.last_seen_ns.max(case.last_emit_ns);
            out.push(self.emit(&mut case, at));
        }
        let held = self.hold_ns > 0 && d.kind.waits_for_answer();
        let id = if held { 0 } else { self.take_id() };
        let ts = d.last_seen_ns;
        let finding = Finding {
            ts_ns: ts,
            id,
            status: Status::New,
            kind: d.kind,
            level: d.level,
            src: d.src,
            dst: d.dst,
            proto: d.proto,
            port: d.port,
            tool: d.tool.map(|(t, ..)| t.to_owned()),
            count: d.add,
            first_seen_ns: d.first_seen_ns.min(ts),
            last_seen_ns: ts,
            evidence: Value::Null,
            explanation: d.explanation,
        };
        let mut case = Case {
            finding,
            evidence: d.evidence,
            later: d.later,
            tool_probes: d.tool.map(|(_, matched, probes)| (matched, probes)),
            last_emit_ns: ts,
            dirty: held,
            deadline_ns: 0,
            held,
        };
        if !held {
            out.push(case.line());
        }
        case.deadline_ns = deadline(self.window_ns, self.refresh_ns, self.hold_ns, &case);
        self.deadlines
            .insert((case.deadline_ns, (d.kind, d.subject.clone())));
        self.open.entry(d.kind).or_default().insert(d.subject, case);
        self.open_count += 1;
        out
    }

    /// How many findings are open (their first line written), by level: benign, notable,
    /// suspicious, hostile. Counted without making their lines.
    pub fn open_by_level(&self) -> [u64; 4] {
        let mut by = [0u64; 4];
        for case in self.open.values().flat_map(BTreeMap::values) {
            if !case.held {
                by[case.finding.level as usize] += 1;
            }
        }
        by
    }

    /// The current state of every open finding, as its next line would show it.
    pub fn open_findings(&self) -> Vec<Finding> {
        self.open
            .values()
            .flat_map(BTreeMap::values)
            .filter(|c| !c.held)
            .map(Case::line)
            .collect()
    }

    /// Lines that fell due by `now_ns`: refreshes of changed findings (stamped with the moment
    /// each fell due) and last lines of findings that close. In time order.
    pub fn due(&mut self, now_ns: u64) -> Vec<Finding> {
        let mut out = Vec::new();
        while let Some((at, _)) = self.deadlines.first()
            && *at <= now_ns
        {
            let Some((at, key)) = self.deadlines.pop_first() else {
                break;
            };
            let (window_ns, refresh_ns, hold_ns) = (self.window_ns, self.refresh_ns, self.hold_ns);
            let Some(case) = self
                .open
                .get_mut(&key.0)
                .and_then(|cases| cases.get_mut(&key.1))
            else {
                continue;
            };
            let closes = case.finding.last_seen_ns.saturating_add(window_ns) <= at;
            if case.dirty {
                out.push(emit_from(case, at, &mut self.next_id));
            }
            if closes {
                self.remove(key.0, &key.1);
            } else {
                let next = deadline(window_ns, refresh_ns, hold_ns, case);
                case.deadline_ns = next;
                self.deadlines.insert((next, key));
            }
        }
        out
    }

    /// On shutdown: the last state of every finding that changed since its last line, stamped
    /// `now_ns`. Everything is closed afterwards.
    pub fn flush(&mut self, now_ns: u64) -> Vec<Finding> {
        let mut out = self.due(now_ns);
        let mut rest: Vec<Case> = std::mem::take(&mut self.open)
            .into_values()
            .flat_map(BTreeMap::into_values)
            .collect();
        self.open_count = 0;
        self.deadlines.clear();
        rest.sort_by_key(|c| (c.finding.last_seen_ns, c.finding.id));
        for case in &mut rest {
            if case.dirty {
                let at = now_ns.max(case.finding.last_seen_ns);
                out.push(self.emit(case, at));
            }
        }
        out
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    /// [`emit_from`] with this book's ids.
    fn emit(&mut self, case: &mut Case, ts: u64) -> Finding {
        emit_from(case, ts, &mut self.next_id)
    }
}

/// When `case` next needs attention: the end of its wait for answers while it is held, a
/// refresh if it changed, else its closing.
fn deadline(window_ns: u64, refresh_ns: u64, hold_ns: u64, case: &Case) -> u64 {
    if case.held {
        return case.last_emit_ns.saturating_add(hold_ns);
    }
    let closing = case.finding.last_seen_ns.saturating_add(window_ns);
    if case.dirty {
        closing.min(case.last_emit_ns.saturating_add(refresh_ns))
    } else {
        closing
    }
}

/// A line for `case` as it stands, stamped `ts`; the case is clean afterwards. A held case's
/// first line: it opens the finding (`new`) and takes its id from `next_id`.
fn emit_from(case: &mut Case, ts: u64, next_id: &mut u64) -> Finding {
    let ts = ts.max(case.finding.last_seen_ns);
    let opens = std::mem::take(&mut case.held);
    if opens {
        case.finding.id = *next_id;
        *next_id = next_id.saturating_add(1);
    }
    case.dirty = false;
    case.last_emit_ns = ts;
    let mut f = case.line();
    f.ts_ns = ts;
    f.status = if opens { Status::New } else { Status::Update };
    f
}
