//! Beyond counters: per-source state and first-contact events, for the packets that need them.
//!
//! Cheapest first: an established TCP segment only asks one slot whether it answers a reported
//! contact (the first one after a SYN does, once); a repeat of a reported UDP or
//! ICMP contact stops at one slot of this CPU's contacts table (`seen`, inline, no call).
//! Only what is new or may be hostile reaches the per-source table and the token bucket, and
//! only a first contact within the rate limit costs an event.
//!
//! Both tables are per-CPU and direct-mapped: a slot is a hash masked, found with one array
//! lookup, overwritten when another key hashes there. Each is one plain array holding every
//! CPU's table in turn (index `cpu * slots + slot`), not a per-CPU array: a per-CPU array
//! finds a value through a table of pointers, a second memory access that, for a scan's
//! scattered slots, is a second cache miss. No hash-map walk, no lock, no LRU list
//! on the packet path. What that gives up: a contact whose slot was taken over is reported
//! again when it recurs, and one that shows up on another CPU is reported by that CPU too
//! (the daemon passes each contact on to its detectors once); a source whose slot was taken
//! over starts a fresh state.
//!
//! The rule itself (key, hash, slot, token bucket) is probe-common's `track`, shared with the
//! host: this file holds the maps it runs on in the kernel.

use aya_ebpf::{
    helpers::{bpf_get_smp_processor_id, bpf_ktime_get_coarse_ns, bpf_ktime_get_ns},
    macros::map,
    maps::{Array, PerCpuArray, RingBuf},
    programs::XdpContext,
};
use probe_common::{
    counters::{BPF_F_MMAPABLE, TOTALS, total},
    event::FirstContact,
    packet::{Attempt, Packet, Transport},
    track::{
        Bucket, DEFAULT_CONTACTS, DEFAULT_EVENT_BURST, DEFAULT_EVENT_RATE, DEFAULT_SOURCES,
        SOURCE_PORT_WORDS, Sighting, SourceKey, SourcePorts, SourceSlot, answered,
        awaits_answer as track_awaits, contact_slot, holds, source_hash, source_port_bit,
    },
};

use crate::maps::{Block, bump};

/// Every CPU's per-source table, one after another; the daemon sizes it at load (CPUs × a
/// power of two of slots) and maps it read-only to answer `probe query sources`.
#[map]
static SOURCES: Array<SourceSlot> = Array::with_max_entries(DEFAULT_SOURCES, BPF_F_MMAPABLE);
/// Every CPU's table of reported contacts, laid out as SOURCES: slot = hash & mask, value =
/// the contact's hash.
#[map]
static CONTACTS: Array<u64> = Array::with_max_entries(DEFAULT_CONTACTS, 0);
/// First-contact events to the daemon.
#[map]
static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 20, 0);
/// Each CPU's token bucket for events.
#[map]
static BUCKET: PerCpuArray<Bucket> = PerCpuArray::with_max_entries(1, 0);
/// The source ports that key contacts of their own, as a bitmap (TCP, then UDP); the daemon
/// fills it from its knowledge before attaching. Read-only here.
#[map]
static SOURCE_PORTS: Array<u64> = Array::with_max_entries(SOURCE_PORT_WORDS, 0);

/// The significant source ports, answered from [`SOURCE_PORTS`]: one array lookup, which
/// the kernel inlines for arrays.
pub struct Listed;

impl SourcePorts for Listed {
    #[inline(always)]
    fn listed(&self, udp: bool, port: u16) -> bool {
        let (word, bit) = source_port_bit(udp, port);
        SOURCE_PORTS.get(word).is_some_and(|w| *w & bit != 0)
    }
}

