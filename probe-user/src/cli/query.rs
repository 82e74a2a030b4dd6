//! `probe query`: counters from the running daemon, as a table or JSON.

use std::{fmt::Write as _, path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use serde::de::DeserializeOwned;

use crate::daemon::DEFAULT_SOCKET;
use crate::{
    findings::time::format_rfc3339_ms,
    history::Stored,
    knowledge::named,
    query::{
        answer::{FlagRow, IcmpRow, PortAnswer, PortRow, SourceEntry, Stats},
        client,
        protocol::{Proto, Query},
    },
};

/// Rows a table shows when --top is not given (JSON shows all).
const TABLE_ROWS: usize = 25;

/// Arguments of `probe query`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    #[command(subcommand)]
    pub what: What,
    /// The daemon's socket.
    #[arg(long, global = true, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Print JSON (for scripts) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Only what the daemon counted on IF (a daemon watching several interfaces; default: all
    /// of them).
    #[arg(long, global = true, value_name = "IF", value_parser = crate::cli::top::iface_name)]
    pub iface: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// Packets per port, busiest first.
    Ports {
        /// Only the N busiest (tables show 25 unless told; JSON shows what the daemon sends
        /// when not told: its 4,096 busiest).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        top: Option<u64>,
        /// Only this protocol.
        #[arg(long, value_enum)]
        proto: Option<Proto>,
        /// Source ports instead of destination ports.
        #[arg(long)]
        source: bool,
    },
    /// ICMP and ICMPv6 messages per type and code.
    Icmp {
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        top: Option<u64>,
    },
    /// TCP segments per combination of flags.
    Flags {
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        top: Option<u64>,
    },
    /// Totals: packets, bytes, IPv4/IPv6, VLAN, fragments, malformed.
    Stats,
    /// Who is sending: the busiest sources by tracked packets (all but established TCP and
    /// repeats of a reported UDP or ICMP contact), with SYNs, estimated distinct ports and
    /// hosts, TTL range, estimated hops, first and last seen, and their open findings.
    Sources {
        /// Only the N busiest (default 100).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        top: Option<u64>,
        /// Only sources that sent to this destination port (from a per-source sketch: a
        /// source that sent to a port sharing its bit shows too, about one port in 512).
        #[arg(long, value_name = "PORT")]
        port: Option<u16>,
    },
    /// Everything about one port: its TCP and UDP counters (as destination and as source),
    /// what it means, its busiest sources and the findings about it.
    Port {
        /// The port number.
        port: u16,
    },
    /// Recent findings (the latest state of each), oldest first; with the findings history,
    /// earlier daemon runs' too (each run's ids count from 1: its findings follow a line
    /// naming the run).
    Findings {
        /// Only findings seen within this long (like 10m, 1h, 7d).
        #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
        since: Option<std::time::Duration>,
        /// Only findings of this kind (like vertical_scan; docs/findings.md lists them).
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
    },
}

pub fn run(args: &QueryArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(query(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn ask<T: DeserializeOwned>(args: &QueryArgs, q: Query) -> anyhow::Result<T> {
    Ok(client::ask_about(&args.socket, args.iface.as_deref(), q).await?)
}

async fn query(args: &QueryArgs) -> anyhow::Result<()> {
    let top = |t: Option<u64>| t.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    match args.what {
        What::Findings { since, ref kind } => {
            let since_ns = since.map(|d| {
                let now = crate::source::clock::KernelClock::now_wall();
                now.saturating_sub(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            });
            let found: Vec<Stored> = ask(
                args,
                Query::Findings {
                    since_ns,
                    kind: kind.clone(),
                },
            )
            .await?;
            print(args, &found, || {
                if found.is_empty() {
                    return "no findings yet\n".to_owned();
                }
                crate::history::summaries(&found)
            })
        }
        What::Stats => {
            let s: Stats = ask(args, Query::Stats).await?;
            print(args, &s, || stats_table(&s))
        }
        What::Sources { top: t, port } => {
            let rows: Vec<SourceEntry> = ask(args, Query::Sources { top: top(t), port }).await?;
            print(args, &rows, || sources_table(&rows, t.is_some()))
        }
        What::Port { port } => {
            let a: PortAnswer = ask(args, Query::Port { port }).await?;
            print(args, &a, || port_text(&a))
        }
        What::Ports {
            top: t,
            proto,
            source,
        } => {
            let rows: Vec<PortRow> = ask(
                args,
                Query::Ports {
                    proto,
                    source,
                    top: top(t),
                },
            )
            .await?;
            print(args, &rows, || ports_table(&rows, source, t.is_some()))
        }
        What::Icmp { top: t } => {
            let rows: Vec<IcmpRow> = ask(args, Query::Icmp { top: top(t) }).await?;
            print(args, &rows, || icmp_table(&rows, t.is_some()))
        }
        What::Flags { top: t } => {
            let rows: Vec<FlagRow> = ask(args, Query::Flags { top: top(t) }).await?;
            print(args, &rows, || {
                let body = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.flags.clone(),
                            format!("0x{:02x}", r.bits),
                            r.packets.to_string(),
                        ]
                    })
                    .collect();
                table(
                    &["FLAGS", "BITS", "PACKETS"],
                    body,
                    t.is_some(),
                    "TCP segments",
                )
            })
        }
    }
}

fn print<T: serde::Serialize>(
    args: &QueryArgs,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", crate::printable::lines(&text()));
    }
    Ok(())
}

