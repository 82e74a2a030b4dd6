//! The daemon's side of the history: a thread of its own that takes finding lines from the
//! findings sink and commits them at least every [`COMMIT_EVERY`], so a daemon killed at any
//! moment loses at most the lines of its last half second, and a slow or locked database never
//! holds up the packets' path.
//!
//! Nothing the database does stops the daemon: a history that cannot be opened or written (a
//! full disk, a damaged file, a lock held elsewhere) is said once in the log, up to
//! [`MAX_HELD_BYTES`] of lines wait for it, and it is tried again every [`RETRY_EVERY`]; when
//! it takes lines again the log says so, and how many had to be dropped meanwhile.

use std::{
    collections::VecDeque,
    os::unix::fs::{DirBuilderExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc::{self, RecvTimeoutError, SyncSender, TrySendError},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use super::{Filter, HistoryError, Read, Row, Store};
use crate::{error::Chain, findings::Finding, source::clock::KernelClock};

/// Lines are committed at most this long after they were written.
pub const COMMIT_EVERY: Duration = Duration::from_millis(500);
/// A history that failed is tried again this often.
pub const RETRY_EVERY: Duration = Duration::from_secs(10);
/// Findings older than the retention are removed at start and then this often.
pub const PRUNE_EVERY: Duration = Duration::from_hours(1);
/// Bytes of lines held while the history cannot be written; beyond it the oldest are dropped
/// and counted.
pub const MAX_HELD_BYTES: usize = 8 << 20;
/// Lines handed to the thread and not yet taken: beyond it (the thread far behind) lines are
/// dropped for the history only, and counted.
const QUEUE: usize = 4096;

/// What the daemon's history is: where, which run, which interface, kept how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub path: PathBuf,
    /// The daemon run's start ([`super::run_id`]).
    pub run: u64,
    pub iface: String,
    /// Findings last seen longer ago than this are removed.
    pub keep: Duration,
}

enum Message {
    Row(Row),
    /// Commit what is held, then say so.
    Flush(SyncSender<()>),
}

/// Hands finding lines to the history's thread.
pub struct Writer {
    options: Options,
    to_thread: Option<SyncSender<Message>>,
    thread: Option<JoinHandle<()>>,
    /// Lines the queue could not take since that was last said.
    dropped: u64,
    /// A read for a query failed and that was said; said again once one works.
    read_failing: AtomicBool,
}

impl Writer {
    /// Starts the history at `options.path`: its directory is made if missing (when that
    /// fails, the daemon runs without a history: said once, `None`), the database opened now,
    /// while the daemon still may create files anywhere, and a thread started to write it.
    /// A database that cannot be opened is said in the log and tried again later.
    pub fn start(options: Options) -> Option<Self> {
        if let Some(dir) = options.path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
            && let Err(e) = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
        {
            log::warn!(
                "cannot create {} for the findings history: {e}; running without a history \
                 (--history PATH puts it elsewhere, --no-history turns it off)",
                dir.display()
            );
            return None;
        }
        let existed = options.path.exists();
        let store = match Store::open(&options.path) {
            Ok(store) => {
                if !existed {
                    restrict(&options.path);
                }
                log::info!(
                    "keeping findings in {} for {} days",
                    options.path.display(),
                    options.keep.as_secs() / 86_400
                );
                Some(store)
            }
            Err(e) => {
                log::error!(
                    "{}; findings go on everywhere else, and the history is tried again every {} s",
                    Chain(&e),
                    RETRY_EVERY.as_secs()
                );
                None
            }
        };
        let (to_thread, from_daemon) = mpsc::sync_channel(QUEUE);
        let thread = {
            let options = options.clone();
            std::thread::Builder::new()
                .name("probe-history".to_owned())
                .spawn(move || Thread::new(options, store).serve(&from_daemon))
        };
        match thread {
            Ok(thread) => Some(Self {
                options,
                to_thread: Some(to_thread),
                thread: Some(thread),
                dropped: 0,
                read_failing: AtomicBool::new(false),
            }),
            Err(e) => {
                log::error!("cannot start the findings history's thread: {e}; running without");
                None
            }
        }
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Hands over `finding`, whose native JSON line is `line`. Never waits.
    pub fn send(&mut self, finding: &Finding, line: &str) {
        let Some(to_thread) = &self.to_thread else {
            return;
        };
        let row = Row::new(
            self.options.run,
            &self.options.iface,
            finding,
            line.to_owned(),
        );
        match to_thread.try_send(Message::Row(row)) {
            Ok(()) => {
                if self.dropped > 0 {
                    log::warn!(
                        "the findings history fell behind and missed {} findings lines (the other outputs have them)",
                        self.dropped
                    );
                    self.dropped = 0;
                }
            }
            Err(TrySendError::Full(_)) => self.dropped += 1,
            Err(TrySendError::Disconnected(_)) => {
                log::error!("the findings history's thread ended; running without a history");
                self.to_thread = None;
            }
        }
    }

    /// Commits what was handed over, waiting at most `limit`; false when that was not done.
    pub fn flush(&self, limit: Duration) -> bool {
        let Some(to_thread) = &self.to_thread else {
            return false;
        };
        let (done, wait) = mpsc::sync_channel(1);
        if to_thread.send(Message::Flush(done)).is_err() {
            return false;
        }
        wait.recv_timeout(limit).is_ok()
    }

    /// The findings of this interface that `filter` asks for, read from the database as
    /// committed (the findings of the last half second may not be there yet). A failure is
    /// said once, until a read works again, and reads as nothing.
    pub fn read(&self, filter: &Filter) -> Read {
        let filter = Filter {
            iface: Some(self.options.iface.clone()),
            ..filter.clone()
        };
        match super::read(&self.options.path, &filter) {
            Ok(read) => {
                if self.read_failing.swap(false, Ordering::Relaxed) {
                    log::info!("the findings history answers queries again");
                }
                read
            }
            Err(e) => {
                if !self.read_failing.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        "{}; queries answer from memory only until it reads again",
                        Chain(&e)
                    );
                }
                Read::default()
            }
        }
    }
}

