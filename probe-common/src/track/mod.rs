//! What the kernel tracks beyond counters: which contacts are new, and per-source state.
//!
//! The first-contact rule is defined here once, for the XDP program and for the host:
//! - which packets are contacts at all, and their key ([`contact_key`]): an established TCP
//!   segment (ACK set, SYN clear) never is, so the busiest class of traffic stays on the
//!   cheap path;
//! - the key's hash and its slot in a CPU's direct-mapped table of reported contacts
//!   ([`flow_hash`], [`contact_slot`]): a slot holding the hash means "reported already";
//! - the per-CPU token bucket that rate-limits reports ([`Bucket::take`]), whose refusals are
//!   counted (`counters::total::EVENTS_RATE_LIMITED`) and reported as an overload.
//!
//! The kernel keeps the table in a BPF array (probe-ebpf's `track.rs`); the host keeps it in a
//! `Vec` ([`user`]), which is how the offline replay runs exactly the kernel's rule, as one CPU.

use crate::packet::{Network, Packet, Transport, tcp_flags};

/// Default slots of each CPU's per-source table. Direct-mapped: a source takes the slot its
/// address hashes to, and a new source whose address hashes there takes it over.
pub const DEFAULT_SOURCES: u32 = 65_536;
/// Default slots of each CPU's table of reported contacts (direct-mapped, as the sources).
pub const DEFAULT_CONTACTS: u32 = 262_144;
/// Largest tables the daemon accepts: 160 MiB and 128 MiB per CPU.
pub const MAX_SOURCES: u32 = 1 << 20;
pub const MAX_CONTACTS: u32 = 1 << 24;
/// Default first-contact events per second per CPU, and the burst allowed above it.
pub const DEFAULT_EVENT_RATE: u64 = 5_000;
pub const DEFAULT_EVENT_BURST: u64 = 20_000;
/// Bits in the per-source sketch of destination ports and of destination hosts.
pub const PORT_SKETCH_BITS: u32 = 512;
pub const HOST_SKETCH_BITS: u32 = 256;

/// Map names shared by both sides.
pub mod map {
    pub const SOURCES: &str = "SOURCES";
    /// The source ports listed as significant ([`super::SOURCE_PORT_WORDS`] words), filled
    /// by the daemon from its knowledge before the program is attached.
    pub const SOURCE_PORTS: &str = "SOURCE_PORTS";
    pub const CONTACTS: &str = "CONTACTS";
    pub const EVENTS: &str = "EVENTS";
    pub const BUCKET: &str = "BUCKET";
    /// The tracking maps whose state must outlive a daemon restart (pinned with the counters).
    pub const PERSISTENT: [&str; 4] = [SOURCES, CONTACTS, EVENTS, BUCKET];
}

/// Load-time settings (globals the daemon overrides before loading).
pub mod setting {
    /// First-contact events per second per CPU.
    pub const EVENT_RATE: &str = "EVENT_RATE";
    /// Events allowed in a burst above the rate.
    pub const EVENT_BURST: &str = "EVENT_BURST";
    /// Slots of the per-source table minus one (the table has a power of two of them).
    pub const SOURCE_MASK: &str = "SOURCE_MASK";
    /// Slots of the reported-contacts table minus one (a power of two of them).
    pub const CONTACT_MASK: &str = "CONTACT_MASK";
    /// Log2 of the per-source table's slots per CPU: a CPU's part starts at `cpu << shift`.
    pub const SOURCE_SHIFT: &str = "SOURCE_SHIFT";
    /// Log2 of the reported-contacts table's slots per CPU.
    pub const CONTACT_SHIFT: &str = "CONTACT_SHIFT";
}

/// The table size used for a requested capacity: the next power of two (at least 2), so a
/// slot is a hash masked, not divided.
pub const fn table_slots(requested: u32) -> u32 {
    let n = if requested < 2 { 2 } else { requested };
    match n.checked_next_power_of_two() {
        Some(p) => p,
        None => 1 << 31,
    }
}

