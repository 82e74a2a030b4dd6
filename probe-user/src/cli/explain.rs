//! `probe explain`: what a port, ICMP message, address or traffic pattern means. Offline: needs
//! no root and no daemon, only the built-in knowledge (plus `--knowledge FILE`). A port both
//! built-in tables describe gets both answers, the one detectors use first.

use std::{fmt::Write as _, net::IpAddr, path::PathBuf, process::ExitCode};

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::knowledge::{
    Answer, Basis, Category, Direction, IcmpFamily, IcmpMatch, Knowledge, Level, Listed, PortMatch,
    Proto, RangeClass, Services, named, tools::Tool,
};

const EXAMPLES: &str = "\
Examples:
  probe explain 31337               what a probe of port 31337 means (TCP and UDP)
  probe explain 27015/udp --source  what traffic *from* UDP port 27015 means
  probe explain tool zmap           a scanner the probe recognises, and by what mark
  probe explain icmp 3 4            ICMP type 3, code 4
  probe explain icmp6 2             ICMPv6 type 2, all codes
  probe explain 169.254.10.3        what an address block means
  probe explain topic smurf         a traffic pattern (see --list for all topics)
  probe explain --list --category trojan --level hostile
  probe explain --list --basis modern   the table of today's most probed ports";

/// Arguments of `probe explain`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct ExplainArgs {
    /// What to explain: PORT[/tcp|/udp], `icmp TYPE [CODE]`, `icmp6 TYPE [CODE]`, an IP
    /// address, `topic ID` or `bytes TEXT` (a connection's first bytes).
    #[arg(value_name = "TARGET")]
    pub target: Vec<String>,
    /// Read PORT as the packet's source port (a server answering, a scanner's mark) rather than
    /// its destination.
    #[arg(long)]
    pub source: bool,
    /// List every entry of the knowledge tables instead of explaining one thing.
    #[arg(long)]
    pub list: bool,
    /// With --list: only entries of this category (trojan, game, proxy, ...).
    #[arg(long, value_name = "C")]
    pub category: Option<String>,
    /// With --list: only entries of this level (benign, notable, suspicious, hostile).
    #[arg(long, value_name = "L")]
    pub level: Option<String>,
    /// With --list: only entries of this basis: faq, general (the FAQ's table), modern (today's
    /// most probed ports) or override (your knowledge file).
    #[arg(long, value_name = "B")]
    pub basis: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// A TOML file that adds or overrides entries (see docs/knowledge.md).
    #[arg(long, value_name = "FILE")]
    pub knowledge: Option<PathBuf>,
    /// Read service names from FILE instead of /etc/services.
    #[arg(long, value_name = "FILE")]
    pub services: Option<PathBuf>,
}

/// What the user asked about.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Port {
        port: u16,
        proto: Option<Proto>,
    },
    Icmp {
        family: IcmpFamily,
        ty: u8,
        code: Option<u8>,
    },
    Address(IpAddr),
    Topic(String),
    Bytes(String),
    Tool(Tool),
}

const TARGET_HINT: &str = "write e.g. 31337, 27015/udp, icmp 3 4, icmp6 128, 2001:db8::1, topic smurf, tool zmap or bytes OPNG";

pub fn run(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    // Check the request before reading any file, so usage mistakes are reported first.
    let target = if args.list {
        if !args.target.is_empty() {
            bail!("--list takes no TARGET; drop either the TARGET or --list");
        }
        if args.source {
            bail!("--source applies to a port, not to --list; drop --source");
        }
        None
    } else {
        if args.category.is_some() || args.level.is_some() || args.basis.is_some() {
            bail!("--category, --level and --basis only filter --list; add --list or drop them");
        }
        let target = parse_target(&args.target)?;
        if args.source && !matches!(target, Target::Port { .. }) {
            bail!("--source applies only to a port (e.g. `probe explain 27015/udp --source`)");
        }
        Some(target)
    };
    let category = args
        .category
        .as_deref()
        .map(str::parse::<Category>)
        .transpose()
        .context("--category")?;
    let level = args
        .level
        .as_deref()
        .map(str::parse::<Level>)
        .transpose()
        .context("--level")?;
    let basis = args
        .basis
        .as_deref()
        .map(str::parse::<Basis>)
        .transpose()
        .context("--basis")?;
    if let Some(b @ (Basis::Services | Basis::Range | Basis::Unknown)) = basis {
        bail!(
            "--basis: no table entry has basis {b} (it marks fallback answers); entries are faq, general, modern or override"
        );
    }

    let services = match &args.services {
        Some(path) => Services::read(path)
            .with_context(|| format!("cannot read services file {}", path.display()))?,
        None => Services::system(),
    };
    let mut knowledge = Knowledge::new(services);
    if let Some(path) = &args.knowledge {
        knowledge = knowledge.with_overrides_file(path)?;
    }

    let filter = Filter {
        category,
        level,
        basis,
    };
    let out = match target {
        None => list(&knowledge, filter, args.json)?,
        Some(target) => explain(&knowledge, target, args.source, args.json)?,
    };
    print!("{}", crate::printable::lines(&out));
    Ok(ExitCode::SUCCESS)
}