impl Drop for Writer {
    /// Commits what is held and waits for the thread.
    fn drop(&mut self) {
        drop(self.to_thread.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A new database file: readable by its owner and the `probe` group (when it exists) only,
/// as the query socket is. Findings name addresses.
fn restrict(path: &Path) {
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640));
    let _ = crate::privilege::socket_group(path);
}

/// The thread's state.
struct Thread {
    options: Options,
    store: Option<Store>,
    held: VecDeque<Row>,
    held_bytes: usize,
    /// Lines dropped from `held` since that was last said.
    lost: u64,
    /// Writing failed and that was said; said again once it works.
    failing: bool,
    /// When a closed history is next opened again.
    reopen_at: Instant,
}

impl Thread {
    fn new(options: Options, store: Option<Store>) -> Self {
        Self {
            failing: store.is_none(),
            options,
            store,
            held: VecDeque::new(),
            held_bytes: 0,
            lost: 0,
            reopen_at: Instant::now() + RETRY_EVERY,
        }
    }

    /// Takes lines until the daemon's side is gone, committing them within
    /// [`COMMIT_EVERY`] (or [`RETRY_EVERY`] after a failure), pruning every
    /// [`PRUNE_EVERY`]; commits what is held at the end.
    fn serve(mut self, from_daemon: &mpsc::Receiver<Message>) {
        let mut commit_at: Option<Instant> = None;
        let mut prune_at = Instant::now();
        loop {
            let now = Instant::now();
            if now >= prune_at {
                self.prune();
                prune_at = now + PRUNE_EVERY;
            }
            let wake = commit_at.map_or(prune_at, |c| c.min(prune_at));
            let mut flushed = None;
            match from_daemon.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(Message::Row(row)) => {
                    self.hold(row);
                    commit_at.get_or_insert(now + COMMIT_EVERY);
                }
                Ok(Message::Flush(done)) => {
                    flushed = Some(done);
                    commit_at = Some(now);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    if !self.commit() && !self.held.is_empty() {
                        log::error!(
                            "{} findings lines could not be written to the findings history {}",
                            self.held.len(),
                            self.options.path.display()
                        );
                    }
                    return;
                }
            }
            if commit_at.is_some_and(|at| Instant::now() >= at) {
                commit_at = if self.commit() {
                    None
                } else {
                    Some(Instant::now() + RETRY_EVERY)
                };
            }
            if let Some(done) = flushed {
                let _ = done.send(());
            }
        }
    }

    fn hold(&mut self, row: Row) {
        self.held_bytes += row.size();
        self.held.push_back(row);
        while self.held_bytes > MAX_HELD_BYTES
            && let Some(old) = self.held.pop_front()
        {
            self.held_bytes -= old.size();
            self.lost += 1;
        }
    }

    /// Opens the database again when it is closed and a retry is due.
    fn reopen(&mut self) {
        if self.store.is_none() && Instant::now() >= self.reopen_at {
            self.reopen_at = Instant::now() + RETRY_EVERY;
            match Store::open(&self.options.path) {
                Ok(store) => self.store = Some(store),
                Err(e) => self.failed(&e),
            }
        }
    }

    /// Writes what is held in one transaction; true when nothing is left held.
    fn commit(&mut self) -> bool {
        if self.held.is_empty() {
            return true;
        }
        self.reopen();
        let Some(store) = self.store.as_mut() else {
            return false;
        };
        match store.write(self.held.make_contiguous()) {
            Ok(()) => {
                let written = self.held.len();
                self.held.clear();
                self.held_bytes = 0;
                if self.failing {
                    self.failing = false;
                    log::info!(
                        "the findings history {} takes findings again: {written} held lines written",
                        self.options.path.display()
                    );
                }
                if self.lost > 0 {
                    log::warn!(
                        "the findings history lost {} findings lines while it could not be written (more than {MAX_HELD_BYTES} bytes were waiting)",
                        self.lost
                    );
                    self.lost = 0;
                }
                true
            }
            Err(e) => {
                self.failed(&e);
                false
            }
        }
    }

