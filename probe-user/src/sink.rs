//! Where findings go: a human line in the log (warn for suspicious and hostile, info below), JSON
//! Lines to stdout and/or a file, the findings history (an SQLite database, `crate::history`),
//! and a bounded memory of recent findings for `probe query findings`.
//!
//! Every line is written and flushed as it is made, so a reader tailing the file sees each
//! finding at once, and a crash loses nothing already reported. A line an output cannot take
//! (a full disk) is held whole and written when it can be, never in part.

use std::{
    collections::VecDeque,
    fs::OpenOptions,
    io::{self, Write},
    path::PathBuf,
};

use crate::{findings::Finding, knowledge::Level};

/// How many findings the memory keeps by default.
pub const DEFAULT_KEEP: usize = 10_000;
/// Bytes of JSON the memory keeps at most, whatever `keep` says: the oldest lines go first.
/// A finding's line is 1 to 3 KiB (its explanation and evidence), so a flood that opens
/// thousands would otherwise hold tens of MiB for `probe query findings`.
pub const KEEP_BYTES: usize = 8 << 20;

/// Where to send findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkOptions {
    /// A human line per finding through the `log` crate.
    pub log: bool,
    /// The log line starts with the interface (the daemon watches several).
    pub log_iface: bool,
    /// JSON Lines to stdout (`--json`).
    pub json_stdout: bool,
    /// JSON Lines appended to this file (`--findings FILE`).
    pub file: Option<PathBuf>,
    /// Findings kept in memory for queries (the latest line of each).
    pub keep: usize,
    /// The field names of the JSON lines written (queries always answer in the native ones).
    pub format: Format,
    /// The watched interface: each native line's `iface`, the ECS format's
    /// `observer.ingress.interface.name`. Empty (a replay): no `iface` field.
    pub iface: String,
    /// Each finding's summary line also to the syslog socket at this path (`/dev/log`).
    pub syslog: Option<PathBuf>,
    /// The daemon run these findings belong to ([`crate::history::run_id`]): finding ids count
    /// from 1 in each run.
    pub run: u64,
    /// Every finding also kept in this history database.
    pub history: Option<crate::history::writer::Options>,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self {
            log: true,
            log_iface: false,
            json_stdout: false,
            file: None,
            keep: DEFAULT_KEEP,
            format: Format::Native,
            iface: String::new(),
            syslog: None,
            run: 0,
            history: None,
        }
    }
}

/// The field names of the findings written (`--findings-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The probe's own schema (docs/findings.md).
    #[default]
    Native,
    /// Elastic Common Schema names, the probe's own fields under `probe.*`.
    Ecs,
}

/// A findings output that could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot open the findings file {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write findings to {to}")]
    Write {
        to: String,
        #[source]
        source: io::Error,
    },
}

/// Summary lines to a local syslog daemon's datagram socket, in the format its C library
/// callers use (`<PRI>Mmm dd hh:mm:ss probe[PID]: text`; RFC 3164), facility daemon, the
/// severity from the finding's level. A socket that is missing or refuses is said once in the
/// log, and said again when it takes lines again; the findings still go everywhere else.
struct Syslog {
    socket: std::os::unix::net::UnixDatagram,
    path: PathBuf,
    failing: bool,
}

impl Syslog {
    fn new(path: PathBuf) -> Result<Self, SinkError> {
        let socket =
            std::os::unix::net::UnixDatagram::unbound().map_err(|source| SinkError::Open {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            socket,
            path,
            failing: false,
        })
    }

    fn send(&mut self, finding: &Finding) {
        // Facility daemon (3); severity: warning (4) for hostile, notice (5) for suspicious,
        // info (6) below.
        let severity = match finding.level {
            Level::Hostile => 4,
            Level::Suspicious => 5,
            _ => 6,
        };
        let stamp = crate::findings::time::format_syslog(finding.ts_ns);
        let message = format!(
            "<{}>{stamp} probe[{}]: {}",
            3 * 8 + severity,
            std::process::id(),
            finding.summary()
        );
        let sent = self.socket.send_to(message.as_bytes(), &self.path);
        match (sent, self.failing) {
            (Ok(_), true) => {
                self.failing = false;
                log::info!("syslog at {} takes findings again", self.path.display());
            }
            (Err(e), false) => {
                self.failing = true;
                log::warn!(
                    "sending findings to syslog at {} failed: {e}; the other outputs go on",
                    self.path.display()
                );
            }
            // Working as before, or failing and already said so.
            (Ok(_), false) | (Err(_), true) => {}
        }
    }
}

