//! `probe run`: the daemon.

use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context as _;
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::watch,
};

use crate::{
    collector::{Became, Collector},
    counters::{CounterMaps, Snapshot},
    duration,
    knowledge::RangeClass,
    loader::{self, Mode},
    query::server,
};

/// Where the daemon serves queries unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/probe/probe.sock";

/// Arguments of `probe run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The interface to watch (`ip link` lists them).
    #[arg(long, value_name = "IF")]
    pub iface: String,
    /// How to attach: auto tries native (driver) XDP and falls back to generic (skb) mode;
    /// native fails where the driver has no XDP support; skb works everywhere, a little slower.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub mode: Mode,
    /// How often to read the counters and log what became active (like 500ms, 1s, 1m).
    #[arg(long, default_value = "1s", value_parser = duration::parse)]
    pub interval: Duration,
    /// The Unix socket `probe query` talks to (created with mode 0660).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(daemon(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn daemon(args: &RunArgs) -> anyhow::Result<()> {
    // Refuse early, before touching the interface, if another daemon owns the socket.
    server::check_free(&args.socket)?;
    let loaded = loader::load_and_attach(&args.iface, args.mode)?;
    log::info!(
        "watching {} ({} XDP, {} CPU slices per counter map)",
        args.iface,
        loaded.attached_mode,
        loaded.cpus
    );
    let counters = Arc::new(CounterMaps::new(loaded.maps, loaded.cpus)?);
    let socket = server::bind(&args.socket)?;
    log::info!("serving queries on {}", args.socket.display());

    let (stop_tx, stop_rx) = watch::channel(false);
    let source: Arc<dyn server::Source> = counters.clone();
    let server_task = {
        let stop = stop_rx.clone();
        async move { server::serve(&socket.listener, source, stop).await }
    };

    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let collect = async {
        let mut collector = Collector::new(counters.read());
        let mut snapshot = Snapshot::zeroed();
        let mut tick = tokio::time::interval(args.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    counters.read_into(&mut snapshot);
                    for became in collector.observe(snapshot.clone()) {
                        log_activity(&became);
                    }
                }
                _ = interrupt.recv() => return "SIGINT",
                _ = terminate.recv() => return "SIGTERM",
            }
        }
    };
    let signal_name = tokio::select! {
        name = collect => name,
        () = server_task => "the query server stopping",
    };
    log::info!("{signal_name}: detaching from {} and exiting", args.iface);
    let _ = stop_tx.send(true);
    drop(stop_rx);
    // Dropping the program detaches it; dropping the socket removes its file.
    drop(loaded.ebpf);
    Ok(())
}

fn log_activity(became: &Became) {
    match *became {
        Became::Port {
            proto,
            port,
            packets,
            syn,
        } => {
            let proto = Snapshot::proto_name(proto);
            let class = RangeClass::of(port);
            if syn > 0 {
                log::info!(
                    "active: {port}/{proto} {packets} packets, {syn} connection attempts ({class} port)"
                );
            } else {
                log::info!("active: {port}/{proto} {packets} packets ({class} port)");
            }
        }
        Became::Icmp {
            v6,
            icmp_type,
            code,
            packets,
        } => {
            let family = if v6 { "icmpv6" } else { "icmp" };
            log::info!("active: {family} type {icmp_type} code {code}, {packets} messages");
        }
    }
}
