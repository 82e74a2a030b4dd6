//! Layout of the counters the XDP program writes and the daemon reads.
//!
//! Every counter lives in one `BPF_F_MMAPABLE` array, [`MAP`], whose element `cpu` is that
//! CPU's block of [`BLOCK`] counters: in memory, `u64` number `cpu * BLOCK + offset + key`,
//! where each [`Family`] (totals, ports, flags, ICMP ...) holds a fixed range of the block. Only
//! CPU `cpu` ever writes its block, so increments need no atomics, and a packet finds every
//! counter it bumps with one map lookup; the daemon maps the whole array read-only and sums the
//! blocks without a syscall per key (the kernel refuses `BPF_F_MMAPABLE` on per-CPU maps, hence
//! the manual layout). The program is built with one element; the daemon sets the map to
//! `possible CPUs` elements at load time.

/// `BPF_F_MMAPABLE`: the array can be mapped into user memory.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;

/// The counter map's name.
pub const MAP: &str = "COUNTERS";

/// One family of counters: its name, and where its keys lie in each CPU's block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    /// Index of key 0 in the block.
    pub offset: u32,
    /// How many keys the family holds (a power of two, so a key is masked into range).
    pub slice: u32,
}

impl Family {
    /// The family laid out right after `self` in the block.
    const fn after(self, name: &'static str, slice: u32) -> Self {
        Self {
            name,
            offset: self.offset + self.slice,
            slice,
        }
    }

    /// Index of `key` in the block, masked into the family's range: an index the verifier can
    /// prove inside the block, without a branch (keys are built in range).
    #[inline(always)]
    pub const fn index(self, key: u32) -> u32 {
        self.offset + (key & (self.slice - 1))
    }
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
    /// First fragments too short to hold their transport header (RFC 1858's tiny fragments;
    /// for IPv6, a header chain split across fragments). Also counted in `FRAGMENTS`.
    pub const TINY_FRAGMENTS: u32 = 11;
    /// IPv6 packets whose extension header chain is longer than the parser walks.
    pub const LONG_HEADER_CHAINS: u32 = 12;
    /// Number of keys (room for more; two cache lines).
    pub const COUNT: u32 = 16;
    /// Names, in key order, for output (unused keys are reserved).
    pub const NAMES: [&str; 13] = [
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
        "tiny_fragments",
        "long_header_chains",
    ];
}

/// Index of a transport protocol inside the port families.
pub mod port_proto {
    pub const TCP: u32 = 0;
    pub const UDP: u32 = 1;
}

/// Totals, keyed by [`total`]. First in the block: the counters every packet bumps share
/// the block's first cache lines.
pub const TOTALS: Family = Family {
    name: "totals",
    offset: 0,
    slice: total::COUNT,
};
/// TCP segments per flag byte (FIN..CWR as in byte 13 of the header).
pub const TCP_FLAGS: Family = TOTALS.after("tcp_flags", 256);
/// Packets per destination port: `port_proto * 65536 + port`. Non-first fragments are not here.
pub const DST_PORTS: Family = TCP_FLAGS.after("dst_ports", 2 * 65_536);
/// Packets per source port, keyed like [`DST_PORTS`].
pub const SRC_PORTS: Family = DST_PORTS.after("src_ports", 2 * 65_536);
/// TCP connection attempts (SYN without ACK) per destination port.
pub const SYN_PORTS: Family = SRC_PORTS.after("syn_ports", 65_536);
/// ICMP messages: `type * 256 + code`.
pub const ICMP: Family = SYN_PORTS.after("icmp", 65_536);
/// ICMPv6 messages: `type * 256 + code`.
pub const ICMPV6: Family = ICMP.after("icmpv6", 65_536);

/// Every family, in block order, for code that treats them alike.
pub const FAMILIES: [Family; 7] = [
    TOTALS, TCP_FLAGS, DST_PORTS, SRC_PORTS, SYN_PORTS, ICMP, ICMPV6,
];

/// Counters in each CPU's block: 3.5 MiB, under the 4 MiB the kernel allows an array element.
pub const BLOCK: u32 = ICMPV6.offset + ICMPV6.slice;

const _: () = {
    let mut i = 0;
    while i < FAMILIES.len() {
        // Masked keys stay inside their family...
        assert!(FAMILIES[i].slice.is_power_of_two());
        // ... and families start on a cache line (8 counters), so none straddles another's.
        assert!(FAMILIES[i].offset.is_multiple_of(8));
        i += 1;
    }
    assert!(BLOCK as usize * 8 <= 4 << 20);
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
