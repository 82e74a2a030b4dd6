//! `probe replay` reads what tcpdump reads: a capture cut short by a snapshot length
//! (`tcpdump -s 64`), a capture of every interface (`tcpdump -i any`, which writes Linux cooked
//! v1 or v2), and captures from other systems (BSD loopback, PPP) or writers that keep the
//! Ethernet FCS.
//!
//! The lab captures are tcpdump's, taken while real tools send, beside a capture of the sensor's
//! interface at full length: each replays to that capture's findings. Linux cannot capture BSD
//! loopback or PPP here, so those files are written offline by scapy (nothing is sent), and
//! `tcpdump -r` must read every frame of each before the replay is asked to.

use std::{fs, path::Path, process::Command};

use probe_integration::{
    ATTACKER_V4, ATTACKER_V6, Lab, PcapCapture, Replay, SENSOR_V4, SENSOR_V6, Scratch, describe,
    expect, keys, kinds, of_kind, only, replay, require_root, write_captures,
};

/// The link type and snapshot length in a legacy pcap file's header (little-endian: tcpdump on
/// this machine).
fn header(pcap: &Path) -> (u32, u32) {
    let bytes = fs::read(pcap).unwrap_or_else(|e| panic!("reading {}: {e}", pcap.display()));
    assert_eq!(bytes[..4], [0xd4, 0xc3, 0xb2, 0xa1], "a little-endian pcap");
    let field = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    (field(20), field(16))
}

/// The original lengths of the records of a little-endian legacy pcap file.
fn wire_lengths(pcap: &Path) -> Vec<usize> {
    let bytes = fs::read(pcap).unwrap_or_else(|e| panic!("reading {}: {e}", pcap.display()));
    let field = |at: usize| {
        let v = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        usize::try_from(v).expect("a length fits usize")
    };
    let mut lengths = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        lengths.push(field(at + 12));
        at += 16 + field(at + 8);
    }
    assert_eq!(at, bytes.len(), "records fill the file exactly");
    lengths
}

/// Replays `capture`, asserting a clean exit; the summary line is checked by the caller.
fn replayed(capture: &Path) -> Replay {
    let r = replay(capture);
    assert_eq!(r.code, Some(0), "{}: {r:?}", capture.display());
    r
}

#[test]
fn a_capture_cut_to_64_bytes_replays_to_the_findings_of_a_whole_one() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let whole = PcapCapture::start(&lab, &files.path("whole.pcap"));
    let cut = PcapCapture::start_with(&lab, &files.path("cut.pcap"), &["-s", "64"]);

    // A connect scan: the attacker's own kernel sends each SYN, with 20 bytes of TCP options,
    // 74 bytes in all. And a DNS query from a low port: 39 bytes of data, 81 in all.
    lab.attacker(&[
        "nmap",
        "-sT",
        "-Pn",
        "-n",
        "-r",
        "-p",
        "40000-40029",
        SENSOR_V4,
    ]);
    lab.attacker(&[
        "sh",
        "-c",
        &format!(
            "printf 'a query forty bytes long, padded out..\\n' \
             | ncat --udp --send-only --source-port 1001 {SENSOR_V4} 53"
        ),
    ]);
    let whole = whole.stop();
    let cut = cut.stop();

    assert_eq!(header(&cut), (1, 64), "Ethernet, cut at 64 bytes");
    let lengths = wire_lengths(&whole);
    let long = lengths.iter().filter(|&&len| len > 64).count();
    assert_eq!(
        long, 31,
        "30 SYNs and a query longer than 64 bytes: {lengths:?}"
    );
    assert_eq!(
        wire_lengths(&cut),
        lengths,
        "the same frames in both captures"
    );

    let full = replayed(&whole);
    let short = replayed(&cut);
    let summary = summary_of(&full.stderr);
    assert!(
        summary.starts_with(&format!(
            "replayed {} frames: 31 first contacts, ",
            lengths.len()
        )) && summary.ends_with(" findings, 0 malformed"),
        "{summary}"
    );
    // The same contacts and finding lines, none malformed, and the cut frames counted.
    assert_eq!(
        summary_of(&short.stderr),
        format!("{summary}, 31 frames cut short by the snapshot length (read as far as they go)")
    );
    let found = short.findings();
    assert_eq!(
        keys(&found),
        keys(&full.findings()),
        "whole:\n{}cut:\n{}",
        describe(&full.findings()),
        describe(&found)
    );
    assert_eq!(
        kinds(&found),
        ["dns_low_source_port".to_owned(), "vertical_scan".to_owned()].into()
    );
    // 30 TCP ports and the query's: both kinds of cut frame reached the detectors.
    expect(only(&found, "vertical_scan"))
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .count(31);
    expect(only(&found, "dns_low_source_port"))
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .port(Some(53));
}