fn parse_target(words: &[String]) -> anyhow::Result<Target> {
    let Some(first) = words.first() else {
        bail!("nothing to explain; {TARGET_HINT}, or use --list");
    };
    let rest = &words[1..];
    match first.to_ascii_lowercase().as_str() {
        "icmp" | "icmp4" | "icmpv4" => parse_icmp(IcmpFamily::V4, first, rest),
        "icmp6" | "icmpv6" => parse_icmp(IcmpFamily::V6, first, rest),
        "tool" => match rest {
            [name] => Tool::from_name(&name.to_ascii_lowercase())
                .map(Target::Tool)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{name:?} is not a tool the probe recognises; tools are: {}",
                        Tool::ALL.map(Tool::name).join(", ")
                    )
                }),
            _ => bail!("`tool` takes one name (e.g. `probe explain tool zmap`)"),
        },
        "topic" => match rest {
            [id] => Ok(Target::Topic(id.to_ascii_lowercase())),
            _ => bail!(
                "`topic` takes one ID (e.g. `probe explain topic smurf`); see --list for them"
            ),
        },
        "bytes" => match rest {
            [text] => Ok(Target::Bytes(text.clone())),
            _ => bail!(
                "`bytes` takes one argument, the connection's first bytes (e.g. `probe explain bytes OPNG`)"
            ),
        },
        _ => {
            if !rest.is_empty() {
                bail!(
                    "explain one thing at a time: unexpected {:?}; {TARGET_HINT}",
                    rest.join(" ")
                );
            }
            parse_single(first)
        }
    }
}

fn parse_icmp(family: IcmpFamily, word: &str, rest: &[String]) -> anyhow::Result<Target> {
    let number = |what: &str, s: &str| {
        s.parse::<u8>().map_err(|_| {
            anyhow::anyhow!("{word} {what} must be a number from 0 to 255, not {s:?} (e.g. `probe explain {word} 3 4`)")
        })
    };
    match rest {
        [ty] => Ok(Target::Icmp {
            family,
            ty: number("TYPE", ty)?,
            code: None,
        }),
        [ty, code] => Ok(Target::Icmp {
            family,
            ty: number("TYPE", ty)?,
            code: Some(number("CODE", code)?),
        }),
        [] => bail!("{word} needs a TYPE and optionally a CODE (e.g. `probe explain {word} 3 4`)"),
        _ => bail!("{word} takes at most a TYPE and a CODE (e.g. `probe explain {word} 3 4`)"),
    }
}

fn parse_single(word: &str) -> anyhow::Result<Target> {
    if let Ok(addr) = word.parse::<IpAddr>() {
        return Ok(Target::Address(addr));
    }
    let (number, proto) = match word.split_once('/') {
        Some((n, p)) => {
            let proto = match p.to_ascii_lowercase().as_str() {
                "tcp" => Proto::Tcp,
                "udp" => Proto::Udp,
                _ => bail!("unknown protocol {p:?} in {word:?}; write PORT/tcp or PORT/udp"),
            };
            (n, Some(proto))
        }
        None => (word, None),
    };
    if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
        return match number.parse::<u16>() {
            Ok(port) => Ok(Target::Port { port, proto }),
            Err(_) => bail!("{number} is not a port: ports run from 0 to 65535"),
        };
    }
    if proto.is_none()
        && !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        // A bare word: a topic id, checked against the tables later.
        return Ok(Target::Topic(word.to_owned()));
    }
    bail!("{word:?} is not a port, ICMP message, address or topic; {TARGET_HINT}")
}

