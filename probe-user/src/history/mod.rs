//! The findings history: every finding line the daemon writes, also kept in an SQLite database
//! on the host (default [`DEFAULT_PATH`]), so that what was found survives the daemon.
//!
//! One row per finding: a finding's first line inserts it, each later line replaces it, so a
//! row always holds the finding's latest state (the whole JSON line, as `--findings` writes it)
//! and what the queries filter on. Finding ids count from 1 in each daemon run; a row is keyed
//! by the run (the daemon's start, to the millisecond), the interface and the id, so two runs'
//! finding 1 stay two findings.
//!
//! The daemon writes through [`writer::Writer`] (a thread of its own, one transaction at least
//! every half second); `probe history`, `probe report` and the daemon's findings query read
//! through [`Store::read`]. The database runs in WAL mode: readers never wait for the writer.

pub mod writer;

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Duration,
};

use rusqlite::{Connection, OpenFlags, params};
use serde::{Deserialize, Serialize};

use crate::{
    findings::{Finding, format_rfc3339_ms},
    knowledge::Level,
};

/// Where `probe run` keeps the history unless told otherwise.
pub const DEFAULT_PATH: &str = "/var/lib/probe/findings.db";
/// Days a finding is kept after it was last seen, unless told otherwise.
pub const DEFAULT_DAYS: u32 = 30;
/// Marks the file as this program's (`PRAGMA application_id`): "prob".
const APPLICATION_ID: i32 = 0x7072_6f62;
/// The layout written here (`PRAGMA user_version`).
const SCHEMA_VERSION: i32 = 1;
/// How long a statement waits for another connection's lock before it fails (and the writer
/// tries again later).
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS findings (
    run INTEGER NOT NULL,
    iface TEXT NOT NULL,
    id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    level INTEGER NOT NULL,
    src TEXT,
    port INTEGER,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (run, iface, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS findings_last_seen ON findings (last_seen);
";

/// A history that cannot be used, said in one line.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot open the findings history {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: Cause,
    },
    #[error(
        "{path} is not a findings history: it is another program's SQLite database (application id {found:#x})"
    )]
    Foreign { path: PathBuf, found: i32 },
    #[error(
        "the findings history {path} has layout {found}, newer than this probe reads ({SCHEMA_VERSION}): use a newer probe"
    )]
    Newer { path: PathBuf, found: i32 },
    #[error("no findings history at {0}: the daemon writes one with probe run --history PATH")]
    Missing(PathBuf),
    #[error(
        "cannot read the findings history {path} (the daemon makes it readable by its owner and the group probe)"
    )]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the findings history {path} failed")]
    Sql {
        path: PathBuf,
        #[source]
        source: Cause,
    },
}

/// What SQLite said, once: rusqlite's error repeats its message in its own source.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Cause(String);

impl From<rusqlite::Error> for Cause {
    fn from(e: rusqlite::Error) -> Self {
        Self(e.to_string())
    }
}

/// A finding as the history keeps it: which daemon run found it, on which interface. Written
/// as the finding's own JSON object with `run` and `iface` first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    /// When the daemon run that found it started (nanoseconds since the Unix epoch, whole
    /// milliseconds), written as an RFC 3339 time. Ids count from 1 in each run.
    #[serde(with = "crate::findings::schema::rfc3339")]
    pub run: u64,
    /// The interface the daemon watched.
    pub iface: String,
    #[serde(flatten)]
    pub finding: Finding,
}

/// The start of a daemon run: `now_ns` to the millisecond, as a run is written.
pub fn run_id(now_ns: u64) -> u64 {
    now_ns - now_ns % 1_000_000
}

/// Which rows to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only findings last seen at or after this time.
    pub since_ns: Option<u64>,
    /// Only findings of this kind.
    pub kind: Option<String>,
    /// Only findings whose `src` is this.
    pub src: Option<String>,
    /// Only findings of this interface.
    pub iface: Option<String>,
    /// At most this many, the most recently seen.
    pub limit: Option<usize>,
}

/// What a read found: findings ordered by run and id (the order they opened in), and how many
/// rows could not be read back (damaged lines).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Read {
    pub findings: Vec<Stored>,
    pub damaged: usize,
}

/// One finding's row as written: its identity, what queries filter on, and its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub run: u64,
    pub iface: String,
    pub id: u64,
    pub kind: &'static str,
    pub level: Level,
    pub src: Option<String>,
    pub port: Option<u16>,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    /// The finding's JSON line in the native schema (docs/findings.md).
    pub line: String,
}

