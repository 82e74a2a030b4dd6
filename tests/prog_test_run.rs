//! Frames straight into the production XDP program through `BPF_PROG_TEST_RUN`, no interface
//! and no daemon: the program the daemon loads (`loader::load_program`), fed crafted frames,
//! its counters and events read back.
//!
//! - Counters: frames from a bare Ethernet header up move exactly the counters written here.
//!   Shorter frames cannot reach an XDP program at all: the kernel refuses a test run whose
//!   packet is under 14 bytes (EINVAL, even behind metadata that keeps the input buffer at 14
//!   or more), which is asserted, so a kernel that starts accepting them fails this test and
//!   brings them into it; the parser's answer for them is covered by the host tests.
//! - The first-contact rule: the same frames given to the kernel and to the host's
//!   implementation of the rule (`track::user::FirstContacts`, what the replay runs) get the
//!   same decision, frame by frame (reported, rate-limited, or neither), with the same event.

use std::net::{Ipv4Addr, Ipv6Addr};

use aya::{
    maps::{Map, RingBuf},
    programs::{TestRun as _, TestRunOptions},
};
use probe_common::{
    counters::{MAP, icmp_key, port_proto, total},
    event::{FirstContact, frag},
    packet::{parse, tcp_flags},
    track::user::{FirstContacts, SourcePortSet, Verdict},
};
use probe_integration::{
    craft::{self, Ipv4, proto},
    require_root,
};
use probe_user::{
    counters::{CounterMaps, Snapshot},
    loader::{self, Limits, Program},
};

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
const SENSOR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

/// The production program with its counters and event ring taken out for reading.
struct Loaded {
    program: Program,
    counters: CounterMaps,
    events: RingBuf<aya::maps::MapData>,
}

/// Loads the probe (not attached) with `limits`, pins this thread to CPU 0 so that every run
/// uses one CPU's tables and bucket, as the host's rule models one CPU.
fn load(limits: Limits) -> Loaded {
    pin_to_cpu0();
    let mut program = loader::load_program(limits, &builtin_sources(), None)
        .unwrap_or_else(|e| panic!("loading the probe failed: {e}"));
    let Some(Map::Array(counters)) = program.ebpf.take_map(MAP) else {
        panic!("the object has no {MAP} array");
    };
    let counters = CounterMaps::new(counters, program.cpus).expect("mapping the counters");
    let events = program
        .ebpf
        .take_map("EVENTS")
        .expect("the object has EVENTS");
    let events = RingBuf::try_from(events).expect("EVENTS is a ring buffer");
    Loaded {
        program,
        counters,
        events,
    }
}

/// The significant source ports of the built-in knowledge, as the daemon fills the kernel's map.
fn builtin_sources() -> SourcePortSet {
    probe_user::knowledge::Knowledge::builtin().source_ports()
}

fn pin_to_cpu0() {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        let pinned = libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set);
        assert_eq!(pinned, 0, "pinning the test thread to CPU 0");
    }
}

/// `struct xdp_md` as BPF_PROG_TEST_RUN takes it: the first `meta` bytes of the input are
/// metadata, the packet the program sees is the `len` bytes after them.
fn xdp_md(meta: u32, len: u32) -> [u8; 24] {
    let mut md = [0u8; 24];
    md[0..4].copy_from_slice(&meta.to_ne_bytes());
    md[4..8].copy_from_slice(&(meta + len).to_ne_bytes());
    md
}

impl Loaded {
    /// Runs the program once on `frame` behind `meta` bytes of metadata.
    fn try_run(&mut self, frame: &[u8], meta: u32) -> Result<u32, aya::programs::ProgramError> {
        let mut data = vec![0u8; meta as usize];
        data.extend_from_slice(frame);
        let md = xdp_md(meta, frame.len() as u32);
        let xdp = self.program.xdp().expect("the probe program");
        xdp.test_run(TestRunOptions {
            data_in: Some(&data),
            ctx_in: Some(&md),
            ..TestRunOptions::default()
        })
        .map(|r| r.return_value)
    }

