//! The scanners of today's Internet, and the fingerprints their probes carry.
//!
//! Internet-wide scanners build every probe from one template and fill a few header fields in
//! a way of their own, to recognise the answers without keeping state. Those fields give the
//! tool away. A fingerprint is one test on one probe; a tool is named only when it holds on most
//! of a source's probes (see `detect::tools`), since any single probe may match by chance.

use std::net::IpAddr;

use serde::Serialize;

use crate::contact::{Contact, Proto};

/// A scanner the probe recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    Zmap,
    Masscan,
    Mirai,
    Nmap,
}

impl Tool {
    pub const ALL: [Self; 4] = [Self::Zmap, Self::Masscan, Self::Mirai, Self::Nmap];

    /// The name written in a finding's `tool` field.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Zmap => "zmap",
            Self::Masscan => "masscan",
            Self::Mirai => "mirai",
            Self::Nmap => "nmap",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// One sentence for a finding's explanation: what the tool is and who runs it.
    pub const fn sentence(self) -> &'static str {
        match self {
            Self::Zmap => {
                "The probes carry ZMap's mark (IP identification 54321): ZMap is the \
                 University of Michigan's Internet-wide scanner, run mostly by researchers and \
                 search engines of exposed devices (Censys and others), and by attackers too."
            }
            Self::Masscan => {
                "The probes carry masscan's mark (an IP identification made from the \
                 destination, the port and the sequence number): masscan is a fast \
                 Internet-wide scanner, used by researchers and by attackers looking for \
                 exposed services."
            }
            Self::Mirai => {
                "The probes carry Mirai's mark (a TCP sequence number equal to the destination \
                 address): Mirai and its many descendants are botnets of infected routers, \
                 cameras and other devices that scan for more devices to break into with \
                 default passwords and known flaws."
            }
            Self::Nmap => {
                "The probes look like nmap's SYN scan (a window of 1,024 to 4,096 bytes, no \
                 data): nmap is the common network scanner of administrators and attackers \
                 alike."
            }
        }
    }

    /// What `probe explain tool NAME` says: the tool, and how it was recognised.
    pub const fn explanation(self) -> &'static str {
        match self {
            Self::Zmap => {
                "ZMap sends single SYNs (or UDP and ICMP probes) to every address of the \
                 Internet in random order, fast enough to cover it in under an hour, and \
                 recognises answers by values it derives from each target rather than by \
                 remembering what it sent. Its packet builder sets every probe's IP \
                 identification to 54321 and its TTL to 255, which is what gives it away here: \
                 a source whose probes carry identification 54321 is running ZMap or a tool \
                 built on its code. Research scanners publish who they are (a reverse DNS name, \
                 a web page on the scanning host) and honour opt-out requests; the same tool \
                 in other hands hunts for vulnerable services. Newer versions can be configured \
                 otherwise, so a missing mark proves nothing. Sources: ZMap's packet builder \
                 (zmap/zmap, src/probe_modules/packet.c); Mazel and Strullu, \"Identifying and \
                 characterizing ZMap scans: a cryptanalytic approach\" (2019); Durumeric et \
                 al., \"Ten Years of ZMap\" (IMC 2024)."
            }
            Self::Masscan => {
                "masscan scans large address ranges asynchronously from a single packet \
                 template. To recognise answers without state it chooses each probe's \
                 sequence number as a keyed hash of the target, and sets the IP identification \
                 to the low 16 bits of the destination address, the destination port and that \
                 sequence number combined by exclusive or; its template also uses a TTL of 255 \
                 and a window of 1,024. A source whose probes satisfy that relation is running \
                 masscan. Source: masscan's packet template (robertdavidgraham/masscan, \
                 src/templ-pkt.c)."
            }
            Self::Mirai => {
                "Mirai, whose source was published in 2016, and the many botnets built from it \
                 infect routers, cameras and video recorders with default telnet passwords and \
                 later with exploits of known flaws, and make each infected device scan for \
                 more: SYNs to telnet (23, 2323) and, in its descendants, to other ports of \
                 vulnerable devices. Its scanner sets each probe's TCP sequence number to the \
                 destination address, which no ordinary stack does. A source with that mark is \
                 an infected device (often a home router) or a host running Mirai's code; its \
                 owner rarely knows. Sources: Antonakakis et al., \"Understanding the Mirai \
                 Botnet\" (USENIX Security 2017); Mirai's scanner source (bot/scanner.c)."
            }
            Self::Nmap => {
                "nmap's SYN scan (-sS) sends bare SYNs with a small window (1,024 bytes unless \
                 told otherwise, up to 4,096 in some of its probes) and one TCP option, and \
                 never completes a connection. Ordinary systems open connections with windows \
                 of tens of kilobytes, so a source whose SYNs all carry such a window is very \
                 likely nmap, though a window is easy to choose, so this is the weakest of the \
                 marks. Source: the nmap reference guide and book, \"TCP SYN scan\" \
                 (nmap.org/book/synscan.html)."
            }
        }
    }
}

/// The tool whose mark `c` carries, if any: a TCP connection attempt over IPv4 (the marks are
/// in IPv4 and TCP header fields).
pub fn mark(c: &Contact, syn: bool) -> Option<Tool> {
    let IpAddr::V4(dst) = c.dst else {
        return None;
    };
    if c.proto != Proto::Tcp || !syn {
        return None;
    }
    let dst = u32::from(dst);
    if c.ip_id == 54_321 {
        return Some(Tool::Zmap);
    }
    if c.tcp_seq == dst {
        return Some(Tool::Mirai);
    }
    if c.ip_id == (dst ^ u32::from(c.dst_port) ^ c.tcp_seq) & 0xffff {
        return Some(Tool::Masscan);
    }
    if (1024..=4096).contains(&c.tcp_window)
        && c.tcp_window.is_multiple_of(1024)
        && c.payload.is_empty()
    {
        return Some(Tool::Nmap);
    }
    None
}