    /// Removes what is older than the retention.
    fn prune(&mut self) {
        let keep = u64::try_from(self.options.keep.as_nanos()).unwrap_or(u64::MAX);
        let before = KernelClock::now_wall().saturating_sub(keep);
        self.reopen();
        let Some(store) = self.store.as_mut() else {
            return;
        };
        match store.prune(before) {
            Ok(0) => {}
            Ok(n) => log::info!(
                "removed {n} findings older than {} days from the findings history",
                self.options.keep.as_secs() / 86_400
            ),
            Err(e) => self.failed(&e),
        }
    }

    /// Says the first failure; later ones only once it worked again.
    fn failed(&mut self, e: &HistoryError) {
        if !self.failing {
            self.failing = true;
            log::error!(
                "{}; holding up to {} MiB of findings for it and trying again every {} s; the daemon keeps watching",
                Chain(e),
                MAX_HELD_BYTES >> 20,
                RETRY_EVERY.as_secs()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        contact::Proto,
        findings::{Kind, Status},
        knowledge::Level,
    };

    fn finding(id: u64) -> Finding {
        let now = KernelClock::now_wall();
        Finding {
            ts_ns: now,
            id,
            status: Status::New,
            kind: Kind::TrojanProbe,
            level: Level::Hostile,
            src: Some("198.18.0.66".to_owned()),
            dst: Some("198.18.0.1".to_owned()),
            proto: Some(Proto::Tcp),
            port: Some(31_337),
            tool: None,
            count: 1,
            first_seen_ns: now,
            last_seen_ns: now,
            evidence: json!({}),
            explanation: "Test.".to_owned(),
        }
    }

    fn options(path: PathBuf) -> Options {
        Options {
            path,
            run: 1_000_000,
            iface: "eth0".to_owned(),
            keep: Duration::from_hours(24),
        }
    }

    fn ids(path: &Path) -> Vec<u64> {
        super::super::read(path, &Filter::default())
            .unwrap()
            .findings
            .iter()
            .map(|s| s.finding.id)
            .collect()
    }

    #[test]
    fn lines_handed_over_are_committed_within_the_commit_interval_and_on_flush() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/findings.db");
        let mut writer = Writer::start(options(path.clone())).expect("a writer");
        // The directory was made and the file is kept from other users.
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        writer.send(&finding(1), &finding(1).to_json_line());
        let deadline = Instant::now() + COMMIT_EVERY * 4;
        while ids(&path).is_empty() {
            assert!(Instant::now() < deadline, "not committed in time");
            std::thread::sleep(Duration::from_millis(20));
        }
        writer.send(&finding(2), &finding(2).to_json_line());
        assert!(writer.flush(Duration::from_secs(5)));
        assert_eq!(ids(&path), [1, 2]);
        assert_eq!(writer.read(&Filter::default()).findings.len(), 2);
        writer.send(&finding(3), &finding(3).to_json_line());
        drop(writer);
        assert_eq!(ids(&path), [1, 2, 3], "dropping the writer commits");
    }

    #[test]
    fn a_history_that_cannot_be_written_holds_its_lines_and_takes_them_when_it_works_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("findings.db");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        // What Writer::start does when the file is damaged: no store, tried again later.
        let mut thread = Thread::new(options(path.clone()), Store::open(&path).ok());
        assert!(thread.store.is_none() && thread.failing);
        let f = finding(1);
        thread.hold(Row::new(1_000_000, "eth0", &f, f.to_json_line()));
        thread.reopen_at = Instant::now();
        assert!(!thread.commit());
        assert_eq!(thread.held.len(), 1);
        // Not yet due: no new attempt.
        std::fs::remove_file(&path).unwrap();
        assert!(!thread.commit());
        thread.reopen_at = Instant::now();
        assert!(thread.commit());
        assert!(thread.held.is_empty() && !thread.failing);
        assert_eq!(ids(&path), [1]);
    }

    #[test]
    fn held_lines_are_bounded_and_the_oldest_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut thread = Thread::new(options(dir.path().join("findings.db")), None);
        let mut f = finding(1);
        f.explanation = "x".repeat(1 << 20);
        let line = f.to_json_line();
        for id in 1..=10 {
            f.id = id;
            thread.hold(Row::new(1_000_000, "eth0", &f, line.clone()));
        }
        assert!(thread.held_bytes <= MAX_HELD_BYTES);
        assert_eq!(thread.held.len() as u64 + thread.lost, 10);
        assert_eq!(thread.held.front().map(|r| r.id), Some(thread.lost + 1));
    }

    #[test]
    fn a_directory_that_cannot_be_made_means_no_history() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(Writer::start(options(file.join("sub/findings.db"))).is_none());
    }
}