    /// Runs the program once on `frame`; it must pass it.
    fn run(&mut self, frame: &[u8]) {
        let action = self
            .try_run(frame, 0)
            .unwrap_or_else(|e| panic!("BPF_PROG_TEST_RUN on a {}-byte frame: {e:?}", frame.len()));
        assert_eq!(action, 2, "XDP_PASS for every frame");
    }

    fn snapshot(&self) -> Snapshot {
        self.counters.read()
    }

    /// Every event waiting in the ring.
    fn events(&mut self) -> Vec<FirstContact> {
        let mut out = Vec::new();
        while let Some(item) = self.events.next() {
            assert_eq!(item.len(), size_of::<FirstContact>());
            // SAFETY: a FirstContact's bytes, plain old data, read unaligned.
            out.push(unsafe { item.as_ptr().cast::<FirstContact>().read_unaligned() });
        }
        out
    }
}

fn ether(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = craft::ethernet(&[], ether_type);
    f.extend_from_slice(payload);
    f
}

fn v4(src: Ipv4Addr, protocol: u8, l4: &[u8]) -> Vec<u8> {
    ether(
        craft::ETHER_IPV4,
        &Ipv4::new(src, SENSOR, protocol).packet(l4),
    )
}

fn syn(src: Ipv4Addr, port: u16) -> Vec<u8> {
    v4(
        src,
        proto::TCP,
        &craft::tcp(40_000, port, tcp_flags::SYN, &[], &[]),
    )
}

fn udp(src: Ipv4Addr, port: u16) -> Vec<u8> {
    v4(src, proto::UDP, &craft::udp(50_000, port, b"hi"))
}

fn echo(ttl: u8) -> Vec<u8> {
    let ip = Ipv4 {
        ttl,
        ..Ipv4::new(A, SENSOR, proto::ICMP)
    };
    ether(
        craft::ETHER_IPV4,
        &ip.packet(&craft::icmp(8, 0, [0, 1, 0, 1], &[])),
    )
}