#[test]
fn captures_of_every_interface_in_linux_cooked_v1_and_v2_replay_like_ethernet() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let ethernet = PcapCapture::start(&lab, &files.path("ethernet.pcap"));
    let sll = PcapCapture::start_with(
        &lab,
        &files.path("sll.pcap"),
        &["-i", "any", "-y", "LINUX_SLL"],
    );
    let sll2 = PcapCapture::start_with(
        &lab,
        &files.path("sll2.pcap"),
        &["-i", "any", "-y", "LINUX_SLL2"],
    );

    lab.attacker(&[
        "nmap",
        "-sS",
        "-Pn",
        "-n",
        "-r",
        "-p",
        "40000-40029",
        SENSOR_V4,
    ]);
    lab.attacker(&[
        "nmap",
        "-6",
        "-sS",
        "-Pn",
        "-n",
        "-r",
        "-p",
        "41000-41024",
        SENSOR_V6,
    ]);
    let ethernet = ethernet.stop();
    let sll = sll.stop();
    let sll2 = sll2.stop();
    assert_eq!(header(&ethernet).0, 1);
    assert_eq!(header(&sll).0, 113, "LINUX_SLL");
    assert_eq!(header(&sll2).0, 276, "LINUX_SLL2");

    let reference = replayed(&ethernet);
    // The SYNs only: the sensor answers each with a RST, and nothing comes back.
    let frames = wire_lengths(&ethernet).len();
    assert_eq!(frames, 55);
    for capture in [&sll, &sll2] {
        assert_eq!(wire_lengths(capture).len(), frames, "{}", capture.display());
        let r = replayed(capture);
        assert_eq!(r.stderr, reference.stderr, "{}", capture.display());
        let found = r.findings();
        assert_eq!(
            keys(&found),
            keys(&reference.findings()),
            "{}:\n{}",
            capture.display(),
            describe(&found)
        );
        let scans = of_kind(&found, "vertical_scan");
        assert_eq!(scans.len(), 2, "{}", describe(&found));
        for (src, dst, ports) in [(ATTACKER_V4, SENSOR_V4, 30), (ATTACKER_V6, SENSOR_V6, 25)] {
            let scan = scans
                .iter()
                .find(|f| f.src.as_deref() == Some(src))
                .unwrap_or_else(|| panic!("no scan from {src}:\n{}", describe(&found)));
            expect(scan).dst(dst).count(ports);
        }
    }
}

/// Writes, offline, one capture per framing of a 25-port SYN scan from 198.18.0.66 (or
/// 2001:db8::66), 0.1 s apart, into `dir`. scapy builds the packets and, where it has the
/// layer, the link header; the rest is laid out by hand as pcap-savefile(5) describes.
const WRITE_CAPTURES: &str = r#"
import logging, struct, sys, zlib
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import *

dir = sys.argv[1]

def scan(v6):
    if v6:
        ip = lambda: IPv6(src="2001:db8::66", dst="2001:db8::1")
    else:
        ip = lambda: IP(src="198.18.0.66", dst="198.18.0.1", ttl=50)
    return [ip() / TCP(sport=50000, dport=40000 + i, flags="S") for i in range(25)]