/// Most slots a table may hold over every CPU: the program computes `cpu * slots + slot` in 32
/// bits, and the kernel indexes arrays with a `u32`.
pub const MAX_TABLE_ENTRIES: u64 = 1 << 31;

/// Slots per CPU for a table asked to hold `requested` per CPU on `cpus` CPUs:
/// [`table_slots`], halved while every CPU's part together would exceed [`MAX_TABLE_ENTRIES`].
pub const fn slots_per_cpu(requested: u32, cpus: u32) -> u32 {
    let mut slots = table_slots(requested);
    let cpus = if cpus == 0 { 1 } else { cpus as u64 };
    while slots > 2 && slots as u64 * cpus > MAX_TABLE_ENTRIES {
        slots /= 2;
    }
    slots
}

/// Words of the bitmap of significant source ports: 65,536 bits for TCP, then 65,536 for UDP.
pub const SOURCE_PORT_WORDS: u32 = 2 * 1024;

/// Index of the word holding `port`'s bit in the source-port bitmap, and the bit.
#[inline(always)]
pub const fn source_port_bit(udp: bool, port: u16) -> (u32, u64) {
    ((udp as u32) << 10 | (port as u32) >> 6, 1 << (port & 63))
}

/// Which source ports are significant as sources (FAQ 1.2, 1.9, 1.10: the port that explains
/// a game server's or a DNS server's traffic is the one it sends from). The kernel answers
/// from a map the daemon fills, the host from a bitmap: both from the knowledge's entries
/// for source ports.
pub trait SourcePorts {
    /// True when `port` (of UDP, else TCP) is listed.
    fn listed(&self, udp: bool, port: u16) -> bool;
}

/// No port listed: only the reserved-port rule of [`keyed_source_port`] applies.
pub struct NoneListed;

impl SourcePorts for NoneListed {
    #[inline(always)]
    fn listed(&self, _udp: bool, _port: u16) -> bool {
        false
    }
}

/// The source port a TCP or UDP contact is keyed by: its own when it is significant, so each
/// such source port is a first contact of its own, else 0. Significant: a reserved port
/// (1–1023: a service's port, a DNS query from a low port, sscan's source port 1), or one
/// `sources` lists. Reserved ports are tested first, so most of them cost no lookup.
#[inline(always)]
pub fn keyed_source_port(sources: &impl SourcePorts, udp: bool, src_port: u16) -> u16 {
    if (src_port != 0 && src_port < 1024) || sources.listed(udp, src_port) {
        src_port
    } else {
        0
    }
}

/// One new thing: (source, destination, protocol, port or ICMP message, and the source port
/// when it is significant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct ContactKey {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// Destination port; for ICMP, `type << 8 | code`.
    pub port: u16,
    pub protocol: u8,
    pub ip_version: u8,
    /// For ICMP echo requests, the TTL: a rising TTL towards one host is how an ICMP traceroute
    /// shows itself, so each new TTL is a new contact. Zero otherwise.
    pub ttl: u8,
    pub pad: u8,
    /// [`keyed_source_port`]: the source port when it is significant, else 0.
    pub src_port: u16,
}

const _: () = assert!(size_of::<ContactKey>() == 40);

/// The per-source map's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct SourceKey {
    pub addr: [u8; 16],
    pub ip_version: u8,
    pub pad: [u8; 3],
}

const _: () = assert!(size_of::<SourceKey>() == 20);

/// What one CPU knows about one source. The daemon merges the CPUs' copies: sums, min/max,
/// and the union of the sketches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct SourceState {
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    /// Tracked packets (every packet but established TCP and repeats of a known UDP flow).
    pub packets: u64,
    /// Connection attempts (SYN without ACK).
    pub syns: u64,
    /// Bytes of those packets (whole frames).
    pub bytes: u64,
    /// Destination ports seen, as bits of a [`PORT_SKETCH_BITS`]-bit sketch.
    pub ports: [u64; 8],
    /// Destination hosts seen, as bits of a [`HOST_SKETCH_BITS`]-bit sketch.
    pub hosts: [u64; 4],
    /// ICMP and ICMPv6 echo replies: what an amplifier sends a smurf's victim.
    pub echo_replies: u32,
    /// UDP from a reflector service's port ([`reflector_port`]) to a port of 1024 or above:
    /// the answers a reflection attack aims at its victim.
    pub reflected: u32,
    pub ttl_min: u8,
    pub ttl_max: u8,
    /// Type of the last ICMP message, plus one (0: none seen).
    pub last_icmp: u8,
    pub pad: [u8; 5],
}