#[test]
fn crafted_frames_of_every_size_move_exactly_their_counters() {
    require_root!();
    let mut probe = load(Limits::default());
    let before = probe.snapshot();
    // Under an Ethernet header the kernel runs nothing, whatever the metadata in front.
    for (len, meta) in [(0, 16), (1, 16), (13, 4), (13, 32)] {
        match probe.try_run(&vec![0xff; len], meta) {
            Err(aya::programs::ProgramError::SyscallError(e)) => assert_eq!(
                e.io_error.raw_os_error(),
                Some(libc::EINVAL),
                "a {len}-byte frame"
            ),
            other => panic!("a {len}-byte frame reached the program: {other:?}"),
        }
    }
    // A bare Ethernet header announcing IPv4 (malformed: no IP header), and the least a frame
    // can be, 14 bytes behind 16 of metadata.
    probe.run(&craft::ethernet(&[], craft::ETHER_IPV4));
    assert_eq!(probe.try_run(&[0xff; 14], 16).ok(), Some(2));
    // ARP: counted, not parsed further.
    probe.run(&ether(craft::ETHER_ARP, &[0; 28]));
    probe.run(&syn(A, 445));
    probe.run(&udp(A, 53));
    let v6 = craft::ipv6(
        "2001:db8::2".parse::<Ipv6Addr>().expect("an address"),
        "2001:db8::1".parse::<Ipv6Addr>().expect("an address"),
        proto::ICMPV6,
        64,
        &craft::icmp(128, 0, [0, 1, 0, 1], &[]),
    );
    probe.run(&ether(craft::ETHER_IPV6, &v6));
    let mut tagged = craft::ethernet(&[(craft::TPID_8021Q, 7)], craft::ETHER_IPV4);
    tagged.extend_from_slice(&Ipv4::new(B, SENSOR, proto::UDP).packet(&craft::udp(
        1234,
        5353,
        &[],
    )));
    probe.run(&tagged);
    let later_fragment = Ipv4 {
        flags_fragment: 3,
        ..Ipv4::new(A, SENSOR, proto::UDP)
    };
    probe.run(&ether(craft::ETHER_IPV4, &later_fragment.packet(&[0; 16])));
    let after = probe.snapshot();

    let moved = |key: u32| after.total(key) - before.total(key);
    let lens = [14, 14, 42, 54, 44, 62, 46, 50];
    assert_eq!(moved(total::PACKETS), 8);
    assert_eq!(moved(total::BYTES), lens.iter().sum::<u64>());
    assert_eq!(
        moved(total::MALFORMED),
        1,
        "the bare header announcing IPv4"
    );
    // The 14 bytes of 0xff announce EtherType 0xffff; ARP is the other.
    assert_eq!(moved(total::OTHER_ETHER_TYPE), 2);
    assert_eq!(moved(total::IPV4), 4);
    assert_eq!(moved(total::IPV6), 1);
    assert_eq!(moved(total::VLAN_TAGGED), 1);
    assert_eq!(moved(total::FRAGMENTS), 1);
    let tcp = port_proto::TCP;
    let udp = port_proto::UDP;
    assert_eq!(
        after.port(tcp, 445, false) - before.port(tcp, 445, false),
        1
    );
    assert_eq!(
        after.port(tcp, 40_000, true) - before.port(tcp, 40_000, true),
        1
    );
    assert_eq!(after.syn_ports[445] - before.syn_ports[445], 1);
    assert_eq!(
        after.tcp_flags[usize::from(tcp_flags::SYN)]
            - before.tcp_flags[usize::from(tcp_flags::SYN)],
        1
    );
    assert_eq!(after.port(udp, 53, false) - before.port(udp, 53, false), 1);
    assert_eq!(
        after.port(udp, 5353, false) - before.port(udp, 5353, false),
        1
    );
    assert_eq!(
        after.port(udp, 1234, true) - before.port(udp, 1234, true),
        1
    );
    assert_eq!(after.tcp_packets() - before.tcp_packets(), 1);
    assert_eq!(
        after.udp_packets() - before.udp_packets(),
        2,
        "not the later fragment"
    );
    let echo6 = icmp_key(128, 0) as usize;
    assert_eq!(after.icmpv6[echo6] - before.icmpv6[echo6], 1);
}

/// What one frame did, as the kernel shows it: an event, a rate-limited contact, or neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Reported,
    RateLimited,
    Quiet,
    Answered,
}

#[test]
fn the_kernel_and_the_host_make_the_same_first_contact_decisions_frame_by_frame() {
    require_root!();
    // A tiny table (4 slots), so contacts take each other's slots over, and a burst of 5 at
    // one event a second, so the bucket runs dry within the run.
    let (slots, rate, burst) = (4, 1, 5);
    let mut probe = load(Limits {
        contacts: slots,
        event_rate: rate,
        event_burst: burst,
        ..Limits::default()
    });
    let mut host = FirstContacts::new(slots, rate, burst).with_sources(builtin_sources());
    let ack = v4(
        A,
        proto::TCP,
        &craft::tcp(40_000, 443, tcp_flags::ACK, &[], &[1, 2, 3]),
    );
    let frames = [
        syn(A, 22),
        syn(A, 22),
        udp(A, 53),
        udp(A, 53),
        ack.clone(),
        echo(1),
        echo(2),
        echo(2),
        syn(B, 22),
        syn(A, 23),
        syn(A, 24),
        syn(A, 22),
        udp(B, 161),
        ack,
        echo(3),
        syn(B, 3389),
    ];
    let mut kernel = Vec::new();
    let mut expected = Vec::new();
    for frame in &frames {
        let limited = probe.snapshot().total(total::EVENTS_RATE_LIMITED);
        // The clock the kernel's bucket reads (bpf_ktime_get_coarse_ns).
        let now = coarse_now();
        probe.run(frame);
        let events = probe.events();
        let limited = probe.snapshot().total(total::EVENTS_RATE_LIMITED) - limited;
        let p = parse(frame).expect("well-formed");
        kernel.push(match (events.as_slice(), limited) {
            ([], 0) => Decision::Quiet,
            ([], 1) => Decision::RateLimited,
            ([e], 0) => {
                // The kernel's event is the one the replay builds from the same frame.
                let mine = FirstContact::from_frame(frame, &p, e.ts_ns);
                assert_eq!(*e, mine, "the kernel's event for {frame:02x?}");
                if e.is_answer() {
                    Decision::Answered
                } else {
                    Decision::Reported
                }
            }
            other => panic!("one frame gave {other:?}"),
        });
        expected.push(match host.observe(&p, now) {
            Verdict::New => Decision::Reported,
            Verdict::RateLimited => Decision::RateLimited,
            Verdict::Known | Verdict::Untracked => Decision::Quiet,
            Verdict::Answer => Decision::Answered,
        });
    }
    assert_eq!(kernel, expected);
    // The run exercised every decision: the first five contacts reported, repeats and
    // established TCP quiet, every new contact after the fifth held back, among them port 22
    // from A again, whose slot of the four a later contact took over.
    let (r, q, l) = (Decision::Reported, Decision::Quiet, Decision::RateLimited);
    assert_eq!(expected, [r, q, r, q, q, r, r, q, r, l, l, l, l, q, l, l]);
}

