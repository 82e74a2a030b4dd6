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

use super::{
    answer::{self, SourceEntry, Watched},
    frame, protocol,
};
use crate::{
    counters::Snapshot,
    findings::Finding,
    history::Stored,
    knowledge::Knowledge,
    pipeline::Pipeline,
    sink::Sink,
    source::clock::KernelClock,
    sources::{SourceFinding, SourceMaps},
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
    /// Recent findings, ordered by run, interface and id (in one run on one interface, the
    /// order they opened in), optionally since a time and of one kind; with `history`,
    /// earlier runs' from the findings history too.
    fn findings(&self, since_ns: Option<u64>, kind: Option<&str>, history: bool) -> Vec<Stored>;
    /// The findings history's rows alone, as [`Source::findings`] reads them: kept apart so
    /// that interfaces sharing one history can be merged without doubling its rows.
    fn history(&self, _since_ns: Option<u64>, _kind: Option<&str>) -> Vec<Stored> {
        Vec::new()
    }
    /// Findings open now by level (benign first), for the `stats` answer; `None` where no
    /// findings are kept.
    fn open_by_level(&self) -> Option<[u64; 4]> {
        None
    }
    /// The watched interfaces and their attach modes, in the order given, for the `stats`
    /// answer.
    fn interfaces(&self) -> Vec<Watched> {
        Vec::new()
    }
    /// What answers about `iface` alone, when this source watches it.
    fn only(&self, iface: &str) -> Option<&dyn Source>;
    /// The busiest `top` sources, only those whose port sketch holds `port` when given, with
    /// their open findings.
    fn sources(&self, top: usize, port: Option<u16>) -> Vec<SourceEntry>;
}

/// The running daemon's counters, sources and findings on one interface.
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

impl Live {
    fn pipeline(&self) -> std::sync::MutexGuard<'_, Pipeline<Sink>> {
        self.pipeline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The findings `pipeline` holds in memory: written lines (closed findings too), overlaid
/// with the open ones' current state, as between refresh lines the engine knows more than
/// the last line says.
fn in_memory(pipeline: &Pipeline<Sink>, since_ns: Option<u64>, kind: Option<&str>) -> Vec<Stored> {
    let sink = pipeline.output();
    let mut by_id: std::collections::BTreeMap<u64, Finding> = sink
        .recent(since_ns, kind)
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    for f in pipeline.engine().open_state() {
        if since_ns.is_none_or(|s| f.last_seen_ns >= s) && kind.is_none_or(|k| f.kind == k) {
            by_id.insert(f.id, f);
        }
    }
    by_id
        .into_values()
        .map(|finding| Stored {
            run: sink.run(),
            iface: sink.iface().to_owned(),
            finding,
        })
        .collect()
}

impl Source for Live {
    fn interfaces(&self) -> Vec<Watched> {
        vec![Watched {
            iface: self.iface.clone(),
            attach: self.attach.clone(),
        }]
    }

    fn only(&self, iface: &str) -> Option<&dyn Source> {
        (self.iface == iface).then_some(self as &dyn Source)
    }

    fn open_by_level(&self) -> Option<[u64; 4]> {
        Some(self.pipeline().engine().open_by_level())
    }

    fn snapshot(&self) -> Snapshot {
        self.counters.read()
    }

    fn knowledge(&self) -> Arc<Knowledge> {
        Arc::clone(self.pipeline().engine().knowledge())
    }

    fn findings(&self, since_ns: Option<u64>, kind: Option<&str>, history: bool) -> Vec<Stored> {
        let pipeline = self.pipeline();
        let memory = in_memory(&pipeline, since_ns, kind);
        // The history holds earlier runs, and this run's findings the memory no longer holds;
        // the memory's state of a finding is the newer one.
        if history {
            crate::history::merge(pipeline.output().history(since_ns, kind), memory)
        } else {
            memory
        }
    }

    fn history(&self, since_ns: Option<u64>, kind: Option<&str>) -> Vec<Stored> {
        self.pipeline().output().history(since_ns, kind)
    }

    fn sources(&self, top: usize, port: Option<u16>) -> Vec<SourceEntry> {
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
        let open = self.pipeline().engine().open_state();
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
                row.into()
            })
            .collect()
    }
}

/// Every interface one daemon watches, answering as one: counters summed, findings and
/// sources of all. A request naming an interface is answered by that interface's source
/// alone, as a daemon watching only it would answer.
pub struct Interfaces<S = Live> {
    /// One source per watched interface, in the order given.
    each: Vec<S>,
}