/// Opens `path` for appending, creating it if missing.
fn append(path: &PathBuf) -> Result<std::fs::File, SinkError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| SinkError::Open {
            path: path.clone(),
            source,
        })
}

/// Lines an output holds at most, in bytes, while it cannot be written (a full disk): beyond
/// it the oldest are dropped and counted.
pub const MAX_HELD_BYTES: usize = 8 << 20;

/// Where an output's lines go.
enum Target {
    /// A stream (standard output, a pipe, a buffer in a test): written as it comes.
    Stream(Box<dyn Write + Send>),
    /// A findings file, appended to, opened again by [`Sink::reopen`] (log rotation). A line
    /// that could not be written whole is cut off again, so the file always parses.
    File { path: PathBuf, file: std::fs::File },
}

impl Target {
    /// Writes one whole line, or none of it.
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        match self {
            Self::Stream(w) => w.write_all(line).and_then(|()| w.flush()),
            Self::File { file, .. } => {
                let before = file.metadata()?.len();
                file.write_all(line).inspect_err(|_| {
                    // The part that fit would glue the next line to it.
                    let _ = file.set_len(before);
                })
            }
        }
    }
}

/// One JSON Lines output, what to call it in errors, and the lines it could not write yet.
struct Output {
    name: String,
    target: Target,
    /// Whole lines waiting for the output to take them again, oldest first.
    held: VecDeque<Vec<u8>>,
    held_bytes: usize,
    /// Lines dropped from `held` to stay within [`MAX_HELD_BYTES`] since the last report.
    lost: u64,
    /// Writing failed, and the failure was reported: later failures are not again.
    failing: bool,
}

impl Output {
    fn new(name: String, target: Target) -> Self {
        Self {
            name,
            target,
            held: VecDeque::new(),
            held_bytes: 0,
            lost: 0,
            failing: false,
        }
    }

    /// Queues `line` behind what is held, dropping the oldest beyond the bound.
    fn hold(&mut self, line: Vec<u8>) {
        self.held_bytes += line.len();
        self.held.push_back(line);
        while self.held_bytes > MAX_HELD_BYTES
            && let Some(old) = self.held.pop_front()
        {
            self.held_bytes -= old.len();
            self.lost += 1;
        }
    }

    /// Writes every held line, oldest first, each whole or not at all; stops at the first
    /// that fails and keeps it.
    fn write_held(&mut self) -> io::Result<()> {
        while let Some(line) = self.held.front() {
            self.target.write_line(line)?;
            if let Some(done) = self.held.pop_front() {
                self.held_bytes -= done.len();
            }
        }
        Ok(())
    }

    /// Writes `line`: at once when nothing is held (no copy), else behind what is.
    fn send(&mut self, line: &[u8]) -> Result<(), SinkError> {
        if self.held.is_empty() {
            return match self.target.write_line(line) {
                Ok(()) => Ok(()),
                Err(e) => {
                    self.hold(line.to_vec());
                    self.failed(e)
                }
            };
        }
        self.hold(line.to_vec());
        self.flush()
    }

    /// A write failed: an error the first time, nothing more until the output works again.
    fn failed(&mut self, source: io::Error) -> Result<(), SinkError> {
        if self.failing {
            return Ok(());
        }
        self.failing = true;
        Err(SinkError::Write {
            to: self.name.clone(),
            source,
        })
    }

    /// Tries the held lines again. Returns an error the first time writing fails (not each
    /// time after), and says in the log when the output works again and what was lost.
    fn flush(&mut self) -> Result<(), SinkError> {
        match self.write_held() {
            Ok(()) => {
                if self.failing {
                    self.failing = false;
                    log::info!(
                        "{} takes findings again: every line held was written",
                        self.name
                    );
                }
                if self.lost > 0 {
                    log::warn!(
                        "{} lost {} findings lines while it could not be written (more than {MAX_HELD_BYTES} bytes were waiting)",
                        self.name,
                        self.lost
                    );
                    self.lost = 0;
                }
                Ok(())
            }
            Err(source) => self.failed(source),
        }
    }
}