/// A TCP segment from A's port 40,000 to `port` with `flags`, behind `tags` VLAN tags and
/// `options` IPv4 option bytes (either makes the kernel parse it in full).
fn segment(port: u16, flags: u8, tags: &[(u16, u16)], options: &[u8]) -> Vec<u8> {
    let mut f = craft::ethernet(tags, craft::ETHER_IPV4);
    let ip = Ipv4 {
        options: options.to_vec(),
        ..Ipv4::new(A, SENSOR, proto::TCP)
    };
    f.extend_from_slice(&ip.packet(&craft::tcp(40_000, port, flags, &[], b"x")));
    f
}

#[test]
fn the_first_segment_after_a_reported_syn_is_reported_once_as_its_answer() {
    require_root!();
    // A burst of one: answers take no token.
    let mut probe = load(Limits {
        contacts: 1024,
        event_rate: 1,
        event_burst: 1,
        ..Limits::default()
    });
    let mut host = FirstContacts::new(1024, 1, 1).with_sources(builtin_sources());
    let ack = tcp_flags::ACK | tcp_flags::PSH;
    let vlan = [(0x8100, 7)];
    let nop = [1, 1, 1, 1];
    let frames = [
        // No SYN was seen: nothing to answer.
        segment(443, ack, &[], &[]),
        segment(443, tcp_flags::SYN, &[], &[]),
        segment(443, ack, &[], &[]),
        segment(443, ack, &[], &[]),
        segment(443, tcp_flags::SYN, &[], &[]),
        // Over the limit: never recorded, so its segments answer nothing.
        segment(8080, tcp_flags::SYN, &vlan, &[]),
        segment(8080, ack, &vlan, &[]),
        // The parser's path (a tag, options) answers as the shortcut does.
        segment(443, tcp_flags::FIN | tcp_flags::ACK, &vlan, &nop),
    ];
    let mut kernel = Vec::new();
    let mut expected = Vec::new();
    for frame in &frames {
        let now = coarse_now();
        let limited = probe.snapshot().total(total::EVENTS_RATE_LIMITED);
        probe.run(frame);
        let events = probe.events();
        let limited = probe.snapshot().total(total::EVENTS_RATE_LIMITED) - limited;
        let p = parse(frame).expect("well-formed");
        kernel.push(match (events.as_slice(), limited) {
            ([], 0) => Decision::Quiet,
            ([], 1) => Decision::RateLimited,
            ([e], 0) if e.is_answer() => {
                assert_eq!(*e, FirstContact::from_frame(frame, &p, e.ts_ns));
                Decision::Answered
            }
            ([e], 0) => {
                assert!(!e.is_answer());
                Decision::Reported
            }
            other => panic!("one frame gave {other:?}"),
        });
        expected.push(match host.observe(&p, now) {
            Verdict::New => Decision::Reported,
            Verdict::RateLimited => Decision::RateLimited,
            Verdict::Known | Verdict::Untracked => Decision::Quiet,
            Verdict::Answer => Decision::Answered,
        });
    }
    assert_eq!(kernel, expected);
    let (r, q, l, a) = (
        Decision::Reported,
        Decision::Quiet,
        Decision::RateLimited,
        Decision::Answered,
    );
    assert_eq!(expected, [q, r, a, q, q, l, q, q]);
    // A second connection's SYN, tagged and with options, and its answer by the parser's path.
    let tagged_syn = segment(9000, tcp_flags::SYN, &vlan, &nop);
    let tagged_ack = segment(9000, ack, &vlan, &nop);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    probe.run(&tagged_syn);
    assert_eq!(
        probe.events().len(),
        1,
        "the SYN, with a token a second later"
    );
    probe.run(&tagged_ack);
    let events = probe.events();
    assert!(
        matches!(events.as_slice(), [answer] if answer.is_answer() && answer.dst_port == 9000),
        "{events:?}"
    );
}