/// A scanner the probe recognises: what it is, and the mark that gives it away.
fn tool_text(tool: Tool, json: bool) -> anyhow::Result<String> {
    if json {
        return to_json(&[serde_json::json!({
            "tool": tool.name(),
            "summary": tool.sentence(),
            "explanation": tool.explanation(),
        })]);
    }
    Ok(format!(
        "tool {}\n\n{}\n\n{}\n",
        tool.name(),
        tool.sentence(),
        tool.explanation()
    ))
}

fn to_json<T: Serialize>(value: &T) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(value)?;
    s.push('\n');
    Ok(s)
}

fn explain(k: &Knowledge, target: Target, source: bool, json: bool) -> anyhow::Result<String> {
    let direction = if source {
        Direction::Source
    } else {
        Direction::Destination
    };
    match target {
        Target::Port { port, proto } => explain_port(k, port, proto, direction, json),
        Target::Icmp { family, ty, code } => {
            let m = match code {
                Some(c) => k.icmp(family, ty, c),
                None => k.icmp_type(family, ty),
            };
            if json {
                return to_json(&[&m]);
            }
            Ok(icmp_text(&m))
        }
        Target::Address(addr) => {
            let Some(a) = k.address(addr) else {
                if json {
                    return to_json(&Vec::<Answer>::new());
                }
                return Ok(format!(
                    "{addr}: an ordinary {} address; no special block in the probe's knowledge \
                     covers it.\n",
                    if addr.is_ipv4() { "IPv4" } else { "IPv6" }
                ));
            };
            if json {
                return to_json(&[&a]);
            }
            Ok(answer_text(&a, &format!("{addr} (in {})", a.key)))
        }
        Target::Tool(tool) => tool_text(tool, json),
        Target::Topic(id) => {
            let Some(a) = k.topic(&id) else {
                let ids: Vec<String> = k
                    .list()
                    .iter()
                    .filter_map(|l| {
                        if let Listed::Topic(t) = l {
                            Some(t.id.clone())
                        } else {
                            None
                        }
                    })
                    .collect();
                bail!(
                    "{id:?} is not a port, ICMP message, address or known topic; topics are: {}",
                    ids.join(", ")
                );
            };
            if json {
                return to_json(&[&a]);
            }
            Ok(answer_text(&a, &a.key))
        }
        Target::Bytes(text) => {
            let Some(a) = k.first_bytes(text.as_bytes()) else {
                if json {
                    return to_json(&Vec::<Answer>::new());
                }
                return Ok(format!(
                    "{text:?}: no protocol the probe knows starts like this. See \
                     `probe explain topic unknown-protocol` for how to find out.\n"
                ));
            };
            if json {
                return to_json(&[&a]);
            }
            Ok(answer_text(&a, &a.key))
        }
    }
}

/// A port's answers, per protocol, the one detectors use first.
fn explain_port(
    k: &Knowledge,
    port: u16,
    proto: Option<Proto>,
    direction: Direction,
    json: bool,
) -> anyhow::Result<String> {
    // Per protocol, every answer: the one detectors use first.
    let protos: &[Proto] = match proto {
        Some(Proto::Tcp) => &[Proto::Tcp],
        Some(Proto::Udp) => &[Proto::Udp],
        None => &[Proto::Tcp, Proto::Udp],
    };
    let answers: Vec<Vec<PortMatch>> = protos
        .iter()
        .map(|&p| k.port_answers(port, p, direction))
        .collect();
    if json {
        return to_json(&answers.concat());
    }
    let same = matches!(&answers[..], [tcp, udp]
        if tcp.len() == udp.len()
            && tcp.iter().zip(udp).all(|(a, b)| same_but_proto(a, b)));
    let groups: Vec<(&[PortMatch], &str)> = if same {
        vec![(&answers[0], "tcp+udp")]
    } else {
        answers
            .iter()
            .map(|a| (a.as_slice(), a[0].proto.as_str()))
            .collect()
    };
    let mut out = String::new();
    for (answers, proto) in groups {
        for (i, m) in answers.iter().enumerate() {
            if !out.is_empty() {
                out.push('\n');
            }
            port_text(&mut out, m, proto, i > 0);
        }
    }
    Ok(out)
}