impl Row {
    /// The row of `finding`, found in run `run` on `iface`; `line` is its native JSON line.
    pub fn new(run: u64, iface: &str, finding: &Finding, line: String) -> Self {
        Self {
            run,
            iface: iface.to_owned(),
            id: finding.id,
            kind: finding.kind.as_str(),
            level: finding.level,
            src: finding.src.clone(),
            port: finding.port,
            first_seen_ns: finding.first_seen_ns,
            last_seen_ns: finding.last_seen_ns,
            line,
        }
    }

    /// Bytes it holds, for bounding what waits to be written.
    pub fn size(&self) -> usize {
        self.line.len() + self.iface.len() + self.src.as_ref().map_or(0, String::len) + 64
    }
}

/// SQLite stores signed integers; times and ids stay far below 2^63.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn level_number(level: Level) -> i64 {
    match level {
        Level::Benign => 0,
        Level::Notable => 1,
        Level::Suspicious => 2,
        Level::Hostile => 3,
    }
}

/// An open history database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating it if missing) the history at `path` for writing: WAL journal, its
    /// table made if new. A file that is not a database, or another program's, is refused.
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        let open = |source: rusqlite::Error| HistoryError::Open {
            path: path.to_owned(),
            source: source.into(),
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open)?;
        let store = Self {
            conn,
            path: path.to_owned(),
        };
        store.check_owner()?;
        // WAL: a reader (probe history, a query) never waits for the daemon's writes, and a
        // commit costs one append. NORMAL synchronisation: a commit survives the process being
        // killed, and a power cut can lose only the last commits, never the file.
        store
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .map_err(open)?;
        store
            .conn
            .execute_batch(&format!(
                "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -1024;
                 PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};
                 {SCHEMA}"
            ))
            .map_err(open)?;
        Ok(store)
    }

    /// Opens the history at `path` for reading only; it must exist. A reader that may not
    /// write beside the file (no root, the daemon stopped) cannot make the shared-memory file
    /// WAL readers use; with no write-ahead log left (the daemon's last close folds it in)
    /// the file is then read as one that nobody changes.
    pub fn open_read(path: &Path) -> Result<Self, HistoryError> {
        match std::fs::File::open(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(HistoryError::Missing(path.to_owned()));
            }
            Err(source) => {
                return Err(HistoryError::Unreadable {
                    path: path.to_owned(),
                    source,
                });
            }
            Ok(_) => {}
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let first = Self::open_with(path, path, flags);
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        match first {
            Err(HistoryError::Open { .. }) if !Path::new(&wal).exists() => Self::open_with(
                path,
                &immutable_uri(path),
                flags | OpenFlags::SQLITE_OPEN_URI,
            ),
            other => other,
        }
    }

    fn open_with(path: &Path, name: &Path, flags: OpenFlags) -> Result<Self, HistoryError> {
        let open = |source: rusqlite::Error| HistoryError::Open {
            path: path.to_owned(),
            source: source.into(),
        };
        let conn = Connection::open_with_flags(name, flags).map_err(open)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open)?;
        let store = Self {
            conn,
            path: path.to_owned(),
        };
        store.check_owner()?;
        Ok(store)
    }

    /// Refuses a file that is not an SQLite database (the first read says so), another
    /// program's database, or a newer layout.
    fn check_owner(&self) -> Result<(), HistoryError> {
        let open = |source: rusqlite::Error| HistoryError::Open {
            path: self.path.clone(),
            source: source.into(),
        };
        let id: i32 = self
            .conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(open)?;
        let version: i32 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(open)?;
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(open)?;
        if id != APPLICATION_ID && (id != 0 || tables != 0) {
            return Err(HistoryError::Foreign {
                path: self.path.clone(),
                found: id,
            });
        }
        if version > SCHEMA_VERSION {
            return Err(HistoryError::Newer {
                path: self.path.clone(),
                found: version,
            });
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Sql {
            path: self.path.clone(),
            source: source.into(),
        }
    }

    /// Writes `rows` in one transaction: each replaces the earlier state of its finding.
    pub fn write(&mut self, rows: &[Row]) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let sql = |source: rusqlite::Error| HistoryError::Sql {
            path: path.clone(),
            source: source.into(),
        };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO findings
                       (run, iface, id, kind, level, src, port, first_seen, last_seen, line)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (run, iface, id) DO UPDATE SET
                       kind = excluded.kind, level = excluded.level, src = excluded.src,
                       port = excluded.port, first_seen = excluded.first_seen,
                       last_seen = excluded.last_seen, line = excluded.line",
                )
                .map_err(sql)?;
            for r in rows {
                upsert
                    .execute(params![
                        int(r.run),
                        r.iface,
                        int(r.id),
                        r.kind,
                        level_number(r.level),
                        r.src,
                        r.port,
                        int(r.first_seen_ns),
                        int(r.last_seen_ns),
                        r.line,
                    ])
                    .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// Removes the findings last seen before `before_ns`; returns how many.
    pub fn prune(&mut self, before_ns: u64) -> Result<usize, HistoryError> {
        self.conn
            .execute(
                "DELETE FROM findings WHERE last_seen < ?1",
                params![int(before_ns)],
            )
            .map_err(|e| self.sql(e))
    }

    /// The findings `filter` asks for, ordered by run and id. A row whose line does not read
    /// back as a finding is counted, not returned.
    pub fn read(&self, filter: &Filter) -> Result<Read, HistoryError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT run, iface, line FROM findings
                 WHERE last_seen >= ?1
                   AND (?2 IS NULL OR kind = ?2)
                   AND (?3 IS NULL OR src = ?3)
                   AND (?4 IS NULL OR iface = ?4)
                 ORDER BY last_seen DESC
                 LIMIT ?5",
            )
            .map_err(|e| self.sql(e))?;
        let limit = filter.limit.map_or(-1, |n| i64::try_from(n).unwrap_or(-1));
        let rows = statement
            .query_map(
                params![
                    int(filter.since_ns.unwrap_or(0)),
                    filter.kind,
                    filter.src,
                    filter.iface,
                    limit
                ],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .map_err(|e| self.sql(e))?;
        let mut read = Read::default();
        for row in rows {
            let (run, iface, line) = row.map_err(|e| self.sql(e))?;
            match (u64::try_from(run), serde_json::from_str::<Finding>(&line)) {
                (Ok(run), Ok(finding)) => read.findings.push(Stored {
                    run,
                    iface,
                    finding,
                }),
                _ => read.damaged += 1,
            }
        }
        read.findings
            .sort_by(|a, b| (a.run, &a.iface, a.finding.id).cmp(&(b.run, &b.iface, b.finding.id)));
        Ok(read)
    }

    /// Findings held, for tests and the log.
    pub fn count(&self) -> Result<u64, HistoryError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM findings", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The latest `last_seen` held, if any.
    pub fn newest(&self) -> Result<Option<u64>, HistoryError> {
        let n: Option<i64> = self
            .conn
            .query_row("SELECT max(last_seen) FROM findings", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        Ok(n.and_then(|n| u64::try_from(n).ok()))
    }
}