fn coarse_now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid, writable timespec; the clock always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &raw mut ts) };
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

/// The first fragment of a SYN from `src` to `port` holding `held` bytes of its 24-byte TCP
/// header (MSS option), in a frame padded with 0xff to Ethernet's 60-byte minimum, as a NIC
/// pads it: the padding must never be read as the rest of the header.
fn tiny_syn(src: Ipv4Addr, port: u16, held: usize) -> Vec<u8> {
    let seg = craft::tcp(40_000, port, tcp_flags::SYN, &[2, 4, 5, 0xb4], &[]);
    let ip = Ipv4 {
        flags_fragment: 0x2000,
        ..Ipv4::new(src, SENSOR, proto::TCP)
    };
    let mut f = ether(craft::ETHER_IPV4, &ip.packet(&seg[..held]));
    f.resize(f.len().max(60), 0xff);
    f
}

/// UDP to `port` behind `n` empty destination options headers.
fn behind_options(n: usize, port: u16) -> Vec<u8> {
    let mut chain = Vec::new();
    for i in 0..n {
        let next = if i + 1 == n {
            proto::UDP
        } else {
            proto::IPV6_DEST_OPTS
        };
        chain.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
    }
    chain.extend_from_slice(&craft::udp(50_000, port, b"hi"));
    let v6 = craft::ipv6(
        "2001:db8::66".parse::<Ipv6Addr>().expect("an address"),
        "2001:db8::1".parse::<Ipv6Addr>().expect("an address"),
        proto::IPV6_DEST_OPTS,
        64,
        &chain,
    );
    ether(craft::ETHER_IPV6, &v6)
}

#[test]
fn tiny_fragments_and_long_header_chains_are_counted_and_reported_not_malformed() {
    require_root!();
    let mut probe = load(Limits::default());
    let before = probe.snapshot();
    let frames = [
        tiny_syn(A, 8080, 8),  // nmap -f
        tiny_syn(B, 8081, 16), // nmap --mtu 16
        behind_options(12, 4712),
        behind_options(25, 4713),
    ];
    for frame in &frames {
        probe.run(frame);
    }
    let after = probe.snapshot();
    let moved = |key: u32| after.total(key) - before.total(key);
    assert_eq!(moved(total::PACKETS), 4);
    assert_eq!(moved(total::MALFORMED), 0);
    assert_eq!(moved(total::FRAGMENTS), 2);
    assert_eq!(moved(total::TINY_FRAGMENTS), 2);
    assert_eq!(moved(total::LONG_HEADER_CHAINS), 1);
    assert_eq!((moved(total::IPV4), moved(total::IPV6)), (2, 2));
    let tcp = port_proto::TCP;
    let udp = port_proto::UDP;
    for port in [8080, 8081] {
        assert_eq!(
            after.port(tcp, port, false) - before.port(tcp, port, false),
            1
        );
    }
    // Only the 16-byte fragment holds the flags: one SYN, and no NULL made up for the other.
    let flags = |bits: u8| after.tcp_flags[usize::from(bits)] - before.tcp_flags[usize::from(bits)];
    assert_eq!((flags(tcp_flags::SYN), flags(0)), (1, 0));
    assert_eq!(
        (
            after.syn_ports[8080] - before.syn_ports[8080],
            after.syn_ports[8081] - before.syn_ports[8081]
        ),
        (0, 1)
    );
    // Twelve headers are walked to the port; twenty-five are past the walk.
    assert_eq!(
        after.port(udp, 4712, false) - before.port(udp, 4712, false),
        1
    );
    assert_eq!(
        after.port(udp, 4713, false) - before.port(udp, 4713, false),
        0
    );

    let events = probe.events();
    let seen: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.dst_port,
                e.protocol,
                e.tcp_flags,
                e.frag & (frag::TINY_FRAGMENT | frag::LONG_CHAIN),
                e.l4_held,
                e.extensions,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (8080, proto::TCP, 0, frag::TINY_FRAGMENT, 8, 0),
            (8081, proto::TCP, tcp_flags::SYN, frag::TINY_FRAGMENT, 16, 0),
            (4712, proto::UDP, 0, 0, 0, 12),
            (0, proto::IPV6_DEST_OPTS, 0, frag::LONG_CHAIN, 0, 24),
        ]
    );
    // Each event is, byte for byte, the one the replay builds from the same frame.
    for (e, frame) in events.iter().zip(&frames) {
        let p = parse(frame).expect("well-formed");
        assert_eq!(*e, FirstContact::from_frame(frame, &p, e.ts_ns));
    }
}