/// The ports table; a name and its meaning share a column, the name said once.
fn ports_table(rows: &[PortRow], source: bool, all: bool) -> String {
    let head = if source { "SRC PORT" } else { "PORT" };
    let body = rows
        .iter()
        .map(|r| {
            let proto = if r.proto == Proto::Tcp { "tcp" } else { "udp" };
            vec![
                r.port.to_string(),
                proto.into(),
                r.packets.to_string(),
                r.syn.to_string(),
                r.class.clone(),
                r.level.clone(),
                named(&r.name, &r.meaning).into_owned(),
            ]
        })
        .collect();
    table(
        &[
            head,
            "PROTO",
            "PACKETS",
            "SYN",
            "CLASS",
            "LEVEL",
            "NAME: MEANING",
        ],
        body,
        all,
        "ports",
    )
}

fn icmp_table(rows: &[IcmpRow], all: bool) -> String {
    let body = rows.iter().map(IcmpRow::cells).collect();
    table(
        &[
            "FAMILY",
            "TYPE",
            "CODE",
            "PACKETS",
            "LEVEL",
            "NAME: MEANING",
        ],
        body,
        all,
        "ICMP messages",
    )
}

/// The sources table; with an IFACE column when the rows come from several interfaces.
fn sources_table(rows: &[SourceEntry], all: bool) -> String {
    let several = rows.iter().any(|r| r.iface.is_some());
    let body = rows
        .iter()
        .map(|r| {
            let findings: Vec<String> = r
                .findings
                .iter()
                .map(crate::sources::SourceFinding::label)
                .collect();
            let mut cells = vec![r.src.clone()];
            if several {
                cells.push(r.iface.clone().unwrap_or_default());
            }
            cells.extend([
                r.packets.to_string(),
                r.syns.to_string(),
                r.ports.to_string(),
                r.hosts.to_string(),
                format!("{}-{}", r.ttl_min, r.ttl_max),
                r.hops.to_string(),
                format_rfc3339_ms(r.last_seen_ns),
                findings.join(", "),
            ]);
            cells
        })
        .collect();
    let mut head = vec!["SOURCE"];
    if several {
        head.push("IFACE");
    }
    head.extend([
        "PACKETS",
        "SYN",
        "PORTS~",
        "HOSTS~",
        "TTL",
        "HOPS~",
        "LAST SEEN",
        "FINDINGS",
    ]);
    table(&head, body, all, "sources")
}

fn port_text(a: &PortAnswer) -> String {
    let mut out = format!("port {} ({})\n", a.port, a.class);
    for (proto, c) in [("tcp", &a.tcp), ("udp", &a.udp)] {
        let _ = writeln!(
            out,
            "  {proto}: {} to it{}, {} from it; [{}] {}",
            c.packets,
            if proto == "tcp" {
                format!(" ({} connection attempts)", c.syn)
            } else {
                String::new()
            },
            c.as_source,
            c.level,
            named(&c.name, &c.meaning)
        );
    }
    out.push('\n');
    out.push_str(&sources_table(&a.sources, true));
    out.push('\n');
    if a.findings.is_empty() {
        out.push_str("no findings about this port\n");
    } else {
        for f in &a.findings {
            out.push_str(&f.summary());
            out.push('\n');
        }
    }
    out
}