/// Events per second per CPU; set by the daemon at load.
#[unsafe(no_mangle)]
static EVENT_RATE: u64 = DEFAULT_EVENT_RATE;
/// Events allowed in a burst; set by the daemon at load.
#[unsafe(no_mangle)]
static EVENT_BURST: u64 = DEFAULT_EVENT_BURST;
/// Slots of SOURCES and CONTACTS minus one; set by the daemon at load with the tables' sizes.
#[unsafe(no_mangle)]
static SOURCE_MASK: u32 = DEFAULT_SOURCES - 1;
#[unsafe(no_mangle)]
static CONTACT_MASK: u32 = DEFAULT_CONTACTS - 1;
/// Log2 of those slot counts: where a CPU's part starts is a shift away, not a multiply (a
/// cycle or two off every lookup's critical path).
#[unsafe(no_mangle)]
static SOURCE_SHIFT: u32 = DEFAULT_SOURCES.trailing_zeros();
#[unsafe(no_mangle)]
static CONTACT_SHIFT: u32 = DEFAULT_CONTACTS.trailing_zeros();

/// Reads a load-time constant the daemon may have overridden.
#[inline(always)]
fn setting<T: Copy>(value: &'static T) -> T {
    // SAFETY: a plain read of a static; volatile so the build-time default is not folded in.
    unsafe { core::ptr::read_volatile(value) }
}

/// Index of the slot `hash` takes in CPU `cpu`'s part of a table whose parts hold
/// `mask + 1 == 1 << shift` slots (`contact_slot`: the rule the host's tables share). The
/// daemon sizes the tables so that this cannot overflow; an index past the end finds nothing
/// (the lookup checks it).
#[inline(always)]
fn slot_of(cpu: u32, hash: u64, mask: u32, shift: u32) -> u32 {
    // SAFETY: `shift` is the log2 of a slot count below 2^32 (`Tables` in the daemon's loader), so
    // under 32; unchecked, the shift is one instruction with no masking of its count.
    unsafe { cpu.unchecked_shl(shift) | contact_slot(hash, mask) }
}

/// True when the contact hashing to `hash` was already reported from CPU `cpu` (this one).
#[inline(always)]
pub fn seen(cpu: u32, hash: u64) -> bool {
    let slot = slot_of(cpu, hash, setting(&CONTACT_MASK), setting(&CONTACT_SHIFT));
    // SAFETY: a live element of the array, in this CPU's part.
    CONTACTS
        .get_ptr(slot)
        .is_some_and(|v| holds(unsafe { *v }, hash))
}

/// True when the contact hashing to `hash` was reported from this CPU and not answered yet.
/// A connection's segments reach the CPU its SYN did (receive-side scaling hashes the same
/// addresses and ports).
#[inline(always)]
pub fn awaits_answer(cpu: u32, hash: u64) -> bool {
    let slot = slot_of(cpu, hash, setting(&CONTACT_MASK), setting(&CONTACT_SHIFT));
    // SAFETY: as in `seen`.
    CONTACTS
        .get_ptr(slot)
        .is_some_and(|v| track_awaits(unsafe { *v }, hash))
}

/// Reports `p`, the first established segment of the contact hashing to `hash`, as that
/// contact's answer, and marks the contact answered once the event is in the ring. No token:
/// each answer follows one reported contact, so answers never outnumber first contacts.
#[inline(never)]
pub fn answer(ctx: &XdpContext, p: &Packet, hash: u64, counters: &mut Block) {
    deliver(ctx, p, answered(hash), counters);
}

/// Tracks `p`, whose contact hashes to `hash` and was `known` already (a repeat that still
/// tells about its source: a SYN, FIN, ... to a reported port, an echo reply, a reflected
/// answer). A function of its own (a BPF-to-BPF call) so its stack frame does not add to the
/// parser's.
#[inline(never)]
pub fn packet(ctx: &XdpContext, p: &Packet, hash: u64, known: bool, counters: &mut Block) {
    let sighting = Sighting {
        src: &p.src,
        dst: &p.dst,
        network: p.network,
        dst_port: p.dst_port,
        ttl: p.ttl,
        syn: p.is_connection_attempt(),
        icmp: if matches!(p.transport, Transport::Icmp | Transport::Icmpv6) {
            p.icmp_type.saturating_add(1)
        } else {
            0
        },
        len: p.len,
        echo_reply: p.is_echo_reply(),
        reflected: p.is_reflected(),
    };
    if sight(&sighting, known, counters) {
        emit(ctx, p, hash, counters);
    }
}