/// UDP from `src_port` to `dst_port`, from A.
fn udp_from(src_port: u16, dst_port: u16) -> Vec<u8> {
    v4(A, proto::UDP, &craft::udp(src_port, dst_port, b"hi"))
}

#[test]
fn each_significant_source_port_is_a_first_contact_of_its_own() {
    require_root!();
    let mut probe = load(Limits::default());
    let frames = [
        // Game servers' ports (the knowledge lists them as sources) to one client port: two
        // contacts, where keying by the destination port alone made one.
        udp_from(27015, 50_000),
        udp_from(26000, 50_000),
        udp_from(27015, 50_000),
        // DNS queries from reserved source ports: each its own contact.
        udp_from(1001, 53),
        udp_from(1002, 53),
        // A client's temporary ports are not significant: one contact for port 5353.
        udp_from(40_000, 5353),
        udp_from(40_001, 5353),
        // The same rule on the TCP shortcut: SYNs from reserved ports 20 and 21 to one port.
        v4(
            A,
            proto::TCP,
            &craft::tcp(20, 6000, tcp_flags::SYN, &[], &[]),
        ),
        v4(
            A,
            proto::TCP,
            &craft::tcp(21, 6000, tcp_flags::SYN, &[], &[]),
        ),
        v4(
            A,
            proto::TCP,
            &craft::tcp(40_000, 6001, tcp_flags::SYN, &[], &[]),
        ),
        v4(
            A,
            proto::TCP,
            &craft::tcp(40_001, 6001, tcp_flags::SYN, &[], &[]),
        ),
    ];
    let mut reported = Vec::new();
    for frame in &frames {
        probe.run(frame);
        for e in probe.events() {
            let p = parse(frame).expect("well-formed");
            assert_eq!(e, FirstContact::from_frame(frame, &p, e.ts_ns));
            reported.push((e.src_port, e.dst_port));
        }
    }
    assert_eq!(
        reported,
        [
            (27015, 50_000),
            (26000, 50_000),
            (1001, 53),
            (1002, 53),
            (40_000, 5353),
            (20, 6000),
            (21, 6000),
            (40_000, 6001),
        ]
    );
    // The host's rule, as the replay runs it, keys them the same way.
    let mut replayed = FirstContacts::new(Limits::default().contacts, 1_000_000, 1_000_000)
        .with_sources(builtin_sources());
    let host: Vec<(u16, u16)> = frames
        .iter()
        .map(|f| parse(f).expect("well-formed"))
        .filter(|p| replayed.observe(p, coarse_now()) == Verdict::New)
        .map(|p| (p.src_port, p.dst_port))
        .collect();
    assert_eq!(host, reported);
}
