//! What `probe top` asks the daemon on each refresh, on a thread of its own so that a slow or
//! vanished daemon never holds up the keys, and the rates worked out from two answers.
//!
//! A refresh is one query per pane (`stats`, `ports`, `sources`, `findings`, `icmp`) and, while
//! a port's details are open, one `port` query: all answered from what the daemon holds. The
//! findings are asked for incrementally, only those seen lately.

use std::{
    path::{Path, PathBuf},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use serde::de::DeserializeOwned;

use crate::{
    findings::Finding,
    query::{
        answer::{IcmpRow, PortAnswer, PortRow, SourceEntry, Stats},
        client::{self, ClientError},
        protocol::Query,
    },
    source::clock::KernelClock,
};

/// Destination ports asked for: the busiest by total. A port outside them has no rate until
/// its total climbs among them; the rows a daemon holds for a busy interface can be many
/// thousands, and 1,024 keep an answer to about 200 KiB.
pub const PORT_ROWS: usize = 1024;
/// Sources asked for (the daemon's own default).
pub const SOURCE_ROWS: usize = 100;
/// ICMP types and codes asked for.
pub const ICMP_ROWS: usize = 256;
/// How far back each incremental findings query reaches before the latest finding already
/// seen: a finding is written after its wait for answers (2 s by default), so one can arrive
/// with a time older than the newest one held.
pub const FINDINGS_OVERLAP: Duration = Duration::from_secs(30);
/// Longest wait for one answer before the daemon counts as lost.
const ASK_LIMIT: Duration = Duration::from_secs(5);

/// What one refresh asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Want {
    /// Findings last seen at or after this time (ns since the epoch); all the daemon holds
    /// when `None`.
    pub findings_since_ns: Option<u64>,
    /// The port whose details are open.
    pub port: Option<u16>,
}

/// One refresh's answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Answers {
    /// When they were asked for, on a monotonic clock (from the feed's start).
    pub at: Duration,
    /// The same moment on the wall clock (ns since the epoch), the clock the daemon stamps
    /// findings and sources with.
    pub wall_ns: u64,
    pub stats: Stats,
    pub ports: Vec<PortRow>,
    pub sources: Vec<SourceEntry>,
    pub icmp: Vec<IcmpRow>,
    /// The findings answer, oldest first.
    pub findings: Vec<Finding>,
    /// What the findings answer covers: `None` for everything the daemon holds.
    pub findings_since_ns: Option<u64>,
    /// The `port` answer, when one was asked for.
    pub port: Option<PortAnswer>,
}

/// Why a refresh brought nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trouble {
    /// When it was tried, on the feed's monotonic clock.
    pub at: Duration,
    /// The wall-clock time of the try.
    pub wall_ns: u64,
    /// True when the daemon is not there (no socket, refused, closed, silent); false when it
    /// answered but refused (busy).
    pub lost: bool,
    /// What went wrong, in one line.
    pub message: String,
}

/// Asks the daemon on `socket` for what `want` names, about interface `iface` only when given
/// (a daemon watching several). The answers are stamped with the time
/// the totals came (from `start` on the monotonic clock, and on the wall clock): a daemon that
/// was slow to answer is not credited with packets it counted after the stamp.
pub async fn fetch(
    socket: &Path,
    iface: Option<&str>,
    want: &Want,
    start: Instant,
) -> Result<Answers, Trouble> {
    let trouble = |lost: bool, message: String| Trouble {
        at: start.elapsed(),
        wall_ns: KernelClock::now_wall(),
        lost,
        message,
    };
    let ask = async {
        let stats: Stats = ask(socket, iface, Query::Stats).await?;
        let (at, wall_ns) = (start.elapsed(), KernelClock::now_wall());
        let ports: Vec<PortRow> = ask(
            socket,
            iface,
            Query::Ports {
                proto: None,
                source: false,
                top: Some(PORT_ROWS),
            },
        )
        .await?;
        let sources: Vec<SourceEntry> = ask(
            socket,
            iface,
            Query::Sources {
                top: Some(SOURCE_ROWS),
                port: None,
            },
        )
        .await?;
        let findings: Vec<Finding> = ask(
            socket,
            iface,
            Query::Findings {
                since_ns: want.findings_since_ns,
                kind: None,
            },
        )
        .await?;
        let icmp: Vec<IcmpRow> = ask(
            socket,
            iface,
            Query::Icmp {
                top: Some(ICMP_ROWS),
            },
        )
        .await?;
        let port = match want.port {
            Some(port) => Some(ask::<PortAnswer>(socket, iface, Query::Port { port }).await?),
            None => None,
        };
        Ok::<_, Asked>(Answers {
            at,
            wall_ns,
            stats,
            ports,
            sources,
            icmp,
            findings,
            findings_since_ns: want.findings_since_ns,
            port,
        })
    };
    match ask.await {
        Ok(answers) => Ok(answers),
        Err(Asked::Refused(e)) => Err(trouble(false, e.to_string())),
        Err(Asked::Lost(message)) => Err(trouble(true, message)),
    }
}

