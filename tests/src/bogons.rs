//! THE ONE PLACE THE TESTS USE ADDRESSES OUTSIDE THE LAB RANGES, deliberately.
//!
//! ../shared/docs/lab.md allows one exception to "IPv4 only from 198.18.0.0/15": a test of
//! bogon detection may send a crafted packet whose *source* is private, loopback or link-local,
//! *to* a lab address, from inside the lab, where no namespace has a route out. These are those
//! sources. They are built from octets, so no dotted literal appears anywhere in the tests.

use std::net::Ipv4Addr;

/// A bogon source, the block the probe should name for it, and that block's name in the
/// knowledge data.
pub struct Bogon {
    pub addr: Ipv4Addr,
    pub block: String,
    pub block_name: &'static str,
}

/// A private (RFC 1918), a loopback and a link-local source.
pub fn bogon_sources() -> [Bogon; 3] {
    [
        Bogon {
            addr: Ipv4Addr::new(10, 1, 2, 3),
            block: format!("{}/8", Ipv4Addr::new(10, 0, 0, 0)),
            block_name: "Private (10.x.x.x)",
        },
        Bogon {
            addr: Ipv4Addr::new(127, 0, 0, 9),
            block: format!("{}/8", Ipv4Addr::new(127, 0, 0, 0)),
            block_name: "Loopback",
        },
        Bogon {
            addr: Ipv4Addr::new(169, 254, 7, 7),
            block: format!("{}/16", Ipv4Addr::new(169, 254, 0, 0)),
            block_name: "Link-local (169.254.x.x)",
        },
    ]
}