fn stats_table(s: &Stats) -> String {
    let rows = [
        ("packets", s.packets),
        ("bytes", s.bytes),
        ("ipv4", s.ipv4),
        ("ipv6", s.ipv6),
        ("other ethertypes", s.other_ether_type),
        ("vlan tagged", s.vlan_tagged),
        ("fragments", s.fragments),
        ("tiny fragments", s.tiny_fragments),
        ("long ipv6 header chains", s.long_header_chains),
        ("malformed", s.malformed),
        ("tcp (on ports)", s.tcp),
        ("udp (on ports)", s.udp),
        ("icmp", s.icmp),
        ("icmpv6", s.icmpv6),
        ("first-contact events", s.events),
        ("events over the rate limit", s.events_rate_limited),
        ("events lost, ring full", s.events_ring_full),
    ];
    let body = rows
        .iter()
        .map(|(k, v)| vec![(*k).to_owned(), v.to_string()])
        .collect();
    let mut table = table(&["COUNTER", "VALUE"], body, true, "counters");
    if let Some(o) = s.open_findings {
        let _ = writeln!(
            table,
            "open findings: {} hostile, {} suspicious, {} notable, {} benign",
            o.hostile, o.suspicious, o.notable, o.benign
        );
    }
    match s.watching() {
        Some(watching) => format!("watching {watching}\n{table}"),
        None => table,
    }
}

