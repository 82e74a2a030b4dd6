//! The daemon's side of the query socket.

use std::{
    io,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    net::{UnixListener, UnixStream},
    sync::watch,
};

use super::{answer, frame, protocol};
use crate::{
    counters::Snapshot,
    findings::Finding,
    history::Stored,
    knowledge::Knowledge,
    pipeline::Pipeline,
    sink::Sink,
    source::clock::KernelClock,
    sources::{SourceFinding, SourceMaps, SourceRow},
};

/// How long a connected client may stay silent before the daemon hangs up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may take to read one answer before the daemon hangs up and frees it.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of answers held for clients at once, over every client: an answer that would go
/// beyond it is refused with `busy`, so clients that ask and do not read cannot grow the
/// daemon.
pub const ANSWER_BUDGET: usize = 32 << 20;
/// Answers up to this size are not counted against the budget.
const SMALL_ANSWER: usize = 64 << 10;
/// Clients served at once; more are answered with a refusal and closed, so a flood of
/// connections cannot use up the daemon's descriptors.
pub const MAX_CLIENTS: usize = 64;

/// Where answers come from: the live counters and findings, or anything else in tests.
pub trait Source: Send + Sync + 'static {
    fn snapshot(&self) -> Snapshot;
    /// What ports and ICMP messages mean, as the answers explain them now (a reload may have
    /// changed it since the server started).
    fn knowledge(&self) -> Arc<Knowledge>;
    /// Recent findings, ordered by run and id (the order they opened in), optionally since a
    /// time and of one kind; with `history`, earlier runs' from the findings history too.
    fn findings(&self, since_ns: Option<u64>, kind: Option<&str>, history: bool) -> Vec<Stored>;
    /// The watched interface and its attach mode, for the `stats` answer.
    fn interface(&self) -> Option<(String, String)> {
        None
    }
    /// The busiest `top` sources, only those whose port sketch holds `port` when given, with
    /// their open findings.
    fn sources(&self, top: usize, port: Option<u16>) -> Vec<SourceRow>;
}

/// The running daemon's counters, sources and findings.
pub struct Live {
    pub counters: Arc<crate::counters::CounterMaps>,
    pub sources: Arc<SourceMaps>,
    /// Turns the kernel's times into wall-clock times.
    pub clock: KernelClock,
    /// The pipeline: its sink holds the lines written (closed findings too), its engine the
    /// open findings' current state.
    pub pipeline: Arc<Mutex<Pipeline<Sink>>>,
    /// The watched interface and how the program is attached.
    pub iface: String,
    pub attach: String,
}

impl Source for Live {
    fn interface(&self) -> Option<(String, String)> {
        Some((self.iface.clone(), self.attach.clone()))
    }

    fn snapshot(&self) -> Snapshot {
        self.counters.read()
    }

    fn knowledge(&self) -> Arc<Knowledge> {
        let pipeline = self
            .pipeline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(pipeline.engine().knowledge())
    }

    fn findings(&self, since_ns: Option<u64>, kind: Option<&str>, history: bool) -> Vec<Stored> {
        let pipeline = self
            .pipeline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let sink = pipeline.output();
        // Written lines (closed findings too), overlaid with the open ones' current state:
        // between refresh lines the engine knows more than the last line says.
        let mut by_id: std::collections::BTreeMap<u64, Finding> = pipeline
            .output()
            .recent(since_ns, kind)
            .into_iter()
            .map(|f| (f.id, f))
            .collect();
        for f in pipeline.engine().open_state() {
            if since_ns.is_none_or(|s| f.last_seen_ns >= s) && kind.is_none_or(|k| f.kind == k) {
                by_id.insert(f.id, f);
            }
        }
        let memory = by_id
            .into_values()
            .map(|finding| Stored {
                run: sink.run(),
                iface: sink.iface().to_owned(),
                finding,
            })
            .collect();
        // The history holds earlier runs, and this run's findings the memory no longer holds;
        // the memory's state of a finding is the newer one.
        if history {
            crate::history::merge(sink.history(since_ns, kind), memory)
        } else {
            memory
        }
    }