const _: () = assert!(size_of::<SourceState>() == 152);

/// One slot of a CPU's per-source table: whose state it holds (all zeros: nobody's), and that
/// state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct SourceSlot {
    pub key: SourceKey,
    pub pad: [u8; 4],
    pub state: SourceState,
}

const _: () = assert!(size_of::<SourceSlot>() == 176);

impl SourceSlot {
    /// A slot that holds no source (a zero key, as the kernel's table starts).
    pub const EMPTY: Self = Self {
        key: SourceKey {
            addr: [0; 16],
            ip_version: 0,
            pad: [0; 3],
        },
        pad: [0; 4],
        state: SourceState {
            first_seen_ns: 0,
            last_seen_ns: 0,
            packets: 0,
            syns: 0,
            bytes: 0,
            ports: [0; 8],
            hosts: [0; 4],
            echo_replies: 0,
            reflected: 0,
            ttl_min: 0,
            ttl_max: 0,
            last_icmp: 0,
            pad: [0; 5],
        },
    };
}

/// What the per-source table learns from one packet.
pub struct Sighting<'a> {
    pub src: &'a [u8; 16],
    pub dst: &'a [u8; 16],
    pub network: Network,
    pub dst_port: u16,
    pub ttl: u8,
    /// A connection attempt (SYN set, ACK clear).
    pub syn: bool,
    /// ICMP or ICMPv6 type plus one; zero for anything else.
    pub icmp: u8,
    /// Frame length.
    pub len: u32,
    /// [`Packet::is_echo_reply`].
    pub echo_reply: bool,
    /// [`Packet::is_reflected`].
    pub reflected: bool,
}

impl SourceSlot {
    /// Updates the slot with `s`, seen at `now`: its own source's state, or, when the slot
    /// holds another source (or none), a fresh state for `s`'s source, which takes the slot
    /// over. The rule the kernel runs on its table and the host on its copy.
    #[inline(always)]
    pub fn see(&mut self, key: &SourceKey, s: &Sighting<'_>, now: u64) {
        let port = port_bit(s.dst_port);
        let host = host_bit(s.dst);
        let syn = u64::from(s.syn);
        let st = &mut self.state;
        if self.key == *key {
            st.last_seen_ns = now;
            st.packets += 1;
            st.syns += syn;
            st.bytes += u64::from(s.len);
            st.echo_replies += u32::from(s.echo_reply);
            st.reflected += u32::from(s.reflected);
            st.ports[(port / 64) as usize % 8] |= 1 << (port % 64);
            st.hosts[(host / 64) as usize % 4] |= 1 << (host % 64);
            st.ttl_min = if s.ttl < st.ttl_min {
                s.ttl
            } else {
                st.ttl_min
            };
            st.ttl_max = if s.ttl > st.ttl_max {
                s.ttl
            } else {
                st.ttl_max
            };
            if s.icmp != 0 {
                st.last_icmp = s.icmp;
            }
            return;
        }
        self.key = *key;
        st.first_seen_ns = now;
        st.last_seen_ns = now;
        st.packets = 1;
        st.syns = syn;
        st.bytes = u64::from(s.len);
        st.echo_replies = u32::from(s.echo_reply);
        st.reflected = u32::from(s.reflected);
        st.ports = [0; 8];
        st.hosts = [0; 4];
        st.ports[(port / 64) as usize % 8] = 1 << (port % 64);
        st.hosts[(host / 64) as usize % 4] = 1 << (host % 64);
        st.ttl_min = s.ttl;
        st.ttl_max = s.ttl;
        st.last_icmp = s.icmp;
    }
}