/// Aligns columns: the first and text columns left, numbers right. Without an explicit --top,
/// shows the first `TABLE_ROWS` and says how many more there are.
pub fn table(head: &[&str], mut rows: Vec<Vec<String>>, all: bool, what: &str) -> String {
    if rows.is_empty() {
        return format!("no {what} counted yet\n");
    }
    let hidden = if all {
        0
    } else {
        rows.len().saturating_sub(TABLE_ROWS)
    };
    rows.truncate(rows.len() - hidden);
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let numeric = |i: usize| {
        rows.iter()
            .all(|r| r.get(i).is_some_and(|c| c.parse::<u64>().is_ok()))
    };
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if numeric(i) {
                    format!("{c:>w$}", w = widths[i])
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(head.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    if hidden > 0 {
        let _ = writeln!(out, "({hidden} more; --top N shows more, --json shows all)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_numbers_right_and_text_left() {
        let rows = vec![
            vec!["22".into(), "tcp".into(), "5".into()],
            vec!["31337".into(), "udp".into(), "1200".into()],
        ];
        assert_eq!(
            table(&["PORT", "PROTO", "PACKETS"], rows, true, "ports"),
            " PORT  PROTO  PACKETS\n   22  tcp          5\n31337  udp       1200\n"
        );
    }

    fn port_row(port: u16, name: &str, meaning: &str) -> PortRow {
        PortRow {
            port,
            proto: Proto::Tcp,
            packets: 2,
            syn: 2,
            class: "registered".into(),
            name: name.into(),
            meaning: meaning.into(),
            level: "hostile".into(),
        }
    }

    #[test]
    fn a_name_and_its_meaning_share_a_column_and_the_name_is_said_once() {
        let rows = [
            port_row(12_345, "NetBus", "NetBus trojan's default port."),
            port_row(2222, "SSH (alternate)", "Secure shell on a second port."),
        ];
        assert_eq!(
            ports_table(&rows, false, true),
            " PORT  PROTO  PACKETS  SYN  CLASS       LEVEL    NAME: MEANING\n\
             12345  tcp          2    2  registered  hostile  NetBus trojan's default port.\n\
             \u{20}2222  tcp          2    2  registered  hostile  SSH (alternate): Secure shell on a second port.\n"
        );
        let icmp = [IcmpRow {
            family: "icmp".into(),
            icmp_type: 8,
            code: 0,
            packets: 3,
            name: "Echo request".into(),
            meaning: "Echo request: a ping.".into(),
            level: "benign".into(),
        }];
        assert_eq!(
            icmp_table(&icmp, true),
            "FAMILY  TYPE  CODE  PACKETS  LEVEL   NAME: MEANING\n\
             icmp       8     0        3  benign  Echo request: a ping.\n"
        );
    }

    #[test]
    fn the_port_answer_says_each_protocols_name_once() {
        let counts = |name: &str, meaning: &str| crate::query::answer::PortCounts {
            packets: 1,
            syn: 1,
            as_source: 0,
            name: name.into(),
            meaning: meaning.into(),
            level: "hostile".into(),
        };
        let a = PortAnswer {
            port: 31_337,
            class: "registered".into(),
            tcp: counts("Back Orifice", "Back Orifice's port."),
            udp: counts("Elite", "A port for the elite."),
            sources: vec![],
            findings: vec![],
        };
        let text = port_text(&a);
        assert_eq!(
            text.lines().take(3).collect::<Vec<_>>(),
            [
                "port 31337 (registered)",
                "  tcp: 1 to it (1 connection attempts), 0 from it; [hostile] Back Orifice's port.",
                "  udp: 1 to it, 0 from it; [hostile] Elite: A port for the elite.",
            ]
        );
    }

    fn parse(extra: &[&str]) -> Result<QueryArgs, String> {
        use clap::Parser as _;
        let mut argv = vec!["probe", "query"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .command
        {
            crate::cli::Command::Query(q) => Ok(q),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn iface_asks_about_one_interface_before_or_after_the_query_and_is_checked() {
        assert_eq!(parse(&["stats"]).unwrap().iface, None);
        assert_eq!(
            parse(&["--iface", "eth1", "stats"])
                .unwrap()
                .iface
                .as_deref(),
            Some("eth1")
        );
        assert_eq!(
            parse(&["sources", "--iface", "eth1"])
                .unwrap()
                .iface
                .as_deref(),
            Some("eth1")
        );
        let error = parse(&["--iface", "../x", "stats"]).unwrap_err();
        assert!(error.contains("is not an interface name"), "{error}");
    }

    #[test]
    fn stats_say_which_interfaces_they_count() {
        let mut s = Stats::default();
        assert!(stats_table(&s).starts_with("COUNTER"));
        s.iface = Some("eth0".into());
        s.attach = Some("native".into());
        assert!(stats_table(&s).starts_with("watching eth0 (native XDP)\nCOUNTER"));
        s.iface = None;
        s.attach = None;
        s.interfaces = ["eth0", "eth1"]
            .map(|i| crate::query::answer::Watched {
                iface: i.into(),
                attach: "native".into(),
            })
            .into();
        assert!(stats_table(&s).starts_with("watching eth0, eth1 (native XDP)\nCOUNTER"));
        s.open_findings = Some(crate::query::answer::OpenFindings::from_levels([
            4, 3, 2, 1,
        ]));
        assert!(
            stats_table(&s)
                .ends_with("\nopen findings: 1 hostile, 2 suspicious, 3 notable, 4 benign\n")
        );
    }

    #[test]
    fn sources_of_several_interfaces_show_each_rows_interface() {
        let entry = |src: &str, iface: Option<&str>| SourceEntry {
            row: crate::sources::SourceRow::sample(src, 7, 0),
            iface: iface.map(str::to_owned),
        };
        let one = sources_table(&[entry("198.18.0.2", None)], true);
        assert!(one.starts_with("SOURCE      PACKETS  SYN"), "{one}");
        let two = sources_table(
            &[
                entry("198.18.0.2", Some("eth0")),
                entry("10.0.0.4", Some("eth1")),
            ],
            true,
        );
        let lines: Vec<&str> = two.lines().collect();
        assert!(
            lines[0].starts_with("SOURCE      IFACE  PACKETS  SYN"),
            "{two}"
        );
        assert!(lines[1].starts_with("198.18.0.2  eth0         7"), "{two}");
        assert!(lines[2].starts_with("10.0.0.4    eth1         7"), "{two}");
    }

    #[test]
    fn long_tables_say_how_much_is_hidden_and_empty_ones_say_so() {
        let rows = (0..30).map(|i| vec![i.to_string()]).collect();
        let t = table(&["N"], rows, false, "ports");
        assert_eq!(t.lines().count(), 1 + 25 + 1);
        assert!(
            t.ends_with("(5 more; --top N shows more, --json shows all)\n"),
            "{t}"
        );
        assert_eq!(
            table(&["N"], vec![], false, "ports"),
            "no ports counted yet\n"
        );
    }
}