/// `file:PATH?immutable=1`, the path's bytes outside the URI's plain ones percent-encoded.
fn immutable_uri(path: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt as _;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            let _ = write!(uri, "%{b:02X}");
        }
    }
    uri.push_str("?immutable=1");
    PathBuf::from(uri)
}

/// Reads `filter`'s findings from the history at `path` (read-only; no daemon needed).
pub fn read(path: &Path, filter: &Filter) -> Result<Read, HistoryError> {
    Store::open_read(path)?.read(filter)
}

/// Merges findings of the history with the newer states held in memory: one per (run,
/// interface, id), the memory's where both have one, ordered by run and id.
pub fn merge(history: Vec<Stored>, memory: Vec<Stored>) -> Vec<Stored> {
    let mut by_key: std::collections::BTreeMap<(u64, String, u64), Stored> = history
        .into_iter()
        .map(|s| ((s.run, s.iface.clone(), s.finding.id), s))
        .collect();
    for s in memory {
        by_key.insert((s.run, s.iface.clone(), s.finding.id), s);
    }
    by_key.into_values().collect()
}

/// Findings as lines for people, one [`Finding::summary`] each, in the order given. When they
/// come from more than one daemon run (whose ids each count from 1), each run's findings
/// follow a line naming the run: `run started 2024-05-01T12:00:00.000Z on eth0:`.
pub fn summaries(findings: &[Stored]) -> String {
    let first = findings.first().map(|s| (s.run, s.iface.as_str()));
    let several = findings
        .iter()
        .any(|s| Some((s.run, s.iface.as_str())) != first);
    let mut out = String::new();
    let mut run = None;
    for s in findings {
        if several && run != Some((s.run, s.iface.as_str())) {
            run = Some((s.run, s.iface.as_str()));
            let _ = writeln!(
                out,
                "run started {} on {}:",
                format_rfc3339_ms(s.run),
                s.iface
            );
        }
        out.push_str(&s.finding.summary());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