impl<S: Source> Interfaces<S> {
    /// The interfaces `each` watches, in this order (the order answers list them in).
    pub fn new(each: Vec<S>) -> Self {
        Self { each }
    }
}

impl<S: Source> Source for Interfaces<S> {
    fn snapshot(&self) -> Snapshot {
        sum(self.each.iter().map(Source::snapshot))
    }

    /// The first interface's: a reload gives every interface the same knowledge.
    fn knowledge(&self) -> Arc<Knowledge> {
        self.each
            .first()
            .map_or_else(|| Arc::new(Knowledge::default()), Source::knowledge)
    }

    fn findings(&self, since_ns: Option<u64>, kind: Option<&str>, history: bool) -> Vec<Stored> {
        let memory = self
            .each
            .iter()
            .map(|s| s.findings(since_ns, kind, false))
            .collect();
        let history = if history {
            self.each
                .iter()
                .map(|s| s.history(since_ns, kind))
                .collect()
        } else {
            Vec::new()
        };
        merge_findings(history, memory)
    }

    fn history(&self, since_ns: Option<u64>, kind: Option<&str>) -> Vec<Stored> {
        let history = self
            .each
            .iter()
            .map(|s| s.history(since_ns, kind))
            .collect();
        merge_findings(history, Vec::new())
    }

    fn interfaces(&self) -> Vec<Watched> {
        self.each.iter().flat_map(Source::interfaces).collect()
    }

    fn open_by_level(&self) -> Option<[u64; 4]> {
        self.each
            .iter()
            .filter_map(Source::open_by_level)
            .reduce(|a, b| std::array::from_fn(|i| a[i].saturating_add(b[i])))
    }

    fn only(&self, iface: &str) -> Option<&dyn Source> {
        self.each.iter().find_map(|s| s.only(iface))
    }

    fn sources(&self, top: usize, port: Option<u16>) -> Vec<SourceEntry> {
        let several = self.each.len() > 1;
        let lists = self
            .each
            .iter()
            .map(|s| {
                let mut rows = s.sources(top, port);
                // Named only when there are several: one interface's rows read as ever.
                if let (true, [one]) = (several, s.interfaces().as_slice()) {
                    for r in rows.iter_mut().filter(|r| r.iface.is_none()) {
                        r.iface = Some(one.iface.clone());
                    }
                }
                rows
            })
            .collect();
        merge_sources(lists, top)
    }
}

/// The sum of `snapshots`; zeros when there are none.
fn sum(snapshots: impl IntoIterator<Item = Snapshot>) -> Snapshot {
    let mut snapshots = snapshots.into_iter();
    let mut total = snapshots.next().unwrap_or_else(Snapshot::zeroed);
    for s in snapshots {
        total.add(&s);
    }
    total
}

/// Several interfaces' findings as one list. Their history rows come once each (every
/// interface reads the same history, so each row arrives once per interface), and the
/// memory's state of a finding wins over the history's, as on one interface. Ordered by run,
/// interface and id: a finding is known by all three.
fn merge_findings(history: Vec<Vec<Stored>>, memory: Vec<Vec<Stored>>) -> Vec<Stored> {
    crate::history::merge(
        history.into_iter().flatten().collect(),
        memory.into_iter().flatten().collect(),
    )
}

/// Several interfaces' busiest sources as one list, busiest first, ties by address and then
/// in the interfaces' order, cut to `top`. Each list holds its interface's `top` busiest, so
/// the busiest `top` of all are among them.
fn merge_sources(lists: Vec<Vec<SourceEntry>>, top: usize) -> Vec<SourceEntry> {
    let mut all: Vec<SourceEntry> = lists.into_iter().flatten().collect();
    // Stable: equal rows keep their interfaces' order.
    all.sort_by(|a, b| {
        b.packets.cmp(&a.packets).then_with(|| {
            let address = |r: &SourceEntry| r.src.parse::<std::net::IpAddr>().ok();
            address(a).cmp(&address(b))
        })
    });
    all.truncate(top);
    all
}

/// What answers a request about `iface` (all interfaces when none is named), or the refusal
/// that names the interfaces watched.
fn choose<'a>(
    source: &'a dyn Source,
    iface: Option<&str>,
) -> Result<&'a dyn Source, protocol::Response> {
    let Some(name) = iface else {
        return Ok(source);
    };
    source
        .only(name)
        .ok_or_else(|| not_watched(&source.interfaces(), name))
}

