//! Which contacts were answered. A probe goes unanswered (a closed port, a host that is not
//! there, a scanner that never completes the handshake); a conversation is answered. The
//! scans and the port findings weigh only what went unanswered, as Zeek counts failed
//! connections for its scan detection: a client opening ten connections to ten web servers
//! is browsing, not sweeping.
//!
//! An answer is known three ways, all from what the sensor sees:
//! - the kernel's (and the replay's) rule reports the first established segment after a
//!   reported SYN: the client completed the handshake, so the server accepted it. That is
//!   the one way a sensor that sees only what arrives learns that its hosts answered;
//! - a SYN+ACK: the server accepting, seen where both directions pass;
//! - a UDP datagram back from the port a recent datagram went to, to the port it came from:
//!   a reply (an NTP server's, a resolver's), seen where both directions pass.

use std::net::IpAddr;

use probe_common::packet::tcp_flags;

use super::table::Lru;
use crate::contact::{Contact, Proto};

/// One answered contact: `client` sent to `server`'s `port`, and `server` answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) ts_ns: u64,
    pub(crate) client: IpAddr,
    pub(crate) server: IpAddr,
    pub(crate) proto: Proto,
    /// The IP protocol number of `proto`.
    pub(crate) protocol: u8,
    /// The server's port.
    pub(crate) port: u16,
}

/// UDP requests seen recently: (client, client port, server, server port).
type Request = (IpAddr, u16, IpAddr, u16);

/// Recent UDP requests, to recognise their replies.
pub(crate) struct Requests {
    udp: Lru<Request, ()>,
}

impl Requests {
    pub(crate) fn new(cap: usize) -> Self {
        Self { udp: Lru::new(cap) }
    }

    /// Forgets requests made before `before`.
    pub(crate) fn expire(&mut self, before: u64) {
        self.udp.expire(before);
    }

    /// The contact `c` answers, if any; remembers `c` as a request when it may get a reply.
    pub(crate) fn see(&mut self, c: &Contact) -> Option<Answer> {
        match c.proto {
            // The kernel's report of a completed handshake: the client's segment.
            Proto::Tcp if is_answer(c) => Some(Answer {
                ts_ns: c.ts_ns,
                client: c.src,
                server: c.dst,
                proto: Proto::Tcp,
                protocol: c.protocol,
                port: c.dst_port,
            }),
            // The server accepting.
            Proto::Tcp
                if c.tcp_flags_known()
                    && c.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK | tcp_flags::RST)
                        == tcp_flags::SYN | tcp_flags::ACK =>
            {
                Some(Answer {
                    ts_ns: c.ts_ns,
                    client: c.dst,
                    server: c.src,
                    proto: Proto::Tcp,
                    protocol: c.protocol,
                    port: c.src_port,
                })
            }
            Proto::Udp if c.src_port != 0 && c.dst_port != 0 => {
                let request = (c.dst, c.dst_port, c.src, c.src_port);
                if self.udp.get(&request).is_some() {
                    self.udp.remove(&request);
                    return Some(Answer {
                        ts_ns: c.ts_ns,
                        client: c.dst,
                        server: c.src,
                        proto: Proto::Udp,
                        protocol: c.protocol,
                        port: c.src_port,
                    });
                }
                self.udp
                    .touch(&(c.src, c.src_port, c.dst, c.dst_port), c.ts_ns, || ());
                None
            }
            _ => None,
        }
    }
}

/// True for the kernel's report of an answer rather than a first contact: an established TCP
/// segment (ACK without SYN), which no first contact is.
pub(crate) fn is_answer(c: &Contact) -> bool {
    c.proto == Proto::Tcp
        && c.tcp_flags_known()
        && c.tcp_flags & (tcp_flags::ACK | tcp_flags::SYN) == tcp_flags::ACK
}
