//! Findings: what the detectors concluded, in the documented schema (`docs/findings.md`), and
//! the book that turns a stream of conclusions into few lines.
//!
//! A detector says what one contact shows as a [`Draft`]. The [`Book`] keeps one open
//! [`Finding`] per (kind, subject) — the subject is usually the source address — and folds later
//! drafts into it: the count grows, `last_seen` and the evidence move on. It emits a finding
//! once when it opens (`status: "new"`), then at most once per refresh interval while drafts
//! keep arriving (`status: "update"`), and once more on [`Book::flush`] if anything changed
//! since the last line. A case closes when no draft arrived for the window.
//!
//! Every time in here comes from the contacts or from the caller's `now_ns`, never from the
//! system clock, and refreshes are stamped with the moment they fell due rather than the moment
//! someone asked: the same contacts give the same lines, live or replayed.
//!
//! [`schema`] holds what is written (a [`Finding`], its [`Kind`] and [`Status`]), [`evidence`]
//! what each kind rests on, [`book`] the folding, [`text`] the line for people, [`time`] the RFC 3339 times.

pub mod book;
pub mod ecs;
pub mod evidence;
pub mod schema;
pub mod text;
pub mod time;

pub use self::{
    book::{Book, BookConfig, Draft, Later},
    evidence::Evidence,
    schema::{Finding, Kind, Status},
    time::{format_rfc3339_ms, parse_rfc3339},
};

#[cfg(test)]
mod tests;