    fn sources(&self, top: usize, port: Option<u16>) -> Vec<SourceRow> {
        let mut all = self.sources.read();
        if let Some(p) = port {
            all.retain(|(_, s)| crate::sources::may_have_sent_to(s, p));
        }
        // Busiest first; ties by address, so answers are stable.
        all.sort_by(|a, b| {
            b.1.packets
                .cmp(&a.1.packets)
                .then_with(|| crate::sources::address(&a.0).cmp(&crate::sources::address(&b.0)))
        });
        all.truncate(top);
        let open = {
            let pipeline = self
                .pipeline
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            pipeline.engine().open_state()
        };
        all.iter()
            .map(|(k, s)| {
                let mut row = crate::sources::row(k, s, |t| self.clock.wall(t));
                row.findings = open
                    .iter()
                    .filter(|f| f.src.as_deref() == Some(row.src.as_str()))
                    .map(|f| SourceFinding {
                        id: f.id,
                        kind: f.kind.as_str().to_owned(),
                        level: f.level.to_string(),
                        port: f.port,
                    })
                    .collect();
                row
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "{0} exists and is not a socket: the probe replaces only a socket a dead daemon left; move the file away or choose another --socket PATH"
    )]
    NotSocket(PathBuf),
    #[error(
        "another probe daemon is already serving {0}: stop it first, or give this one its own --socket PATH"
    )]
    InUse(PathBuf),
    #[error("cannot create the socket directory {path}")]
    Dir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot listen on {path}")]
    Listen {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A bound socket that removes its file when dropped.
pub struct Socket {
    pub listener: UnixListener,
    path: PathBuf,
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Fails if a daemon already answers on `path`, or if something other than a socket is there;
/// removes a stale socket a dead daemon left.
pub fn check_free(path: &Path) -> Result<(), BindError> {
    use std::os::unix::fs::FileTypeExt as _;
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(BindError::InUse(path.to_owned()));
    }
    // Not followed: a link at the path is not a socket, whatever it points to.
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Ok(meta) if meta.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|source| BindError::Listen {
                path: path.to_owned(),
                source,
            })
        }
        Ok(_) => Err(BindError::NotSocket(path.to_owned())),
        Err(source) => Err(BindError::Listen {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Binds `path` with mode 0660, creating its directory.
pub fn bind(path: &Path) -> Result<Socket, BindError> {
    check_free(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| BindError::Dir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let listen_err = |source| BindError::Listen {
        path: path.to_owned(),
        source,
    };
    let listener = UnixListener::bind(path).map_err(listen_err)?;
    let socket = Socket {
        listener,
        path: path.to_owned(),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(listen_err)?;
    Ok(socket)
}

/// Serves queries until `shutdown` turns true. Each client gets its own task, so a slow or
/// stalled client never delays another.
pub async fn serve(
    listener: &UnixListener,
    source: Arc<dyn Source>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    // In KiB, as a semaphore counts in u32.
    let budget = Arc::new(tokio::sync::Semaphore::new(ANSWER_BUDGET >> 10));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((mut stream, _)) => {
                    let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                        tokio::spawn(async move {
                            let busy = protocol::Response::error(
                                "busy",
                                format!("{MAX_CLIENTS} clients are connected already; try again shortly"),
                            );
                            let _ = tokio::time::timeout(Duration::from_secs(1), send(&mut stream, &busy)).await;
                        });
                        continue;
                    };
                    let source = Arc::clone(&source);
                    let budget = Arc::clone(&budget);
                    tokio::spawn(async move {
                        client(stream, source, &budget).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    log::warn!("query socket: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// Answers one client's requests, one response per request, until it closes, idles out, or
/// does not read an answer within [`WRITE_TIMEOUT`].
async fn client(mut stream: UnixStream, source: Arc<dyn Source>, budget: &tokio::sync::Semaphore) {
    loop {
        let body =
            match tokio::time::timeout(IDLE_TIMEOUT, frame::read(&mut stream, frame::MAX_REQUEST))
                .await
            {
                Ok(Ok(Some(body))) => body,
                Ok(Ok(None)) | Err(_) => return,
                Ok(Err(e)) => {
                    let refusal = protocol::Response::error("bad_request", e.to_string());
                    let _ = send(&mut stream, &refusal).await;
                    return;
                }
            };
        let request = match protocol::decode_request(&body) {
            Ok(request) => request,
            Err(refusal) => {
                if reply(&mut stream, &refusal).await {
                    continue;
                }
                return;
            }
        };
        // The answer's room is taken before it is made: a client asking for everything while
        // others have not read theirs is told `busy` without anything being built.
        // Small answers (stats, a few rows) take no room: 64 clients of them are 4 MiB at most,
        // and `stats` must answer whatever the others ask.
        let room = |bytes: usize| {
            if bytes <= SMALL_ANSWER {
                0
            } else {
                u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
            }
        };
        let Ok(held) = budget.try_acquire_many(room(answer::estimate(&request.query))) else {
            if reply(&mut stream, &busy()).await {
                continue;
            }
            return;
        };
        // Made on this thread: the budget lets one full answer be made at a time (about 16 ms
        // of work), and another thread's allocator would keep what it freed.
        let made = match &request.query {
            protocol::Query::Findings { since_ns, kind } => {
                answer::ok_body(&source.findings(*since_ns, kind.as_deref(), true))
            }
            protocol::Query::Sources { top, port } => {
                answer::ok_body(&source.sources(top.unwrap_or(answer::DEFAULT_SOURCES), *port))
            }
            protocol::Query::Port { port } => {
                let mut a = answer::port(&source.snapshot(), &source.knowledge(), *port);
                a.sources = source.sources(answer::PORT_SOURCES, Some(*port));
                a.findings = source
                    .findings(None, None, false)
                    .into_iter()
                    .map(|s| s.finding)
                    .filter(|f| f.port == Some(*port))
                    .collect();
                answer::ok_body(&a)
            }
            protocol::Query::Stats => {
                let mut stats = answer::stats(&source.snapshot());
                if let Some((iface, attach)) = source.interface() {
                    stats.iface = Some(iface);
                    stats.attach = Some(attach);
                }
                answer::ok_body(&stats)
            }
            q => answer::answer_body(q, &source.snapshot(), &source.knowledge()),
        };
        let body = made.unwrap_or_else(|e| {
            serde_json::to_vec(&protocol::Response::error("internal", e.to_string()))
                .unwrap_or_default()
        });
        // Findings may come out larger than their estimate: the rest of their room is taken
        // now, or the answer is dropped.
        let more = room(body.len()).saturating_sub(held.num_permits() as u32);
        let extra = if more == 0 {
            None
        } else if let Ok(extra) = budget.try_acquire_many(more) {
            Some(extra)
        } else {
            drop(body);
            if reply(&mut stream, &busy()).await {
                continue;
            }
            return;
        };
        let sent = tokio::time::timeout(WRITE_TIMEOUT, frame::write(&mut stream, &body)).await;
        drop((held, extra));
        if !matches!(sent, Ok(Ok(()))) {
            return;
        }
    }
}

/// The refusal of an answer the budget has no room for.
fn busy() -> protocol::Response {
    protocol::Response::error(
        "busy",
        "answers in flight to other clients fill the daemon's answer budget; try again shortly, or ask for fewer rows with top",
    )
}

/// Sends a small response within the write timeout; false when the client is gone or stalled.
async fn reply(stream: &mut UnixStream, response: &protocol::Response) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, send(stream, response)).await,
        Ok(Ok(()))
    )
}

async fn send(
    stream: &mut UnixStream,
    response: &protocol::Response,
) -> Result<(), frame::FrameError> {
    let body = serde_json::to_vec(response).map_err(io::Error::other)?;
    frame::write(stream, &body).await
}
