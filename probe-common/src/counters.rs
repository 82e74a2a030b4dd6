//! Layout of the counter maps the XDP program writes and the daemon reads.
//!
//! Each counter family is one `BPF_F_MMAPABLE` array whose element `cpu` is that CPU's slice,
//! `[u64; SLICE]`: in memory, `u64` number `cpu * SLICE + key`. Only CPU `cpu` ever writes its
//! slice, so increments need no atomics, and one lookup serves every counter of the family a
//! packet bumps; the daemon maps the whole array read-only and sums the slices without a
//! syscall per key (the kernel refuses `BPF_F_MMAPABLE` on per-CPU maps, hence the manual
//! layout). The program is built with one element; the daemon sets each map to
//! `possible CPUs` elements at load time.

/// `BPF_F_MMAPABLE`: the array can be mapped into user memory.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;

/// One family of counters: the map's name and how many keys each CPU's slice holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    pub map: &'static str,
    pub slice: u32,
}

/// Keys of [`TOTALS`].
pub mod total {
    /// Every frame seen.
    pub const PACKETS: u32 = 0;
    /// Bytes of every frame seen.
    pub const BYTES: u32 = 1;
    /// Well-formed IPv4 packets.
    pub const IPV4: u32 = 2;
    /// Well-formed IPv6 packets.
    pub const IPV6: u32 = 3;
    /// Frames of an EtherType the probe does not decode (ARP, LLDP, ...).
    pub const OTHER_ETHER_TYPE: u32 = 4;
    /// Frames with at least one VLAN tag.
    pub const VLAN_TAGGED: u32 = 5;
    /// IP fragments, first or not.
    pub const FRAGMENTS: u32 = 6;
    /// Frames the parser refused: `PACKETS = IPV4 + IPV6 + OTHER_ETHER_TYPE + MALFORMED`.
    pub const MALFORMED: u32 = 7;
    /// First-contact events delivered to the ring buffer.
    pub const EVENTS: u32 = 8;
    /// First contacts not reported because the event rate limit was reached.
    pub const EVENTS_RATE_LIMITED: u32 = 9;
    /// First contacts not reported because the ring buffer was full (the daemon fell behind).
    pub const EVENTS_RING_FULL: u32 = 10;
    /// Number of keys (two 64-byte cache lines, so CPUs never share one).
    pub const COUNT: u32 = 16;
    /// Names, in key order, for output (unused keys are reserved).
    pub const NAMES: [&str; 11] = [
        "packets",
        "bytes",
        "ipv4",
        "ipv6",
        "other_ether_type",
        "vlan_tagged",
        "fragments",
        "malformed",
        "events",
        "events_rate_limited",
        "events_ring_full",
    ];
}

/// Index of a transport protocol inside the port families.
pub mod port_proto {
    pub const TCP: u32 = 0;
    pub const UDP: u32 = 1;
}

/// Totals, keyed by [`total`].
pub const TOTALS: Family = Family {
    map: "TOTALS",
    slice: total::COUNT,
};
/// Packets per destination port: `port_proto * 65536 + port`. Non-first fragments are not here.
pub const DST_PORTS: Family = Family {
    map: "DST_PORTS",
    slice: 2 * 65_536,
};
/// Packets per source port, keyed like [`DST_PORTS`].
pub const SRC_PORTS: Family = Family {
    map: "SRC_PORTS",
    slice: 2 * 65_536,
};
/// TCP connection attempts (SYN without ACK) per destination port.
pub const SYN_PORTS: Family = Family {
    map: "SYN_PORTS",
    slice: 65_536,
};
/// TCP segments per flag byte (FIN..CWR as in byte 13 of the header).
pub const TCP_FLAGS: Family = Family {
    map: "TCP_FLAGS",
    slice: 256,
};
/// ICMP messages: `type * 256 + code`.
pub const ICMP: Family = Family {
    map: "ICMP",
    slice: 65_536,
};
/// ICMPv6 messages: `type * 256 + code`.
pub const ICMPV6: Family = Family {
    map: "ICMPV6",
    slice: 65_536,
};

/// Every family, for code that treats them alike (sizing, mapping, summing).
pub const FAMILIES: [Family; 7] = [
    TOTALS, DST_PORTS, SRC_PORTS, SYN_PORTS, TCP_FLAGS, ICMP, ICMPV6,
];

// The XDP program masks keys with `slice - 1` to keep them provably in range.
const _: () = {
    let mut i = 0;
    while i < FAMILIES.len() {
        assert!(FAMILIES[i].slice.is_power_of_two());
        i += 1;
    }
};

/// Key of an ICMP or ICMPv6 type and code.
#[inline(always)]
pub const fn icmp_key(icmp_type: u8, code: u8) -> u32 {
    (icmp_type as u32) << 8 | code as u32
}

/// Key of a port in [`DST_PORTS`] / [`SRC_PORTS`].
#[inline(always)]
pub const fn port_key(proto: u32, port: u16) -> u32 {
    proto * 65_536 + port as u32
}
