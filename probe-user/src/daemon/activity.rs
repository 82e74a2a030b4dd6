//! The log's activity lines: each port or ICMP message that became active this interval, with
//! what it most likely is.

use crate::{
    collector::Became,
    knowledge::{Direction, IcmpFamily, Knowledge, RangeClass},
};

/// Activity lines logged per interval at most; the rest are summed up in one line. A scan or a
/// flood of spoofed sources would otherwise make the daemon write one line per port, as fast as
/// an attacker cares to send, on the thread that also answers queries.
pub const ACTIVITY_LINES: usize = 20;

/// Logs what became active, [`ACTIVITY_LINES`] at most.
pub fn log(became: &[Became], k: &Knowledge) {
    for b in became.iter().take(ACTIVITY_LINES) {
        line(b, k);
    }
    if became.len() > ACTIVITY_LINES {
        log::info!(
            "active: {} more ports and ICMP messages this interval (probe query ports and icmp list them)",
            became.len() - ACTIVITY_LINES
        );
    }
}

fn line(became: &Became, k: &Knowledge) {
    match *became {
        Became::Port {
            proto,
            port,
            packets,
            syn,
        } => {
            let m = k.port(port, proto, Direction::Destination);
            let class = RangeClass::of(port);
            let packets = plural(packets, "packet");
            let attempts = if syn > 0 {
                format!(", {}", plural(syn, "connection attempt"))
            } else {
                String::new()
            };
            log::info!(
                "active: {port}/{proto} {packets}{attempts} ({class} port) [{}] {}: {}",
                m.level,
                m.name,
                m.meaning
            );
        }
        Became::Icmp {
            v6,
            icmp_type,
            code,
            packets,
        } => {
            let family = if v6 { IcmpFamily::V6 } else { IcmpFamily::V4 };
            let m = k.icmp(family, icmp_type, code);
            let name = if v6 { "icmpv6" } else { "icmp" };
            let packets = plural(packets, "message");
            log::info!(
                "active: {name} type {icmp_type} code {code}, {packets} [{}] {}: {}",
                m.level,
                m.name,
                m.meaning
            );
        }
    }
}

/// `1 packet`, `2 packets`.
fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