/// The refusal of a request about an interface the daemon does not watch.
fn not_watched(watched: &[Watched], iface: &str) -> protocol::Response {
    let names: Vec<&str> = watched.iter().map(|w| w.iface.as_str()).collect();
    let which = if names.is_empty() {
        "names no interface it watches".to_owned()
    } else {
        format!("watches {}", names.join(", "))
    };
    protocol::Response::error("bad_request", format!("this daemon {which}; not {iface}"))
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
        let chosen = match choose(source.as_ref(), request.iface.as_deref()) {
            Ok(chosen) => chosen,
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
                answer::ok_body(&chosen.findings(*since_ns, kind.as_deref(), true))
            }
            protocol::Query::Sources { top, port } => {
                answer::ok_body(&chosen.sources(top.unwrap_or(answer::DEFAULT_SOURCES), *port))
            }
            protocol::Query::Port { port } => {
                let mut a = answer::port(&chosen.snapshot(), &chosen.knowledge(), *port);
                a.sources = chosen.sources(answer::PORT_SOURCES, Some(*port));
                a.findings = chosen
                    .findings(None, None, false)
                    .into_iter()
                    .map(|s| s.finding)
                    .filter(|f| f.port == Some(*port))
                    .collect();
                answer::ok_body(&a)
            }
            protocol::Query::Stats => {
                let mut stats = answer::stats(&chosen.snapshot());
                stats.name(chosen.interfaces());
                stats.open_findings = chosen
                    .open_by_level()
                    .map(answer::OpenFindings::from_levels);
                answer::ok_body(&stats)
            }
            q => answer::answer_body(q, &chosen.snapshot(), &chosen.knowledge()),
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

#[cfg(test)]
mod tests {
    use probe_common::counters::{port_key, port_proto, total};
    use serde_json::json;

    use super::*;
    use crate::{
        findings::{Kind, Status},
        knowledge::Level,
        sources::SourceRow,
    };

    /// Two runs: an earlier one, and the one answering.
    const EARLIER: u64 = 1_714_564_800_000_000_000;
    const NOW: u64 = EARLIER + 86_400_000_000_000;

    fn finding(id: u64, last_seen_ns: u64) -> Finding {
        Finding {
            ts_ns: last_seen_ns,
            id,
            status: Status::New,
            kind: Kind::TrojanProbe,
            level: Level::Hostile,
            src: Some("198.18.0.66".to_owned()),
            dst: Some("198.18.0.1".to_owned()),
            proto: Some(crate::contact::Proto::Tcp),
            port: Some(31_337),
            tool: None,
            count: 1,
            first_seen_ns: last_seen_ns,
            last_seen_ns,
            evidence: json!({}),
            explanation: format!("Finding {id}."),
        }
    }

    fn stored(run: u64, iface: &str, id: u64, last_seen_ns: u64) -> Stored {
        Stored {
            run,
            iface: iface.to_owned(),
            finding: finding(id, last_seen_ns),
        }
    }

    fn row(src: &str, packets: u64) -> SourceRow {
        SourceRow::sample(src, packets, NOW)
    }

    /// One interface's answers, fixed: what a [`Live`] gives without kernel maps.
    struct Fixed {
        iface: &'static str,
        /// Packets counted, all of them UDP to port 53.
        packets: u64,
        /// The findings history, which every interface of a daemon reads whole.
        history: Vec<Stored>,
        /// This interface's findings in memory.
        memory: Vec<Stored>,
        /// Its sources, busiest first.
        rows: Vec<SourceRow>,
    }

    impl Source for Fixed {
        fn snapshot(&self) -> Snapshot {
            let mut s = Snapshot::zeroed();
            s.totals[total::PACKETS as usize] = self.packets;
            s.dst_ports[port_key(port_proto::UDP, 53) as usize] = self.packets;
            s
        }

        fn knowledge(&self) -> Arc<Knowledge> {
            Arc::new(Knowledge::default())
        }

        fn findings(&self, _: Option<u64>, _: Option<&str>, history: bool) -> Vec<Stored> {
            if history {
                crate::history::merge(self.history.clone(), self.memory.clone())
            } else {
                self.memory.clone()
            }
        }

        fn history(&self, _: Option<u64>, _: Option<&str>) -> Vec<Stored> {
            self.history.clone()
        }

        fn interfaces(&self) -> Vec<Watched> {
            vec![Watched {
                iface: self.iface.to_owned(),
                attach: "native".to_owned(),
            }]
        }

        fn only(&self, iface: &str) -> Option<&dyn Source> {
            (self.iface == iface).then_some(self as &dyn Source)
        }

        /// Its findings in memory open and notable, and a hostile one more on eth1.
        fn open_by_level(&self) -> Option<[u64; 4]> {
            Some([
                0,
                self.memory.len() as u64,
                0,
                u64::from(self.iface == "eth1"),
            ])
        }

        fn sources(&self, top: usize, _: Option<u16>) -> Vec<SourceEntry> {
            self.rows
                .iter()
                .take(top)
                .cloned()
                .map(Into::into)
                .collect()
        }
    }

    /// A history both interfaces read: an earlier run's finding, and this run's first
    /// findings on each interface as last written.
    fn shared_history() -> Vec<Stored> {
        vec![
            stored(EARLIER, "eth0", 1, EARLIER),
            stored(NOW, "eth0", 1, NOW + 1),
            stored(NOW, "eth1", 1, NOW + 2),
        ]
    }

    fn two() -> Interfaces<Fixed> {
        Interfaces::new(vec![
            Fixed {
                iface: "eth0",
                packets: 12,
                history: shared_history(),
                memory: vec![
                    stored(NOW, "eth0", 1, NOW + 9),
                    stored(NOW, "eth0", 2, NOW + 5),
                ],
                rows: vec![
                    row("198.18.0.9", 50),
                    row("198.18.0.2", 10),
                    row("198.18.0.3", 5),
                ],
            },
            Fixed {
                iface: "eth1",
                packets: 30,
                history: shared_history(),
                memory: vec![stored(NOW, "eth1", 1, NOW + 7)],
                rows: vec![
                    row("10.0.0.4", 30),
                    row("198.18.0.9", 10),
                    row("10.0.0.5", 1),
                ],
            },
        ])
    }

    /// (run, iface, id, last seen) of each finding, in order.
    fn keys(found: &[Stored]) -> Vec<(u64, &str, u64, u64)> {
        found
            .iter()
            .map(|s| {
                (
                    s.run,
                    s.iface.as_str(),
                    s.finding.id,
                    s.finding.last_seen_ns,
                )
            })
            .collect()
    }

    fn names(rows: &[SourceEntry]) -> Vec<(&str, u64, Option<&str>)> {
        rows.iter()
            .map(|r| (r.src.as_str(), r.packets, r.iface.as_deref()))
            .collect()
    }

    #[test]
    fn counters_of_every_interface_are_summed() {
        let s = two().snapshot();
        assert_eq!(s.total(total::PACKETS), 42);
        assert_eq!(s.port(port_proto::UDP, 53, false), 42);
        assert_eq!(sum(Vec::new()), Snapshot::zeroed());
    }

    #[test]
    fn history_rows_every_interface_reads_come_once_and_the_memory_wins() {
        assert_eq!(
            keys(&two().findings(None, None, true)),
            [
                (EARLIER, "eth0", 1, EARLIER),
                (NOW, "eth0", 1, NOW + 9),
                (NOW, "eth0", 2, NOW + 5),
                (NOW, "eth1", 1, NOW + 7),
            ]
        );
        assert_eq!(
            keys(&two().findings(None, None, false)),
            [
                (NOW, "eth0", 1, NOW + 9),
                (NOW, "eth0", 2, NOW + 5),
                (NOW, "eth1", 1, NOW + 7),
            ]
        );
        assert_eq!(
            keys(&two().history(None, None)),
            [
                (EARLIER, "eth0", 1, EARLIER),
                (NOW, "eth0", 1, NOW + 1),
                (NOW, "eth1", 1, NOW + 2),
            ]
        );
        let merged = merge_findings(
            vec![shared_history(), shared_history()],
            vec![vec![stored(NOW, "eth1", 1, NOW + 8)]],
        );
        assert_eq!(
            keys(&merged),
            [
                (EARLIER, "eth0", 1, EARLIER),
                (NOW, "eth0", 1, NOW + 1),
                (NOW, "eth1", 1, NOW + 8),
            ]
        );
    }

    #[test]
    fn sources_of_every_interface_are_merged_busiest_first_each_naming_its_interface() {
        let ifs = two();
        assert_eq!(
            names(&ifs.sources(4, None)),
            [
                ("198.18.0.9", 50, Some("eth0")),
                ("10.0.0.4", 30, Some("eth1")),
                // Ties by address: 198.18.0.2 before 198.18.0.9.
                ("198.18.0.2", 10, Some("eth0")),
                ("198.18.0.9", 10, Some("eth1")),
            ]
        );
        assert_eq!(
            names(&ifs.sources(1, None)),
            [("198.18.0.9", 50, Some("eth0"))]
        );
        let plain = merge_sources(
            vec![
                vec![row("198.18.0.10", 3).into(), row("198.18.0.9", 3).into()],
                vec![row("198.18.0.9", 3).into()],
            ],
            10,
        );
        assert_eq!(
            names(&plain),
            [
                ("198.18.0.9", 3, None),
                ("198.18.0.9", 3, None),
                ("198.18.0.10", 3, None)
            ],
            "by address, not by its text"
        );
    }

    #[test]
    fn a_named_interface_is_answered_as_a_daemon_watching_only_it() {
        let ifs = two();
        let eth1 = choose(&ifs, Some("eth1")).unwrap();
        assert_eq!(eth1.snapshot().total(total::PACKETS), 30);
        assert_eq!(
            eth1.interfaces(),
            [Watched {
                iface: "eth1".into(),
                attach: "native".into()
            }]
        );
        assert_eq!(
            names(&eth1.sources(2, None)),
            [("10.0.0.4", 30, None), ("198.18.0.9", 10, None)]
        );
        assert_eq!(
            keys(&eth1.findings(None, None, true)),
            [
                (EARLIER, "eth0", 1, EARLIER),
                (NOW, "eth0", 1, NOW + 1),
                (NOW, "eth1", 1, NOW + 7),
            ],
            "as a one-interface daemon: its history whole, its memory over it"
        );
        let all = choose(&ifs, None).unwrap();
        assert_eq!(all.snapshot().total(total::PACKETS), 42);
    }

    #[test]
    fn an_interface_not_watched_is_refused_naming_those_that_are() {
        let refusal = |source: &dyn Source, iface: &str| {
            let e = choose(source, Some(iface)).err().unwrap().error.unwrap();
            (e.code, e.message)
        };
        assert_eq!(
            refusal(&two(), "eth9"),
            (
                "bad_request".to_owned(),
                "this daemon watches eth0, eth1; not eth9".to_owned()
            )
        );
        let one = Interfaces::new(two().each.into_iter().take(1).collect());
        assert_eq!(
            refusal(&one, "eth1").1,
            "this daemon watches eth0; not eth1"
        );
        assert_eq!(
            choose(&one, Some("eth0")).unwrap().interfaces()[0].iface,
            "eth0"
        );
        let bare = Interfaces::<Fixed>::new(Vec::new());
        assert_eq!(
            refusal(&bare, "eth0").1,
            "this daemon names no interface it watches; not eth0"
        );
    }

    #[test]
    fn one_interface_answers_as_it_always_did() {
        let ifs = two();
        let one = Interfaces::new(ifs.each.into_iter().take(1).collect());
        assert_eq!(
            names(&one.sources(10, None)),
            [
                ("198.18.0.9", 50, None),
                ("198.18.0.2", 10, None),
                ("198.18.0.3", 5, None)
            ]
        );
        let mut stats = answer::stats(&one.snapshot());
        stats.name(one.interfaces());
        assert_eq!(
            (
                stats.iface.as_deref(),
                stats.attach.as_deref(),
                stats.interfaces.len()
            ),
            (Some("eth0"), Some("native"), 0)
        );
    }

    #[tokio::test]
    async fn a_request_names_an_interface_and_an_unwatched_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probe.sock");
        let socket = bind(&path).unwrap();
        let (stop, stopped) = watch::channel(false);
        let server = async {
            serve(&socket.listener, Arc::new(two()), stopped).await;
        };
        let asks = async {
            let all: answer::Stats = super::super::client::ask(&path, protocol::Query::Stats)
                .await
                .unwrap();
            let eth0: answer::Stats =
                super::super::client::ask_about(&path, Some("eth0"), protocol::Query::Stats)
                    .await
                    .unwrap();
            let eth9 = super::super::client::ask_about::<answer::Stats>(
                &path,
                Some("eth9"),
                protocol::Query::Stats,
            )
            .await
            .unwrap_err();
            stop.send(true).unwrap();
            (all, eth0, eth9)
        };
        let ((), (all, eth0, eth9)) = tokio::join!(server, asks);
        assert_eq!(
            (all.packets, all.iface, all.interfaces.len()),
            (42, None, 2)
        );
        assert_eq!(
            all.open_findings.map(answer::OpenFindings::levels),
            Some([0, 3, 0, 1])
        );
        assert_eq!(
            (eth0.packets, eth0.iface.as_deref(), eth0.interfaces.len()),
            (12, Some("eth0"), 0)
        );
        assert_eq!(
            eth0.open_findings.map(answer::OpenFindings::levels),
            Some([0, 2, 0, 0])
        );
        assert_eq!(
            eth9.to_string(),
            "the daemon refused the request (bad_request): this daemon watches eth0, eth1; not eth9"
        );
    }
}