/// Tracks a TCP segment the shortcut read (`a`, in a frame of `len` bytes), without a parsed
/// packet. True when it is a new contact within the rate limit: the caller then parses the
/// frame and calls [`emit`].
#[inline(never)]
pub fn attempt(a: &Attempt, len: u32, known: bool, counters: &mut Block) -> bool {
    let sighting = Sighting {
        src: &a.src,
        dst: &a.dst,
        network: a.network,
        dst_port: a.dst_port,
        ttl: a.ttl,
        syn: a.is_connection_attempt(),
        icmp: 0,
        len,
        echo_reply: false,
        reflected: false,
    };
    sight(&sighting, known, counters)
}

/// Updates the sender's source slot; then, for a contact not `known`, takes an event token.
/// True when the contact is to be reported.
#[inline(always)]
fn sight(s: &Sighting<'_>, known: bool, counters: &mut Block) -> bool {
    // Jiffy-grained and a fraction of the cost of the precise clock: enough for first/last
    // seen and for refilling the bucket. Events carry the precise time.
    // SAFETY: a helper with no preconditions.
    let now = unsafe { bpf_ktime_get_coarse_ns() };
    // Asked again rather than passed: a BPF call takes five arguments at most.
    // SAFETY: a helper with no arguments and no preconditions.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    source(cpu, s, now);
    if known {
        return false;
    }
    if !take_token(now) {
        bump(counters, TOTALS, total::EVENTS_RATE_LIMITED, 1);
        return false;
    }
    true
}

/// Reports `p`, a first contact hashing to `hash`, to the daemon, and records the contact as
/// reported once the event is in the ring.
#[inline(never)]
pub fn emit(ctx: &XdpContext, p: &Packet, hash: u64, counters: &mut Block) {
    deliver(ctx, p, hash, counters);
}

/// Puts `p`'s event in the ring, then stores `mark` in its contact's slot (the slot `mark`'s
/// low bits choose, which the answered bit leaves alone).
#[inline(always)]
fn deliver(ctx: &XdpContext, p: &Packet, mark: u64, counters: &mut Block) {
    let Some(mut entry) = EVENTS.reserve::<FirstContact>(0) else {
        bump(counters, TOTALS, total::EVENTS_RING_FULL, 1);
        return;
    };
    // SAFETY: a helper with no preconditions.
    let at = unsafe { bpf_ktime_get_ns() };
    // SAFETY: the reserved slot is writable and sized for a FirstContact; data..data_end is the
    // frame `p` was parsed from.
    unsafe { FirstContact::write_from(entry.as_mut_ptr(), ctx.data(), ctx.data_end(), p, at) };
    entry.submit(0);
    // Only now: a contact whose event was not delivered stays unknown and is reported later.
    // SAFETY: a helper with no arguments and no preconditions.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    let slot = slot_of(cpu, mark, setting(&CONTACT_MASK), setting(&CONTACT_SHIFT));
    if let Some(v) = CONTACTS.get_ptr_mut(slot) {
        // SAFETY: as in `seen`.
        unsafe { *v = mark };
    }
    bump(counters, TOTALS, total::EVENTS, 1);
}

#[inline(always)]
fn source(cpu: u32, sighting: &Sighting<'_>, now: u64) {
    let key = SourceKey {
        addr: *sighting.src,
        ip_version: sighting.network as u8,
        pad: [0; 3],
    };
    let slot = slot_of(
        cpu,
        source_hash(&key),
        setting(&SOURCE_MASK),
        setting(&SOURCE_SHIFT),
    );
    let Some(slot) = SOURCES.get_ptr_mut(slot) else {
        return;
    };
    // SAFETY: an element of this CPU's part of the table, which no other CPU touches.
    unsafe { &mut *slot }.see(&key, sighting, now);
}

/// Takes one event's token from this CPU's bucket (the rule: `Bucket::take`).
#[inline(always)]
fn take_token(now: u64) -> bool {
    let Some(b) = BUCKET.get_ptr_mut(0) else {
        return false;
    };
    // SAFETY: this CPU's own element.
    let b = unsafe { &mut *b };
    b.take(now, setting(&EVENT_RATE), setting(&EVENT_BURST))
}