fn same_but_proto(a: &PortMatch, b: &PortMatch) -> bool {
    a.name == b.name
        && a.meaning == b.meaning
        && a.explanation == b.explanation
        && a.level == b.level
        && a.category == b.category
        && a.faq == b.faq
        && a.source == b.source
        && a.basis == b.basis
        && a.entry == b.entry
        && a.lost == b.lost
}

/// Where an answer came from, in words: the FAQ section, or the reports a modern entry names.
fn reference(basis: Basis, faq: Option<&str>, source: Option<&str>) -> String {
    let faq = faq.map(|f| format!("FAQ {f}"));
    // A user's entry and a modern one cite whatever they have: a section, reports, or both.
    let cited = || {
        let all: Vec<&str> = faq.as_deref().into_iter().chain(source).collect();
        (!all.is_empty()).then(|| all.join("; "))
    };
    match (basis, &faq) {
        (Basis::Faq, Some(f)) => f.clone(),
        (Basis::Faq, None) => "the FAQ".to_owned(),
        (Basis::General, Some(f)) => {
            format!("{f}; written from general knowledge, not the FAQ's text")
        }
        (Basis::General, None) => "general knowledge".to_owned(),
        (Basis::Modern, _) => cited().unwrap_or_else(|| "today's public reports".to_owned()),
        (Basis::Override, _) => cited().map_or_else(
            || "your knowledge file".to_owned(),
            |c| format!("your knowledge file ({c})"),
        ),
        (Basis::Services, _) => "the system's service list (name only)".to_owned(),
        (Basis::Range, Some(f)) => format!("the port's range class ({f})"),
        (Basis::Range, None) => "the port's range class".to_owned(),
        (Basis::Unknown, _) => "nothing: not described".to_owned(),
    }
}

fn class_range(class: RangeClass) -> &'static str {
    match class {
        RangeClass::WellKnown => "0-1023",
        RangeClass::Registered => "1024-49151",
        RangeClass::Dynamic => "49152-65535",
    }
}

fn field(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "  {label:<10}{value}");
}

/// Word-wrap `text` to lines of at most `width` characters, each indented by two spaces.
/// Blank lines in `text` separate paragraphs.
fn wrap(out: &mut String, text: &str, width: usize) {
    for (i, para) in text.split("\n\n").enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut line = String::new();
        for word in para.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > width {
                let _ = writeln!(out, "  {line}");
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            let _ = writeln!(out, "  {line}");
        }
    }
}

fn tail(out: &mut String, explanation: &str, caveats: &[String], lost: Option<&str>) {
    out.push('\n');
    wrap(out, explanation, 76);
    for c in caveats {
        out.push('\n');
        wrap(out, &format!("Caveat: {c}"), 76);
    }
    if let Some(lost) = lost {
        out.push('\n');
        wrap(out, &format!("Lost from the FAQ: {lost}"), 76);
    }
}

/// One port answer. `also`: a further answer for the same port, after the one detectors use.
fn port_text(out: &mut String, m: &PortMatch, proto: &str, also: bool) {
    let end = match m.direction {
        Direction::Destination => "",
        Direction::Source => " as a source port",
    };
    let also = if also { ", also" } else { "" };
    let _ = writeln!(out, "{}/{proto}{end}{also}: {}", m.port, m.name);
    field(out, "level", m.level.as_str());
    field(out, "category", m.category.as_str());
    field(out, "meaning", &m.meaning);
    field(
        out,
        "range",
        &format!("{} ({})", m.class, class_range(m.class)),
    );
    if let Some(entry) = m.entry.filter(|e| e.lo != e.hi) {
        field(out, "entry", &format!("ports {entry}"));
    }
    field(out, "basis", m.basis.as_str());
    field(
        out,
        "reference",
        &reference(m.basis, m.faq.as_deref(), m.source.as_deref()),
    );
    tail(out, &m.explanation, &m.caveats, m.lost.as_deref());
}