/// Ports of UDP services that answer a small forged request with a larger answer, and so
/// are used to reflect and amplify floods at a victim whose address the request carried: the
/// services US-CERT's alert TA14-017A lists (QOTD 17, chargen 19, DNS 53, TFTP 69, portmap
/// 111, NetBIOS 137, NTP 123, SNMP 161, CLDAP 389, RIPv1 520, SSDP 1900, mDNS 5353, Quake
/// 26000, Steam 27015) and those abused since (ARMS 3283, WS-Discovery 3702, CoAP 5683,
/// Ubiquiti discovery 10001, memcached 11211; Akamai SIRT and Cloudflare write-ups, 2018–2020).
/// Echo (7) is fraggle's.
#[inline(always)]
pub const fn reflector_port(port: u16) -> bool {
    matches!(
        port,
        17 | 19
            | 53
            | 69
            | 111
            | 123
            | 137
            | 161
            | 389
            | 520
            | 1900
            | 3283
            | 3702
            | 5353
            | 5683
            | 10001
            | 11211
            | 26000
            | 27015
    )
}

/// Per-CPU token bucket for events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Bucket {
    /// Tokens, in thousandths of an event (so a slow rate still refills between packets).
    pub milli_tokens: u64,
    pub last_ns: u64,
}

/// The longest gap a bucket refills for: ten seconds. With the daemon's cap on the rate (a
/// million a second) the refill's product stays far below 2^64, which matters because BPF has
/// no 128-bit multiply for a checked one.
pub const MAX_REFILL_NS: u64 = 10_000_000_000;

impl Bucket {
    /// Takes one event's token at `now` (nanoseconds), after refilling at `rate` events a
    /// second up to `burst` events. False when none is left: the event is not reported.
    ///
    /// A clock that went back (out-of-order capture times) refills nothing; an empty bucket
    /// (`last_ns` zero) starts with the refill of [`MAX_REFILL_NS`].
    #[inline(always)]
    pub fn take(&mut self, now: u64, rate: u64, burst: u64) -> bool {
        let elapsed = now.saturating_sub(self.last_ns).min(MAX_REFILL_NS);
        // rate events/s = rate * 1000 milli-tokens per 1e9 ns.
        let refill = elapsed.wrapping_mul(rate) / 1_000_000;
        self.milli_tokens = self
            .milli_tokens
            .saturating_add(refill)
            .min(burst.wrapping_mul(1000));
        self.last_ns = now;
        if self.milli_tokens < 1000 {
            return false;
        }
        self.milli_tokens -= 1000;
        true
    }
}

/// The bit of a reported contact's slot that says nobody answered it yet. Every hash has it
/// set ([`flow_hash`]), and a slot holds the hash as reported; the first established segment
/// of the contact's connection (an ACK without SYN: the source completed the handshake, so
/// the destination answered) clears it and is reported once, as an answer. The scans and the
/// port findings weigh only contacts nobody answered: a completed connection is a
/// conversation, not a probe. A slot that lost its contact to another loses its answer too.
pub const UNANSWERED: u64 = 1 << 63;

/// True when `slot` holds the contact hashing to `hash`, answered or not: reported already.
#[inline(always)]
pub const fn holds(slot: u64, hash: u64) -> bool {
    slot | UNANSWERED == hash
}

/// True when `slot` holds the contact hashing to `hash` and nobody answered it yet.
#[inline(always)]
pub const fn awaits_answer(slot: u64, hash: u64) -> bool {
    slot == hash
}

/// What a slot holds once the contact hashing to `hash` was answered.
#[inline(always)]
pub const fn answered(hash: u64) -> u64 {
    hash & !UNANSWERED
}

