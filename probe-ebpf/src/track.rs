//! Beyond counters: per-source state and first-contact events, for the packets that need them.
//!
//! Cheapest first: an established TCP segment never gets here; a repeat of a recently seen UDP
//! or ICMP flow stops at the per-CPU flow cache (one array slot, no hash map); only what is new
//! or may be hostile touches the LRU maps, and only a first contact costs an event.

use aya_ebpf::{
    helpers::bpf_ktime_get_ns,
    macros::map,
    maps::{LruHashMap, LruPerCpuHashMap, PerCpuArray, RingBuf},
    programs::XdpContext,
};
use probe_common::{
    counters::{TOTALS as TOT, total},
    event::FirstContact,
    packet::{Packet, Transport},
    track::{
        Bucket, ContactKey, DEFAULT_CONTACTS, DEFAULT_EVENT_BURST, DEFAULT_EVENT_RATE,
        DEFAULT_SOURCES, FLOW_CACHE_SLOTS, SourceKey, SourceState, flow_hash,
        host_bit, port_bit,
    },
};

use crate::maps::{TOTALS, add};

/// Per-source state; the daemon sets the capacity at load.
#[map]
static SOURCES: LruPerCpuHashMap<SourceKey, SourceState> =
    LruPerCpuHashMap::with_max_entries(DEFAULT_SOURCES, 0);
/// Contacts already reported; the daemon sets the capacity at load.
#[map]
static CONTACTS: LruHashMap<ContactKey, u8> = LruHashMap::with_max_entries(DEFAULT_CONTACTS, 0);
/// Each CPU's direct-mapped cache of recently seen flows: slot = hash % slots, value = hash.
#[map]
static FLOW_CACHE: PerCpuArray<u32> = PerCpuArray::with_max_entries(FLOW_CACHE_SLOTS, 0);
/// First-contact events to the daemon.
#[map]
static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 20, 0);
/// Each CPU's token bucket for events.
#[map]
static BUCKET: PerCpuArray<Bucket> = PerCpuArray::with_max_entries(1, 0);
/// A per-CPU scratch source state, so a new source is built off the (small) BPF stack.
#[map]
static SCRATCH: PerCpuArray<SourceState> = PerCpuArray::with_max_entries(1, 0);

/// Events per second per CPU; set by the daemon at load.
#[unsafe(no_mangle)]
static EVENT_RATE: u64 = DEFAULT_EVENT_RATE;
/// Events allowed in a burst; set by the daemon at load.
#[unsafe(no_mangle)]
static EVENT_BURST: u64 = DEFAULT_EVENT_BURST;

/// Tracks `p`, whose contact key is `key`: a function of its own (a BPF-to-BPF call) so its
/// stack frame does not add to the parser's.
#[inline(never)]
pub fn packet(ctx: &XdpContext, p: &Packet, key: &ContactKey, cpu: u32) {
    let hash = flow_hash(key);
    let Some(slot) = FLOW_CACHE.get_ptr_mut(hash % FLOW_CACHE_SLOTS) else { return };
    // SAFETY: a live element of this CPU's own array.
    let seen = unsafe { *slot } == hash;
    let tcp = matches!(p.transport, Transport::Tcp);
    if seen && !tcp {
        return;
    }
    // SAFETY: a helper with no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    // Repeated SYNs, FINs, ... to a known port still tell about their source.
    source(p, now);
    if seen {
        return;
    }
    if CONTACTS.get_ptr(key).is_some() {
        // SAFETY: as above.
        unsafe { *slot = hash };
        return;
    }
    if !take_token(now) {
        add(&TOTALS, cpu, TOT.slice, total::EVENTS_RATE_LIMITED, 1);
        return;
    }
    let Some(mut entry) = EVENTS.reserve::<FirstContact>(0) else {
        add(&TOTALS, cpu, TOT.slice, total::EVENTS_RING_FULL, 1);
        return;
    };
    // SAFETY: the reserved slot is writable and sized for a FirstContact; data..data_end is the
    // frame `p` was parsed from.
    unsafe { FirstContact::write_from(entry.as_mut_ptr(), ctx.data(), ctx.data_end(), p, now) };
    entry.submit(0);
    // Only now: a contact whose event was not delivered stays unknown and is reported later.
    let _ = CONTACTS.insert(key, &1, 0);
    // SAFETY: as above.
    unsafe { *slot = hash };
    add(&TOTALS, cpu, TOT.slice, total::EVENTS, 1);
}

#[inline(always)]
fn source(p: &Packet, now: u64) {
    let key = SourceKey {
        addr: p.src,
        ip_version: p.network as u8,
        pad: [0; 3],
    };
    let port = port_bit(p.dst_port);
    let host = host_bit(&p.dst);
    let syn = u64::from(p.is_connection_attempt());
    let icmp = if matches!(p.transport, Transport::Icmp | Transport::Icmpv6) {
        p.icmp_type.saturating_add(1)
    } else {
        0
    };
    if let Some(s) = SOURCES.get_ptr_mut(&key) {
        // SAFETY: this CPU's own copy of the value (per-CPU map), valid for this program run.
        let s = unsafe { &mut *s };
        s.last_seen_ns = now;
        s.packets += 1;
        s.syns += syn;
        s.ports[(port / 64) as usize % 8] |= 1 << (port % 64);
        s.hosts[(host / 64) as usize % 4] |= 1 << (host % 64);
        s.ttl_min = s.ttl_min.min(p.ttl);
        s.ttl_max = s.ttl_max.max(p.ttl);
        if icmp != 0 {
            s.last_icmp = icmp;
        }
        return;
    }
    let Some(s) = SCRATCH.get_ptr_mut(0) else { return };
    // SAFETY: this CPU's scratch element; fully rewritten before use.
    let s = unsafe { &mut *s };
    s.first_seen_ns = now;
    s.last_seen_ns = now;
    s.packets = 1;
    s.syns = syn;
    s.ports = [0; 8];
    s.hosts = [0; 4];
    s.ports[(port / 64) as usize % 8] = 1 << (port % 64);
    s.hosts[(host / 64) as usize % 4] = 1 << (host % 64);
    s.ttl_min = p.ttl;
    s.ttl_max = p.ttl;
    s.last_icmp = icmp;
    let _ = SOURCES.insert(&key, s, 0);
}

/// Takes one event's token from this CPU's bucket, refilled at `EVENT_RATE` per second.
#[inline(always)]
fn take_token(now: u64) -> bool {
    let Some(b) = BUCKET.get_ptr_mut(0) else { return false };
    // SAFETY: this CPU's own element.
    let b = unsafe { &mut *b };
    // SAFETY: reads of load-time constants the daemon may have overridden.
    let rate = unsafe { core::ptr::read_volatile(&raw const EVENT_RATE) };
    let burst = unsafe { core::ptr::read_volatile(&raw const EVENT_BURST) }.wrapping_mul(1000);
    // Capped at ten seconds, and the daemon caps the rate at a million, so the product stays
    // far below 2^64 (BPF has no 128-bit multiply for a checked one).
    let elapsed = now.wrapping_sub(b.last_ns).min(10_000_000_000);
    // rate events/s = rate * 1000 milli-tokens per 1e9 ns.
    let refill = elapsed.wrapping_mul(rate) / 1_000_000;
    b.milli_tokens = b.milli_tokens.saturating_add(refill).min(burst);
    b.last_ns = now;
    if b.milli_tokens < 1000 {
        return false;
    }
    b.milli_tokens -= 1000;
    true
}
