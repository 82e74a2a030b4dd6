//! The log's activity lines: each port or ICMP message that became active this interval, with
//! what it most likely is.

use crate::{
    collector::Became,
    knowledge::{Direction, IcmpFamily, Knowledge, RangeClass, named},
};

/// Activity lines logged per interval at most; the rest are summed up in one line. A scan or a
/// flood of spoofed sources would otherwise make the daemon write one line per port, as fast as
/// an attacker cares to send, on the thread that also answers queries.
pub const ACTIVITY_LINES: usize = 20;

/// Logs what became active, [`ACTIVITY_LINES`] at most; each line starts with the interface
/// `on` when given (the daemon watches several).
pub fn log(became: &[Became], k: &Knowledge, on: Option<&str>) {
    let on = on.map_or_else(String::new, |iface| format!("{iface}: "));
    for b in became.iter().take(ACTIVITY_LINES) {
        log::info!("{on}{}", line(b, k));
    }
    if became.len() > ACTIVITY_LINES {
        log::info!(
            "{on}active: {} more ports and ICMP messages this interval (probe query ports and icmp list them)",
            became.len() - ACTIVITY_LINES
        );
    }
}

/// One activity line: what became active, its level, and what it is (its name said once).
fn line(became: &Became, k: &Knowledge) -> String {
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
            format!(
                "active: {port}/{proto} {packets}{attempts} ({class} port) [{}] {}",
                m.level,
                named(&m.name, &m.meaning)
            )
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
            format!(
                "active: {name} type {icmp_type} code {code}, {packets} [{}] {}",
                m.level,
                named(&m.name, &m.meaning)
            )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::{Proto, Services};

    #[test]
    fn a_line_says_the_name_once() {
        let k = Knowledge::new(Services::empty());
        let port = |port, syn| Became::Port {
            proto: Proto::Tcp,
            port,
            packets: 2,
            syn,
        };
        assert_eq!(
            line(&port(31_337, 2), &k),
            "active: 31337/tcp 2 packets, 2 connection attempts (registered port) [hostile] \
             Back Orifice's port, and \"elite\" in hacker spelling; a scan for backdoored machines."
        );
        assert_eq!(
            line(&port(22, 0), &k),
            "active: 22/tcp 2 packets (well-known port) [suspicious] SSH: the standard remote \
             shell, and the target of endless automated password guessing."
        );
        let ping = Became::Icmp {
            v6: false,
            icmp_type: 8,
            code: 0,
            packets: 1,
        };
        assert_eq!(
            line(&ping, &k),
            "active: icmp type 8 code 0, 1 message [benign] Echo Request: A ping: someone \
             checking whether this address is alive."
        );
    }
}