/// Writes findings and remembers the recent ones.
pub struct Sink {
    log: bool,
    log_iface: bool,
    outputs: Vec<Output>,
    /// The latest line of each recent finding, oldest first.
    recent: VecDeque<Kept>,
    /// Bytes of JSON in `recent`.
    kept_bytes: usize,
    keep: usize,
    format: Format,
    iface: String,
    syslog: Option<Syslog>,
    /// Findings opened (their `new` line written), by kind and the level they opened at: the
    /// metrics' `probe_findings_total`.
    opened: std::collections::BTreeMap<(crate::findings::Kind, Level), u64>,
    run: u64,
    history: Option<crate::history::writer::Writer>,
}

/// A finding remembered for queries: its line as written (a few hundred bytes where the
/// parsed form, with its evidence as JSON objects, takes several times that), and what the
/// query filters on.
struct Kept {
    id: u64,
    kind: crate::findings::Kind,
    last_seen_ns: u64,
    line: Box<str>,
}

impl Sink {
    /// Opens the outputs `options` asks for (the file in append mode, created if missing).
    pub fn new(options: &SinkOptions) -> Result<Self, SinkError> {
        let mut sink = Self {
            log: options.log,
            log_iface: options.log_iface,
            outputs: Vec::new(),
            recent: VecDeque::new(),
            kept_bytes: 0,
            opened: std::collections::BTreeMap::new(),
            keep: options.keep,
            format: options.format,
            iface: options.iface.clone(),
            syslog: options.syslog.clone().map(Syslog::new).transpose()?,
            run: options.run,
            history: options
                .history
                .clone()
                .and_then(crate::history::writer::Writer::start),
        };
        if options.json_stdout {
            sink.outputs.push(Output::new(
                "stdout".to_owned(),
                Target::Stream(Box::new(io::stdout())),
            ));
        }
        if let Some(path) = &options.file {
            sink.outputs.push(Output::new(
                path.display().to_string(),
                Target::File {
                    path: path.clone(),
                    file: append(path)?,
                },
            ));
        }
        Ok(sink)
    }