/// The slot a contact hashing to `hash` takes in one CPU's part of the reported-contacts table
/// of `mask + 1` slots (a power of two): the hash's low bits. The slot holds the whole hash,
/// so a contact is known when its slot holds its hash; another contact hashing there takes
/// the slot over, and the first is reported again when it recurs.
#[inline(always)]
pub const fn contact_slot(hash: u64, mask: u32) -> u32 {
    hash as u32 & mask
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY (all): integers and byte arrays, sizes asserted, no padding.
    unsafe impl aya::Pod for super::ContactKey {}
    unsafe impl aya::Pod for super::SourceKey {}
    unsafe impl aya::Pod for super::SourceState {}
    unsafe impl aya::Pod for super::SourceSlot {}
    unsafe impl aya::Pod for super::Bucket {}
}

/// True for a TCP segment of an established connection (ACK set, SYN clear): it is counted and
/// nothing more. A SYN+ACK still counts as tracked: unsolicited ones are backscatter.
#[inline(always)]
pub const fn is_established_tcp(p: &Packet) -> bool {
    matches!(p.transport, Transport::Tcp)
        && p.tcp_flags & (tcp_flags::ACK | tcp_flags::SYN) == tcp_flags::ACK
}

/// The contact key of `p`, or `None` when the packet is not tracked: not IP, established TCP, or
/// a non-first fragment (it has no ports; the fragments counter has it). `sources` says which
/// source ports key a contact of their own.
#[inline(always)]
pub fn contact_key(p: &Packet, sources: &impl SourcePorts) -> Option<ContactKey> {
    if is_established_tcp(p) {
        return None;
    }
    key_of(p, sources)
}

/// For an established TCP segment, the key of the contact its connection opened with: the
/// SYN's (the key holds no flags). The segment answers that contact (see [`UNANSWERED`]).
/// `None` for anything else.
#[inline(always)]
pub fn answer_key(p: &Packet, sources: &impl SourcePorts) -> Option<ContactKey> {
    if !is_established_tcp(p) {
        return None;
    }
    key_of(p, sources)
}

#[inline(always)]
fn key_of(p: &Packet, sources: &impl SourcePorts) -> Option<ContactKey> {
    if matches!(p.network, Network::Other) || p.fragment_offset != 0 {
        return None;
    }
    let mut src_port = 0;
    let (port, ttl) = match p.transport {
        Transport::Tcp | Transport::Udp => {
            let udp = p.transport as u8 == Transport::Udp as u8;
            src_port = keyed_source_port(sources, udp, p.src_port);
            (p.dst_port, 0)
        }
        Transport::Icmp | Transport::Icmpv6 => {
            let echo = (p.transport as u8 == Transport::Icmp as u8 && p.icmp_type == 8)
                || (p.transport as u8 == Transport::Icmpv6 as u8 && p.icmp_type == 128);
            (
                u16::from(p.icmp_type) << 8 | u16::from(p.icmp_code),
                if echo { p.ttl } else { 0 },
            )
        }
        Transport::None => (0, 0),
    };
    Some(ContactKey {
        src: p.src,
        dst: p.dst,
        port,
        protocol: p.protocol,
        ip_version: p.network as u8,
        ttl,
        pad: 0,
        src_port,
    })
}

/// Mixes one 32-bit word into a running hash (multiply-rotate; cheap in BPF, good enough to
/// spread bits over a sketch).
#[inline(always)]
const fn mix(h: u32, w: u32) -> u32 {
    (h ^ w).wrapping_mul(0x9e37_79b1).rotate_left(13)
}

#[inline(always)]
const fn word(b: &[u8; 16], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Mixes one 64-bit word into a running hash: multiply, then fold the high half down so the
/// low bits (the ones a table slot uses) depend on every bit of the input. Five instructions.
#[inline(always)]
const fn mix64(h: u64, w: u64) -> u64 {
    let h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 32)
}

#[inline(always)]
const fn half(b: &[u8; 16], i: usize) -> u64 {
    u64::from_le_bytes([
        b[i],
        b[i + 1],
        b[i + 2],
        b[i + 3],
        b[i + 4],
        b[i + 5],
        b[i + 6],
        b[i + 7],
    ])
}

/// Final avalanche, and never zero (zero marks an empty slot): the top bit is set, which
/// costs no branch and leaves the slot (the low bits) alone.
#[inline(always)]
const fn finish(h: u64) -> u64 {
    let h = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (h ^ (h >> 32)) | 1 << 63
}