def stamped(frames):
    for i, f in enumerate(frames):
        f.time = 1700000000 + i * 0.1
    return frames

def by_hand(name, field, frames, order="<"):
    with open(f"{dir}/{name}", "wb") as out:
        out.write(struct.pack(order + "IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, field))
        for i, f in enumerate(frames):
            out.write(struct.pack(order + "IIII", 1700000000, i * 100000, len(f), len(f)))
            out.write(f)

# BSD loopback as scapy writes it: AF_INET in the writing host's (little-endian) order.
wrpcap(f"{dir}/null.pcap", stamped([Loopback(type=2) / p for p in scan(False)]), linktype=0)
# From a big-endian FreeBSD host: AF_INET6 is 28 there.
by_hand("null-be.pcap", 0, [struct.pack(">I", 28) + bytes(p) for p in scan(True)], ">")
# OpenBSD's LOOP: the family in network order; AF_INET6 is 24 there.
by_hand("loop.pcap", 108, [struct.pack(">I", 24) + bytes(p) for p in scan(True)])
# PPP as scapy writes it, the protocol compressed to one byte.
wrpcap(f"{dir}/ppp.pcap", stamped([PPP() / p for p in scan(False)]), linktype=9)
# PPP in HDLC-like framing: address, control, a two-byte protocol.
by_hand("ppp-hdlc.pcap", 50, [b"\xff\x03\x00\x57" + bytes(p) for p in scan(True)])
wrpcap(f"{dir}/sll2.pcap", stamped([CookedLinuxV2(proto=0x0800) / p for p in scan(False)]),
       linktype=276)
# Ethernet with its FCS kept: the header says a 2-word (32-bit) FCS ends every frame.
frames = [bytes(Ether(src="02:00:00:00:00:66", dst="02:00:00:00:00:01") / p)
          for p in scan(False)]
by_hand("fcs.pcap", 0x24000001, [f + struct.pack("<I", zlib.crc32(f)) for f in frames])
"#;

#[test]
fn captures_from_other_systems_replay_as_tcpdump_reads_them() {
    let files = Scratch::new();
    let dir = files.dir().to_str().expect("a UTF-8 path");
    write_captures(WRITE_CAPTURES, &[dir]);

    for (file, v6) in [
        ("null.pcap", false),
        ("null-be.pcap", true),
        ("loop.pcap", true),
        ("ppp.pcap", false),
        ("ppp-hdlc.pcap", true),
        ("sll2.pcap", false),
        ("fcs.pcap", false),
    ] {
        let path = files.path(file);
        let (src, dst) = if v6 {
            ("2001:db8::66", "2001:db8::1")
        } else {
            ("198.18.0.66", "198.18.0.1")
        };
        // tcpdump first: it reads each of the 25 frames as the SYN it is.
        let read = Command::new("tcpdump")
            .args(["-nn", "-r"])
            .arg(&path)
            .output()
            .expect("running tcpdump -r");
        assert!(read.status.success(), "tcpdump -r {file}: {read:?}");
        let text = String::from_utf8_lossy(&read.stdout);
        let syns = text
            .lines()
            .filter(|l| l.contains(&format!("{src}.50000 > {dst}.")) && l.contains("Flags [S]"))
            .count();
        assert_eq!(syns, 25, "tcpdump -r {file}:\n{text}");

        let r = replayed(&path);
        assert_eq!(
            summary_of(&r.stderr),
            // One line: the scan's first, written by the end of the capture (within its wait
            // for answers) with all 25 probes.
            "replayed 25 frames: 25 first contacts, 1 findings, 0 malformed",
            "{file}"
        );
        let found = r.findings();
        assert_eq!(found.len(), 1, "{file}:\n{}", describe(&found));
        expect(only(&found, "vertical_scan"))
            .because(file)
            .src(src)
            .dst(dst)
            .count(25);
    }
}

/// The replay's summary line of `stderr` (other lines say, for one, what home networks the
/// replay inferred).
fn summary_of(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("replayed "))
        .unwrap_or_else(|| panic!("no summary in {stderr:?}"))
}