fn icmp_text(m: &IcmpMatch) -> String {
    let family = match m.family {
        IcmpFamily::V4 => "ICMP",
        IcmpFamily::V6 => "ICMPv6",
    };
    let mut out = String::new();
    let _ = match m.code {
        Some(c) => writeln!(out, "{family} type {} code {c}: {}", m.icmp_type, m.name),
        None => writeln!(out, "{family} type {}: {}", m.icmp_type, m.name),
    };
    field(&mut out, "level", m.level.as_str());
    field(&mut out, "category", m.category.as_str());
    field(&mut out, "meaning", &m.meaning);
    field(
        &mut out,
        "reference",
        &reference(m.basis, m.faq.as_deref(), None),
    );
    tail(&mut out, &m.explanation, &[], m.lost.as_deref());
    out
}

fn answer_text(a: &Answer, heading: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{heading}: {}", a.name);
    field(&mut out, "level", a.level.as_str());
    field(&mut out, "category", a.category.as_str());
    field(&mut out, "meaning", &a.meaning);
    field(
        &mut out,
        "reference",
        &reference(a.basis, a.faq.as_deref(), a.source.as_deref()),
    );
    tail(&mut out, &a.explanation, &[], a.lost.as_deref());
    out
}

/// What `--list` keeps.
#[derive(Clone, Copy, Debug)]
struct Filter {
    category: Option<Category>,
    level: Option<Level>,
    basis: Option<Basis>,
}

fn list(k: &Knowledge, filter: Filter, json: bool) -> anyhow::Result<String> {
    let entries: Vec<Listed<'_>> = k
        .list()
        .into_iter()
        .filter(|e| filter.category.is_none_or(|c| e.info().category == c))
        .filter(|e| filter.level.is_none_or(|l| e.info().level == l))
        .filter(|e| filter.basis.is_none_or(|b| e.info().basis == b))
        .collect();
    if json {
        return to_json(&entries);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:<12} {:<11} {:<14} {:<9} NAME: MEANING",
        "ENTRY", "DIRECTION", "LEVEL", "CATEGORY", "BASIS"
    );
    for e in &entries {
        let info = e.info();
        let _ = writeln!(
            out,
            "{:<22} {:<12} {:<11} {:<14} {:<9} {}",
            e.key(),
            e.direction().map_or("-", |d| d.as_str()),
            info.level.as_str(),
            info.category.as_str(),
            info.basis.as_str(),
            named(&info.name, &info.meaning)
        );
    }
    if entries.is_empty() {
        out.push_str("(no entries match)\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target(&words("31337")).unwrap(),
            Target::Port {
                port: 31337,
                proto: None
            }
        );
        assert_eq!(
            parse_target(&words("27015/UDP")).unwrap(),
            Target::Port {
                port: 27015,
                proto: Some(Proto::Udp)
            }
        );
        assert_eq!(
            parse_target(&words("icmp 3 4")).unwrap(),
            Target::Icmp {
                family: IcmpFamily::V4,
                ty: 3,
                code: Some(4)
            }
        );
        assert_eq!(
            parse_target(&words("icmp6 128")).unwrap(),
            Target::Icmp {
                family: IcmpFamily::V6,
                ty: 128,
                code: None
            }
        );
        assert_eq!(
            parse_target(&words("10.1.2.3")).unwrap(),
            Target::Address("10.1.2.3".parse().unwrap())
        );
        assert_eq!(
            parse_target(&words("smurf")).unwrap(),
            Target::Topic("smurf".into())
        );
    }

    #[test]
    fn bad_targets_say_what_to_do() {
        let err = |s: &str| parse_target(&words(s)).unwrap_err().to_string();
        assert_eq!(
            err("70000"),
            "70000 is not a port: ports run from 0 to 65535"
        );
        assert_eq!(
            err("80/sctp"),
            "unknown protocol \"sctp\" in \"80/sctp\"; write PORT/tcp or PORT/udp"
        );
        assert_eq!(
            err("icmp x"),
            "icmp TYPE must be a number from 0 to 255, not \"x\" (e.g. `probe explain icmp 3 4`)"
        );
        assert!(err("icmp 3 4 5").starts_with("icmp takes at most a TYPE and a CODE"));
        assert!(err("80 81").starts_with("explain one thing at a time"));
        assert!(err("Foo!").contains("is not a port, ICMP message, address or topic"));
    }

    #[test]
    fn wrap_keeps_lines_short_and_paragraphs_apart() {
        let mut out = String::new();
        wrap(&mut out, "aaa bbb ccc ddd\n\neee", 8);
        assert_eq!(out, "  aaa bbb\n  ccc ddd\n\n  eee\n");
    }
}