/// How one query failed: the daemon said no, or is not there.
enum Asked {
    Refused(ClientError),
    Lost(String),
}

async fn ask<T: DeserializeOwned>(
    socket: &Path,
    iface: Option<&str>,
    query: Query,
) -> Result<T, Asked> {
    match tokio::time::timeout(ASK_LIMIT, client::ask_about(socket, iface, query)).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e @ ClientError::Refused { .. })) => Err(Asked::Refused(e)),
        Ok(Err(e)) => Err(Asked::Lost(e.to_string())),
        Err(_) => Err(Asked::Lost(format!(
            "the daemon on {} did not answer within {}s",
            socket.display(),
            ASK_LIMIT.as_secs()
        ))),
    }
}

/// A refresh's outcome.
pub type Outcome = Result<Answers, Trouble>;

/// The thread that asks: one refresh at a time, when told.
pub struct Feed {
    wants: mpsc::Sender<Want>,
    outcomes: mpsc::Receiver<Outcome>,
    /// True from a request until its outcome is taken: a slow daemon is not asked again
    /// before it answered.
    busy: bool,
}

impl Feed {
    /// Starts the asking thread for the daemon on `socket` (about `iface` only, when given).
    pub fn start(socket: PathBuf, iface: Option<String>) -> std::io::Result<Self> {
        let (wants, wanted) = mpsc::channel::<Want>();
        let (told, outcomes) = mpsc::channel::<Outcome>();
        let start = Instant::now();
        thread::Builder::new()
            .name("probe-top-feed".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                for want in wanted {
                    let outcome = match &runtime {
                        Ok(rt) => rt.block_on(fetch(&socket, iface.as_deref(), &want, start)),
                        Err(e) => Err(Trouble {
                            at: start.elapsed(),
                            wall_ns: KernelClock::now_wall(),
                            lost: true,
                            message: format!("cannot start the async runtime: {e}"),
                        }),
                    };
                    if told.send(outcome).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Self {
            wants,
            outcomes,
            busy: false,
        })
    }

    /// Asks for a refresh unless one is under way; false when one was.
    pub fn ask(&mut self, want: Want) -> bool {
        if self.busy {
            return false;
        }
        self.busy = self.wants.send(want).is_ok();
        self.busy
    }

    /// True while a refresh is under way.
    pub const fn is_busy(&self) -> bool {
        self.busy
    }

    /// The outcome of the refresh under way, once it is there.
    pub fn take(&mut self) -> Option<Outcome> {
        let outcome = self.outcomes.try_recv().ok()?;
        self.busy = false;
        Some(outcome)
    }
}

/// Per-second rate of a counter between two answers `seconds` apart: `None` without an
/// earlier value or time between them. A counter that went down started again from zero (a
/// source's slot taken over, the counters reset), so all of it is new.
pub fn rate(now: u64, before: Option<u64>, seconds: f64) -> Option<f64> {
    let before = before?;
    if seconds <= 0.0 {
        return None;
    }
    let delta = if now >= before { now - before } else { now };
    Some(delta as f64 / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_the_difference_over_the_time_between() {
        assert_eq!(rate(130, Some(100), 2.0), Some(15.0));
        assert_eq!(rate(100, Some(100), 1.0), Some(0.0));
        assert_eq!(rate(5, None, 1.0), None);
        assert_eq!(rate(5, Some(1), 0.0), None);
        // Went down: the counter started again, and all of it is new.
        assert_eq!(rate(7, Some(900), 0.5), Some(14.0));
    }

    #[test]
    fn a_missing_daemon_is_a_lost_one_and_says_where_it_was_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("none.sock");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let before = KernelClock::now_wall();
        let outcome = runtime.block_on(fetch(&socket, None, &Want::default(), Instant::now()));
        let trouble = outcome.unwrap_err();
        assert!(trouble.lost);
        assert!(
            trouble.wall_ns >= before && trouble.at < ASK_LIMIT,
            "{trouble:?}"
        );
        assert_eq!(
            trouble.message,
            format!(
                "no probe daemon is serving {}: start one with `probe run --iface IF` (as root), or point --socket at the one that runs",
                socket.display()
            )
        );
    }
}