    /// Opens every findings file again by its path, so that after a rotation (the file moved
    /// away) lines go to a new file of the same name. A file that cannot be opened keeps the
    /// old one and is returned as the error.
    pub fn reopen(&mut self) -> Result<(), SinkError> {
        let mut first_error = None;
        for out in &mut self.outputs {
            let Target::File { path, file } = &mut out.target else {
                continue;
            };
            match append(path) {
                Ok(new) => *file = new,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Adds a JSON Lines output (a pipe, a buffer in a test); `name` is used in errors.
    #[must_use]
    pub fn with_writer(mut self, name: &str, writer: Box<dyn Write + Send>) -> Self {
        self.outputs
            .push(Output::new(name.to_owned(), Target::Stream(writer)));
        self
    }

    /// Tries again every line an output could not take yet (after a full disk frees up).
    pub fn retry(&mut self) -> Result<(), SinkError> {
        let mut first_error = None;
        for out in &mut self.outputs {
            if let Err(e) = out.flush() {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Logs, writes and remembers one finding. Every output is tried; the first failure is
    /// returned.
    pub fn write(&mut self, finding: &Finding) -> Result<(), SinkError> {
        if self.log {
            let on = if self.log_iface {
                format!("{}: ", crate::printable::line(&self.iface))
            } else {
                String::new()
            };
            if finding.level >= Level::Suspicious {
                log::warn!("{on}{}", finding.summary());
            } else {
                log::info!("{on}{}", finding.summary());
            }
        }
        let mut line = finding.to_json_line();
        self.remember(finding, &line);
        if let Some(history) = &mut self.history {
            history.send(finding, &line);
        }
        if finding.status == crate::findings::Status::New {
            *self
                .opened
                .entry((finding.kind, finding.level))
                .or_default() += 1;
        }
        if let Some(syslog) = &mut self.syslog {
            syslog.send(finding);
        }
        if self.format == Format::Ecs {
            line = crate::findings::ecs::to_ecs_line(finding, &self.iface);
        } else if !self.iface.is_empty() {
            line = finding.to_json_line_on(&self.iface);
        }
        line.push('\n');
        let mut first_error = None;
        self.outputs.retain_mut(|out| {
            match out.send(line.as_bytes()) {
                Ok(()) => true,
                // The reader went away (`probe run --json | head -1`): nobody reads this
                // output any more. Said once; the log and the other outputs go on.
                Err(SinkError::Write { source, .. })
                    if source.kind() == io::ErrorKind::BrokenPipe =>
                {
                    log::warn!(
                        "{} was closed by its reader: no more findings are written there",
                        out.name
                    );
                    false
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                    true
                }
            }
        });
        first_error.map_or(Ok(()), Err)
    }

    /// Findings opened so far, by kind and the level they opened at.
    pub fn opened(&self) -> &std::collections::BTreeMap<(crate::findings::Kind, Level), u64> {
        &self.opened
    }

    /// The daemon run these findings belong to.
    pub fn run(&self) -> u64 {
        self.run
    }

    /// The watched interface.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Findings of this interface in the history (earlier runs' too), at most the [`DEFAULT_KEEP`]
    /// seen last: those seen at or after `since_ns`, of kind `kind`, when given. Nothing
    /// without a history.
    pub fn history(
        &self,
        since_ns: Option<u64>,
        kind: Option<&str>,
    ) -> Vec<crate::history::Stored> {
        self.history.as_ref().map_or_else(Vec::new, |h| {
            h.read(&crate::history::Filter {
                since_ns,
                kind: kind.map(str::to_owned),
                limit: Some(DEFAULT_KEEP),
                ..crate::history::Filter::default()
            })
            .findings
        })
    }

    /// Commits what the history was handed, waiting a few seconds at most (at the end).
    pub fn flush_history(&self) {
        if let Some(h) = &self.history
            && !h.flush(std::time::Duration::from_secs(5))
        {
            log::warn!("the findings history did not take the last findings within 5 s");
        }
    }

    /// The latest state of recent findings, oldest first: those seen (`last_seen`) at or after
    /// `since_ns`, of kind `kind`, when given.
    pub fn recent(&self, since_ns: Option<u64>, kind: Option<&str>) -> Vec<Finding> {
        self.recent
            .iter()
            .filter(|f| since_ns.is_none_or(|s| f.last_seen_ns >= s))
            .filter(|f| kind.is_none_or(|k| f.kind == k))
            // Lines this sink wrote itself: they parse (times to the millisecond, as written).
            .filter_map(|f| serde_json::from_str(&f.line).ok())
            .collect()
    }

    /// Findings held in memory.
    pub fn len(&self) -> usize {
        self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
    }

    fn remember(&mut self, finding: &Finding, line: &str) {
        if self.keep == 0 {
            return;
        }
        // An update replaces the earlier line of its finding and moves it to the back.
        if let Some(i) = self.recent.iter().rposition(|f| f.id == finding.id)
            && let Some(old) = self.recent.remove(i)
        {
            self.kept_bytes -= old.line.len();
        }
        while self.recent.len() >= self.keep || self.kept_bytes + line.len() > KEEP_BYTES {
            let Some(old) = self.recent.pop_front() else {
                break;
            };
            self.kept_bytes -= old.line.len();
        }
        self.kept_bytes += line.len();
        self.recent.push_back(Kept {
            id: finding.id,
            kind: finding.kind,
            last_seen_ns: finding.last_seen_ns,
            line: line.into(),
        });
    }
}

/// The daemon's findings: a failed write is logged once, the lines are held and tried again
/// each interval, and the daemon keeps watching.
impl crate::pipeline::Output for Sink {
    fn write(&mut self, finding: Finding) {
        if let Err(e) = Sink::write(self, &finding) {
            log::error!(
                "writing findings failed: {}; holding the lines and trying again each interval",
                crate::error::Chain(&e)
            );
        }
    }

    fn tick(&mut self) {
        if let Err(e) = self.retry() {
            log::error!(
                "writing findings failed: {}; holding the lines and trying again each interval",
                crate::error::Chain(&e)
            );
        }
    }

    fn finish(&mut self) {
        self.flush_history();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::json;

    use super::*;
    use crate::{
        contact::Proto,
        findings::{Kind, Status},
    };

    const T0: u64 = 1_714_564_800_000_000_000;

    fn finding(id: u64, kind: Kind, status: Status, last: u64) -> Finding {
        Finding {
            ts_ns: last,
            id,
            status,
            kind,
            level: Level::Suspicious,
            src: Some("198.18.0.66".to_owned()),
            dst: Some("198.18.0.1".to_owned()),
            proto: Some(Proto::Tcp),
            port: None,
            tool: None,
            count: id,
            first_seen_ns: T0,
            last_seen_ns: last,
            evidence: json!({}),
            explanation: "Test.".to_owned(),
        }
    }

    /// A writer whose bytes the test can read.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn quiet(keep: usize) -> Sink {
        Sink::new(&SinkOptions {
            log: false,
            keep,
            ..SinkOptions::default()
        })
        .unwrap()
    }

    #[test]
    fn ecs_lines_go_to_the_outputs_and_summaries_to_syslog_while_queries_keep_the_native_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        listener
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let buf = Shared::default();
        let mut sink = Sink::new(&SinkOptions {
            log: false,
            format: Format::Ecs,
            iface: "eth0".to_owned(),
            syslog: Some(path.clone()),
            ..SinkOptions::default()
        })
        .unwrap()
        .with_writer("buffer", Box::new(buf.clone()));
        let mut f = finding(1, Kind::TrojanProbe, Status::New, T0);
        f.level = Level::Hostile;
        f.port = Some(31_337);
        sink.write(&f).unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            format!("{}\n", crate::findings::ecs::to_ecs_line(&f, "eth0"))
        );
        let mut got = [0u8; 512];
        let n = listener.recv(&mut got).unwrap();
        assert_eq!(
            std::str::from_utf8(&got[..n]).unwrap(),
            format!(
                "<28>May  1 12:00:00 probe[{}]: hostile trojan_probe 198.18.0.66 -> 198.18.0.1 \
                 port 31337/tcp (x1, new, #1): Test.",
                std::process::id()
            )
        );
        assert_eq!(sink.recent(None, None), [f]);
        // The socket gone: the finding still reaches the other outputs.
        drop(listener);
        sink.write(&finding(2, Kind::Land, Status::New, T0))
            .unwrap();
        assert_eq!(
            String::from_utf8(buf.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .count(),
            2
        );
    }

    #[test]
    fn a_daemons_native_lines_name_their_interface_and_a_replays_do_not() {
        let buf = Shared::default();
        let mut sink = Sink::new(&SinkOptions {
            log: false,
            iface: "eth1".to_owned(),
            ..SinkOptions::default()
        })
        .unwrap()
        .with_writer("buffer", Box::new(buf.clone()));
        let f = finding(3, Kind::VerticalScan, Status::New, T0);
        sink.write(&f).unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let plain = f.to_json_line();
        // The native line, its `iface` last.
        assert_eq!(
            text,
            format!("{},\"iface\":\"eth1\"}}\n", &plain[..plain.len() - 1])
        );
        let back: Finding = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(back, f);
        // Without an interface (a replay): the line as it was.
        let buf = Shared::default();
        let mut replay = quiet(10).with_writer("buffer", Box::new(buf.clone()));
        replay.write(&f).unwrap();
        assert_eq!(
            String::from_utf8(buf.0.lock().unwrap().clone()).unwrap(),
            format!("{plain}\n")
        );
    }

    #[test]
    fn each_finding_is_one_json_line() {
        let buf = Shared::default();
        let mut sink = quiet(10).with_writer("buffer", Box::new(buf.clone()));
        for f in [
            finding(1, Kind::VerticalScan, Status::New, T0),
            finding(2, Kind::Land, Status::New, T0),
        ] {
            sink.write(&f).unwrap();
        }
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(text.ends_with('\n'));
        let back: Finding = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(back, finding(2, Kind::Land, Status::New, T0));
    }

    #[test]
    fn the_file_is_appended_and_readable_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("findings.jsonl");
        std::fs::write(&path, "earlier\n").unwrap();
        let mut sink = Sink::new(&SinkOptions {
            log: false,
            file: Some(path.clone()),
            ..SinkOptions::default()
        })
        .unwrap();
        sink.write(&finding(1, Kind::Smurf, Status::New, T0))
            .unwrap();
        // Not dropped, not closed: the line is already on disk.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("earlier\n{"));
        assert_eq!(text.lines().count(), 2);
        let missing = Sink::new(&SinkOptions {
            file: Some(dir.path().join("no/such/dir/f.jsonl")),
            ..SinkOptions::default()
        });
        assert!(matches!(missing, Err(SinkError::Open { .. })));
    }

    #[test]
    fn recent_keeps_the_latest_line_per_finding_and_filters() {
        let mut sink = quiet(3);
        sink.write(&finding(1, Kind::VerticalScan, Status::New, T0))
            .unwrap();
        sink.write(&finding(2, Kind::Land, Status::New, T0 + 10))
            .unwrap();
        sink.write(&finding(1, Kind::VerticalScan, Status::Update, T0 + 20))
            .unwrap();
        let all = sink.recent(None, None);
        assert_eq!(
            all.iter().map(|f| (f.id, f.status)).collect::<Vec<_>>(),
            vec![(2, Status::New), (1, Status::Update)]
        );
        assert_eq!(sink.recent(Some(T0 + 15), None).len(), 1);
        assert_eq!(sink.recent(None, Some("land")).len(), 1);
        assert!(sink.recent(None, Some("smurf")).is_empty());
        // Bounded: the oldest goes.
        for id in 3..=5 {
            sink.write(&finding(id, Kind::Land, Status::New, T0 + 30))
                .unwrap();
        }
        assert_eq!(sink.len(), 3);
        assert_eq!(
            sink.recent(None, None)
                .iter()
                .map(|f| f.id)
                .collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
    }

    #[test]
    fn recent_findings_are_bounded_by_bytes_as_well_as_by_number() {
        // Findings of 64 KiB of explanation each: 128 of them are the 8 MiB budget, so the
        // memory keeps the latest 127 however many `keep` allows.
        let mut sink = quiet(10_000);
        let big = |id| Finding {
            explanation: "x".repeat(64 << 10),
            ..finding(id, Kind::Land, Status::New, T0 + id)
        };
        let line = big(1).to_json_line().len();
        for id in 1..=300 {
            sink.write(&big(id)).unwrap();
        }
        let kept = KEEP_BYTES / line;
        assert_eq!(sink.len(), kept);
        let ids: Vec<u64> = sink.recent(None, None).iter().map(|f| f.id).collect();
        assert_eq!(ids, ((300 - kept as u64 + 1)..=300).collect::<Vec<_>>());
        // What is kept reads back whole, times to the millisecond as the lines say.
        let last = sink.recent(Some(T0 + 300), None);
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].explanation.len(), 64 << 10);
    }

    /// A writer that fails every write with `kind`.
    struct Broken(io::ErrorKind);

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_output_is_reported_once_holds_its_lines_and_the_others_still_get_them() {
        let buf = Shared::default();
        let mut sink = quiet(10)
            .with_writer("disk", Box::new(Broken(io::ErrorKind::StorageFull)))
            .with_writer("buffer", Box::new(buf.clone()));
        let err = sink
            .write(&finding(1, Kind::Land, Status::New, T0))
            .unwrap_err();
        assert!(err.to_string().starts_with("cannot write findings to disk"));
        // Reported once: later lines are held without another error.
        sink.write(&finding(2, Kind::Land, Status::New, T0))
            .expect("a failure already reported");
        assert!(sink.retry().is_ok());
        assert_eq!(sink.outputs[0].held.len(), 2);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert_eq!(sink.len(), 2);
    }

    #[test]
    fn an_output_whose_reader_went_away_is_dropped_without_an_error() {
        let buf = Shared::default();
        let mut sink = quiet(10)
            .with_writer("pipe", Box::new(Broken(io::ErrorKind::BrokenPipe)))
            .with_writer("buffer", Box::new(buf.clone()));
        for id in 1..=3 {
            sink.write(&finding(id, Kind::Land, Status::New, T0))
                .expect("a closed pipe is no error");
        }
        assert_eq!(sink.outputs.len(), 1, "the pipe is gone, the buffer stays");
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 3);
    }
}
