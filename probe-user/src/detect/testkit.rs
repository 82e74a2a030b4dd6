//! Contacts and engines for the detectors' unit tests.

use std::{net::IpAddr, sync::Arc};

use probe_common::packet::tcp_flags::{ACK, SYN};

use super::{Config, Engine};
use crate::{
    contact::{Contact, Proto},
    findings::{Finding, Kind},
    knowledge::{Knowledge, Services},
};

/// 2024-05-01T12:00:00Z.
pub(crate) const T0: u64 = 1_714_564_800_000_000_000;
pub(crate) const MS: u64 = 1_000_000;
pub(crate) const SEC: u64 = 1_000_000_000;

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn contact(src: &str, dst: &str, proto: Proto, protocol: u8) -> Contact {
    Contact {
        ts_ns: T0,
        src: ip(src),
        dst: ip(dst),
        proto,
        protocol,
        src_port: 0,
        dst_port: 0,
        ttl: 64,
        ip_id: 0,
        tcp_flags: 0,
        tcp_window: 0,
        tcp_seq: 0,
        icmp_type: 0,
        icmp_code: 0,
        ip_options: 0,
        ip_options_malformed: false,
        dont_fragment: true,
        more_fragments: false,
        fragment_offset: 0,
        tiny_fragment: false,
        l4_held: 0,
        extensions: 0,
        long_chain: false,
        payload: Vec::new(),
    }
}

/// A TCP segment with these flags, TTL 64, at `T0`, with the window an ordinary stack opens
/// with (no scanner's mark: `detect::tools` tests set their own fields).
pub(crate) fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> Contact {
    Contact {
        src_port: sport,
        dst_port: dport,
        tcp_flags: flags,
        tcp_window: 64_240,
        ..contact(src, dst, Proto::Tcp, 6)
    }
}

pub(crate) fn syn(src: &str, dst: &str, dport: u16) -> Contact {
    tcp(src, 40_000, dst, dport, SYN)
}

pub(crate) fn syn_ack(src: &str, sport: u16, dst: &str, dport: u16) -> Contact {
    tcp(src, sport, dst, dport, SYN | ACK)
}

pub(crate) fn udp(src: &str, sport: u16, dst: &str, dport: u16) -> Contact {
    Contact {
        src_port: sport,
        dst_port: dport,
        ..contact(src, dst, Proto::Udp, 17)
    }
}

pub(crate) fn icmp(src: &str, dst: &str, ty: u8, code: u8) -> Contact {
    Contact {
        icmp_type: ty,
        icmp_code: code,
        ..contact(src, dst, Proto::Icmp, 1)
    }
}

pub(crate) fn icmp6(src: &str, dst: &str, ty: u8, code: u8) -> Contact {
    Contact {
        icmp_type: ty,
        icmp_code: code,
        ..contact(src, dst, Proto::Icmpv6, 58)
    }
}

/// The same contact `ms` milliseconds after `T0`.
pub(crate) fn at(c: Contact, ms: u64) -> Contact {
    Contact {
        ts_ns: T0 + ms * MS,
        ..c
    }
}

/// The same contact with another TTL.
pub(crate) fn ttl(c: Contact, ttl: u8) -> Contact {
    Contact { ttl, ..c }
}

/// A config from JSON text (the same `Deserialize` a TOML file would go through).
pub(crate) fn config(json: &str) -> Result<Config, serde_json::Error> {
    serde_json::from_str(json)
}

pub(crate) fn knowledge() -> Arc<Knowledge> {
    Arc::new(Knowledge::new(Services::empty()))
}

pub(crate) fn engine() -> Engine {
    Engine::new(Config::default(), knowledge())
}

pub(crate) fn engine_with(config: Config) -> Engine {
    Engine::new(config, knowledge())
}

/// Every line the engine makes for these contacts, then a flush 1 s after the last one.
pub(crate) fn run(e: &mut Engine, contacts: &[Contact]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut last = T0;
    for c in contacts {
        out.extend(e.contact(c));
        last = last.max(c.ts_ns);
    }
    out.extend(e.flush(last + SEC));
    out
}

/// The lines of one kind.
pub(crate) fn of(lines: &[Finding], kind: Kind) -> Vec<&Finding> {
    lines.iter().filter(|f| f.kind == kind).collect()
}

/// The kinds that opened a finding, in order.
pub(crate) fn opened(lines: &[Finding]) -> Vec<Kind> {
    lines
        .iter()
        .filter(|f| f.status == crate::findings::Status::New)
        .map(|f| f.kind)
        .collect()
}

/// The last line of the one finding of `kind`; fails if there is not exactly one.
pub(crate) fn last_of(lines: &[Finding], kind: Kind) -> &Finding {
    let all = of(lines, kind);
    let ids: std::collections::BTreeSet<u64> = all.iter().map(|f| f.id).collect();
    assert_eq!(
        ids.len(),
        1,
        "exactly one {kind} finding expected, got {lines:#?}"
    );
    all.last().copied().unwrap()
}