/// Hash of a contact key: its slot in the reported-contacts table (low bits) and what the slot
/// stores to recognise it (all 64 bits). Never zero.
#[inline(always)]
pub const fn flow_hash(k: &ContactKey) -> u64 {
    flow_hash_of(
        [half(&k.src, 0), half(&k.src, 8)],
        [half(&k.dst, 0), half(&k.dst, 8)],
        contact_tail(k.port, k.src_port, k.protocol, k.ttl, k.ip_version),
    )
}

/// The last word [`flow_hash`] mixes in: port, keyed source port, protocol, TTL and IP version
/// (the version too: an IPv4 and an IPv6 address can share their bytes). The port, what a
/// scan varies, is in the low bits: the middle of its product, which the slot takes, spreads
/// consecutive ports.
#[inline(always)]
pub const fn contact_tail(port: u16, src_port: u16, protocol: u8, ttl: u8, ip_version: u8) -> u64 {
    (src_port as u64) << 40
        | (ip_version as u64) << 32
        | (ttl as u64) << 24
        | (protocol as u64) << 16
        | port as u64
}

/// [`flow_hash`] from the key's addresses as little-endian 64-bit halves and its
/// [`contact_tail`]: the kernel's shortcut hashes a datagram straight from the frame this way,
/// without building the key.
///
/// Each word goes through its own odd multiplier (a bijection, so changing one field always
/// changes the sum) and the products are combined with xor: five independent multiplies the
/// CPU runs side by side, where a chain would wait on each one in turn. The finish then folds
/// every bit into the low ones a slot uses.
#[inline(always)]
pub const fn flow_hash_of(src: [u64; 2], dst: [u64; 2], tail: u64) -> u64 {
    let h = (src[0] ^ 0xcbf2_9ce4_8422_2325).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (src[1] ^ 0x8422_2325_cbf2_9ce4).wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
        ^ (dst[0] ^ 0x6a09_e667_f3bc_c909).wrapping_mul(0x1656_67b1_9e37_79f9)
        ^ (dst[1] ^ 0xbb67_ae85_84ca_a73b).wrapping_mul(0xd6e8_feb8_6659_fd93)
        ^ tail.wrapping_mul(0xff51_afd7_ed55_8ccd);
    finish(h)
}

/// Hash of a source: its slot in the per-source table. Never zero.
#[inline(always)]
pub const fn source_hash(k: &SourceKey) -> u64 {
    let mut h = 0x6a09_e667_f3bc_c909;
    h = mix64(h, half(&k.addr, 0));
    h = mix64(h, half(&k.addr, 8));
    h = mix64(h, k.ip_version as u64);
    finish(h)
}

/// The sketch bit of a destination port.
#[inline(always)]
pub const fn port_bit(port: u16) -> u32 {
    let h = mix(0x2545_f491, port as u32);
    (h ^ (h >> 16)) % PORT_SKETCH_BITS
}

/// The sketch bit of a destination address.
#[inline(always)]
pub const fn host_bit(dst: &[u8; 16]) -> u32 {
    let mut h = 0x6c07_8965;
    h = mix(h, word(dst, 0));
    h = mix(h, word(dst, 4));
    h = mix(h, word(dst, 8));
    h = mix(h, word(dst, 12));
    (h ^ (h >> 16)) % HOST_SKETCH_BITS
}

#[cfg(feature = "user")]
pub mod user;

/// Distinct values behind a sketch with `set` of `bits` bits set: linear counting,
/// `-m ln(zeros / m)`. Exact enough below a few times `bits`; saturates when every bit is set.
#[cfg(feature = "user")]
pub fn sketch_estimate(set: u32, bits: u32) -> f64 {
    if bits == 0 || set == 0 {
        return 0.0;
    }
    let m = f64::from(bits);
    let zeros = f64::from(bits - set.min(bits));
    if zeros == 0.0 {
        return m * m.ln();
    }
    m * (m / zeros).ln()
}
