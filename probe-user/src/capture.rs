//! Reading capture files (pcap and pcapng) for the replay: one frame at a time, timestamps in
//! nanoseconds, every frame as Ethernet whatever the link type it was captured on.
//!
//! The link types read are the ones tcpdump writes and reads for IP traffic: Ethernet, raw IP,
//! Linux cooked (v1 and v2), BSD loopback (NULL and LOOP) and PPP (bare or in HDLC-like
//! framing). A frame of any other link type is skipped and counted.

use std::{fs::File, path::Path};

use pcap_parser::{
    Block, PcapBlockOwned, PcapError, create_reader,
    pcapng::{EnhancedPacketBlock, InterfaceDescriptionBlock},
    traits::{PcapNGPacketBlock as _, PcapReaderIterator},
};
use probe_common::packet::{ether_type, ip_proto};

/// Read buffer: large enough for any frame a capture can hold.
const BUFFER: usize = 1 << 20;

/// Link types the replay reads: the LINKTYPE_ numbers pcap and pcapng share
/// (<https://www.tcpdump.org/linktypes.html>).
mod linktype {
    /// BSD loopback: a 4-byte address family in the byte order of the host that wrote it.
    pub const NULL: u16 = 0;
    pub const ETHERNET: u16 = 1;
    /// PPP (RFC 1661), with or without the HDLC-like address and control bytes.
    pub const PPP: u16 = 9;
    /// PPP in HDLC-like framing (RFC 1662).
    pub const PPP_HDLC: u16 = 50;
    /// IP with no link header; the version nibble tells IPv4 from IPv6.
    pub const RAW: u16 = 101;
    /// OpenBSD loopback: as NULL, with the family in network byte order.
    pub const LOOP: u16 = 108;
    /// Linux cooked capture: 16 bytes, the EtherType last.
    pub const LINUX_SLL: u16 = 113;
    pub const IPV4: u16 = 228;
    pub const IPV6: u16 = 229;
    /// Linux cooked capture v2: 20 bytes, the EtherType first.
    pub const LINUX_SLL2: u16 = 276;
}

/// The EtherType given to a frame whose link header names a protocol other than IP: the parser
/// counts such a frame and reads no further, as it does an ARP frame on Ethernet.
const NOT_IP: u16 = 0;

/// Bits of a pcap file header's link-type field above the link type (pcap-savefile(5),
/// draft-ietf-opsawg-pcap §4): when `FCS_KNOWN` is set, the top four bits give the length of
/// the frame check sequence that ends every frame, in 16-bit words.
const FCS_KNOWN: u32 = 1 << 26;
const FCS_WORDS_SHIFT: u32 = 28;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open {path}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is a directory: give the path of a capture file")]
    Directory { path: String },
    #[error("{path} is not a pcap or pcapng capture (its first bytes are neither header)")]
    NotCapture { path: String },
    #[error("{path} is empty")]
    Empty { path: String },
    #[error("{path} is damaged at byte {offset}: {reason}")]
    Damaged {
        path: String,
        offset: u64,
        reason: String,
    },
}

/// One captured frame, as Ethernet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    pub data: Vec<u8>,
    /// The capture holds less of the frame than was on the wire (its snapshot length cut it).
    pub truncated: bool,
    /// The cut fell inside the IP datagram, and its lengths were set to what the capture holds
    /// ([`fit_to_capture`]): where the datagram really ends is not known.
    pub fitted: bool,
}

/// How the frames of one interface (or of a whole legacy pcap file) are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Link {
    linktype: u16,
    /// Bytes of frame check sequence at the end of every frame: not part of the packet.
    fcs: usize,
}

impl Link {
    const ETHERNET: Self = Self {
        linktype: linktype::ETHERNET,
        fcs: 0,
    };

    /// A pcap file header's 32-bit link-type field: the link type is its low 16 bits only.
    fn from_pcap_header(field: u32) -> Self {
        let fcs = if field & FCS_KNOWN == 0 {
            0
        } else {
            (field >> FCS_WORDS_SHIFT) as usize * 2
        };
        Self {
            linktype: (field & 0xffff) as u16,
            fcs,
        }
    }
}

struct Interface {
    link: Link,
    /// Timestamp units per second.
    resolution: u64,
    offset: i64,
}

/// A capture file being read.
pub struct Capture {
    path: String,
    reader: Box<dyn PcapReaderIterator + Send>,
    state: State,
    /// Bytes of the file consumed so far: where the next block starts.
    offset: u64,
}

/// What the header blocks said so far.
#[derive(Default)]
struct State {
    /// pcapng interfaces, in the order their descriptions appeared.
    interfaces: Vec<Interface>,
    /// Link and nanosecond flag of a legacy pcap file.
    legacy: Option<(Link, bool)>,
    /// Frames skipped because their link type is not one the replay reads.
    skipped_link_types: u64,
}

impl Capture {
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: name.clone(),
            source,
        })?;
        // A pipe is fine (tcpdump -w - | probe replay /dev/stdin); a directory opens but reads
        // as an error that would say nothing useful.
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(CaptureError::Directory { path: name });
        }
        let reader = create_reader(BUFFER, file).map_err(|e| match e {
            PcapError::Eof => CaptureError::Empty { path: name.clone() },
            PcapError::HeaderNotRecognized => CaptureError::NotCapture { path: name.clone() },
            other => CaptureError::Damaged {
                path: name.clone(),
                offset: 0,
                reason: describe(&other),
            },
        })?;
        Ok(Self {
            path: name,
            reader,
            state: State::default(),
            offset: 0,
        })
    }

    /// Frames skipped because their link type is not one the replay reads.
    pub fn skipped_link_types(&self) -> u64 {
        self.state.skipped_link_types
    }

    fn damaged(&self, reason: String) -> CaptureError {
        CaptureError::Damaged {
            path: self.path.clone(),
            offset: self.offset,
            reason,
        }
    }

    /// The next frame, `Ok(None)` at the end, or the damage that stops the read.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        loop {
            let (consumed, frame) = match self.reader.next() {
                Ok((consumed, block)) => {
                    let frame = self.state.frame(&block);
                    (consumed, frame)
                }
                Err(PcapError::Eof) => return Ok(None),
                Err(PcapError::Incomplete(_)) => {
                    if let Err(e) = self.reader.refill() {
                        if matches!(e, PcapError::Eof) {
                            return Err(self.damaged("the last block is cut short".to_owned()));
                        }
                        let reason = describe(&e);
                        return Err(self.damaged(reason));
                    }
                    continue;
                }
                Err(e) => {
                    let reason = describe(&e);
                    return Err(self.damaged(reason));
                }
            };
            self.reader.consume(consumed);
            self.offset += consumed as u64;
            match frame {
                Ok(Some(f)) => return Ok(Some(f)),
                Ok(None) => {}
                Err(reason) => {
                    return Err(CaptureError::Damaged {
                        path: self.path.clone(),
                        offset: self.offset - consumed as u64,
                        reason,
                    });
                }
            }
        }
    }
}

impl State {
    /// Makes a frame of a packet block; remembers what header blocks say.
    fn frame(&mut self, block: &PcapBlockOwned<'_>) -> Result<Option<Frame>, String> {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                let link = Link::from_pcap_header(h.network.0.cast_unsigned());
                self.legacy = Some((link, h.is_nanosecond_precision()));
                Ok(None)
            }
            PcapBlockOwned::Legacy(b) => {
                let (link, nanos) = self.legacy.unwrap_or((Link::ETHERNET, false));
                let frac = u64::from(b.ts_usec) * if nanos { 1 } else { 1000 };
                let ts_ns = u64::from(b.ts_sec) * 1_000_000_000 + frac;
                Ok(self.ethernet(link, b.data, b.origlen as usize, ts_ns))
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                // A new section starts its own interface numbering.
                self.interfaces.clear();
                Ok(None)
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.interfaces.push(interface(idb));
                Ok(None)
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => self.enhanced(epb),
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                // No timestamp: such frames replay at time zero of the first interface.
                let link = self.interfaces.first().map_or(Link::ETHERNET, |i| i.link);
                // The block pads its data to 32 bits; the original length ends the frame.
                Ok(self.ethernet(link, spb.packet_data(), spb.origlen as usize, 0))
            }
            PcapBlockOwned::NG(_) => Ok(None),
        }
    }

    fn enhanced(&mut self, epb: &EnhancedPacketBlock<'_>) -> Result<Option<Frame>, String> {
        let Some(iface) = self.interfaces.get(epb.if_id as usize) else {
            return Err(format!(
                "a packet names interface {} that was never described",
                epb.if_id
            ));
        };
        let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
        let ts_ns = ticks_to_ns(ticks, iface.resolution, iface.offset);
        let len = (epb.caplen as usize).min(epb.data.len());
        let link = iface.link;
        Ok(self.ethernet(link, &epb.data[..len], epb.origlen as usize, ts_ns))
    }

    /// The frame as Ethernet, or `None` (counted) for a link type the replay does not read.
    /// `data` is what the capture holds of a frame `wire` bytes long.
    fn ethernet(&mut self, link: Link, data: &[u8], wire: usize, ts_ns: u64) -> Option<Frame> {
        // The FCS closes the frame on the wire, so a snapshot length may have cut some or all
        // of it; what comes before it is the packet. A writer that put the captured length
        // above the original is believed for the bytes it gave.
        let packet = wire.max(data.len()).saturating_sub(link.fcs);
        let data = &data[..data.len().min(packet)];
        let truncated = data.len() < packet;
        let Some(mut data) = as_ethernet(link.linktype, data) else {
            self.skipped_link_types += 1;
            return None;
        };
        let fitted = truncated && fit_to_capture(&mut data);
        Some(Frame {
            ts_ns,
            data,
            truncated,
            fitted,
        })
    }
}

/// `data`, of link type `linktype`, as an Ethernet frame; `None` for a link type the replay
/// does not read. A frame too short for its link header becomes an empty frame, which the
/// parser counts as malformed.
fn as_ethernet(linktype: u16, data: &[u8]) -> Option<Vec<u8>> {
    let inner = match linktype {
        linktype::ETHERNET => return Some(data.to_vec()),
        linktype::RAW | linktype::IPV4 | linktype::IPV6 => {
            let ether_type = match data.first().map(|b| b >> 4) {
                Some(6) => ether_type::IPV6,
                _ => ether_type::IPV4,
            };
            Some((ether_type, data))
        }
        linktype::LINUX_SLL => be16(data, 14).map(|t| (t, &data[16..])),
        linktype::LINUX_SLL2 => be16(data, 0).zip(data.get(20..)),
        linktype::NULL => bsd_loopback(data, false),
        linktype::LOOP => bsd_loopback(data, true),
        linktype::PPP | linktype::PPP_HDLC => ppp(data),
        _ => return None,
    };
    Some(inner.map_or_else(Vec::new, |(ether_type, payload)| {
        synthetic(ether_type, payload)
    }))
}

/// The EtherType and packet of a BSD loopback frame: a 4-byte address family, then the packet.
/// LOOP writes the family in network byte order; NULL in the order of the host that wrote the
/// file, which the reader cannot know: a family is a small number, so whichever order reads as
/// one is the writer's.
fn bsd_loopback(data: &[u8], network_order: bool) -> Option<(u16, &[u8])> {
    let bytes: [u8; 4] = data.get(..4)?.try_into().ok()?;
    let big = u32::from_be_bytes(bytes);
    let family = if network_order || big <= 0xffff {
        big
    } else {
        u32::from_le_bytes(bytes)
    };
    let ether_type = match family {
        2 => ether_type::IPV4,
        // AF_INET6 differs between the BSDs: 24 on NetBSD and OpenBSD, 28 on FreeBSD and
        // DragonFly, 30 on macOS.
        24 | 28 | 30 => ether_type::IPV6,
        _ => NOT_IP,
    };
    Some((ether_type, &data[4..]))
}

/// The EtherType and packet of a PPP frame (LINKTYPE_PPP or LINKTYPE_PPP_HDLC).
fn ppp(data: &[u8]) -> Option<(u16, &[u8])> {
    // HDLC-like framing puts address 0xff and control 0x03 first (RFC 1662 §3.1); a link that
    // negotiated address-and-control-field compression leaves them out (RFC 1661 §6.6).
    let data = data.strip_prefix(&[0xff, 0x03]).unwrap_or(data);
    // Protocol numbers have an even first byte and an odd last one (RFC 1661 §2), so an odd
    // first byte is a protocol field compressed to one byte (RFC 1661 §6.5).
    let (protocol, packet) = match *data.first()? {
        b if b & 1 == 1 => (u16::from(b), &data[1..]),
        _ => (be16(data, 0)?, data.get(2..)?),
    };
    let ether_type = match protocol {
        0x0021 => ether_type::IPV4,
        0x0057 => ether_type::IPV6,
        _ => NOT_IP,
    };
    Some((ether_type, packet))
}

/// An Ethernet header with zero addresses and `ether_type`, then `payload`.
fn synthetic(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&[0; 12]);
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Makes the length fields of an Ethernet frame cut short by the snapshot length say what the
/// capture holds, so that the parser reads the headers that are there; true when it changed
/// them (the cut fell inside the IP datagram).
///
/// The parser is the XDP program's, which only ever sees whole frames: an IP length that runs
/// past the frame is malformed there, and so it would be for every frame of a capture taken
/// with a short snapshot (`tcpdump -s 64`). The replay does not change the parser; it tells it
/// where the capture ends instead:
/// - IPv4's total length, or IPv6's payload length, becomes what the capture holds;
/// - a UDP length past that follows it;
/// - a TCP header whose options the snapshot cut (the segment held them, the capture does not)
///   keeps its fixed 20 bytes: its data offset becomes 5 and the IP length ends after it. The
///   probe reads no TCP option, and the options' remains are not taken for payload.
///
/// IPv6 extension headers are not walked: the transport behind them is left as it is, and a
/// chain cut short is the parser's to judge.
fn fit_to_capture(frame: &mut [u8]) -> bool {
    let Some(mut et) = be16(frame, 12) else {
        return false;
    };
    let mut l3 = 14;
    // Two tags at most, as the parser reads them.
    for _ in 0..2 {
        if et != ether_type::VLAN && et != ether_type::QINQ {
            break;
        }
        let Some(inner) = be16(frame, l3 + 2) else {
            return false;
        };
        et = inner;
        l3 += 4;
    }
    let held = frame.len().saturating_sub(l3);
    match et {
        ether_type::IPV4 if held >= 20 => {
            let ihl = usize::from(frame[l3] & 0x0f) * 4;
            let total = usize::from(be16(frame, l3 + 2).unwrap_or(0));
            // A whole datagram, or a header the parser refuses whatever the lengths say.
            if total <= held || ihl < 20 || ihl > held {
                return false;
            }
            let fragment_offset = be16(frame, l3 + 6).map_or(0, |f| f & 0x1fff);
            // Past the first fragment there is no transport header to fit.
            let payload = if fragment_offset == 0 {
                fit_transport(frame, frame[l3 + 9], l3 + ihl, held - ihl, total - ihl)
            } else {
                held - ihl
            };
            set_be16(frame, l3 + 2, ihl + payload);
            true
        }
        ether_type::IPV6 if held >= 40 => {
            let declared = usize::from(be16(frame, l3 + 4).unwrap_or(0));
            if declared <= held - 40 {
                return false;
            }
            let payload = fit_transport(frame, frame[l3 + 6], l3 + 40, held - 40, declared);
            set_be16(frame, l3 + 4, payload);
            true
        }
        _ => false,
    }
}

/// Fits the transport header at `l4` to a capture that holds `held` bytes of the IP payload
/// the sender made `declared` bytes long; returns the IP payload length to declare.
fn fit_transport(frame: &mut [u8], protocol: u8, l4: usize, held: usize, declared: usize) -> usize {
    match protocol {
        ip_proto::TCP if held >= 20 => {
            let offset = usize::from(frame[l4 + 12] >> 4) * 4;
            // Options the sender did not put in this packet (a first fragment that ends
            // inside them) are not the snapshot's doing: left for the parser to judge.
            if offset > held && offset <= declared {
                frame[l4 + 12] = (5 << 4) | (frame[l4 + 12] & 0x0f);
                return 20;
            }
        }
        ip_proto::UDP
            if held >= 8 && be16(frame, l4 + 4).is_some_and(|len| usize::from(len) > held) =>
        {
            set_be16(frame, l4 + 4, held);
        }
        _ => {}
    }
    held
}

/// The big-endian 16-bit field at `at`, if the frame holds it.
fn be16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([bytes[0], bytes[1]]))
}

/// Writes `value` (at most 0xffff: a length the frame holds) big-endian at `at`.
fn set_be16(data: &mut [u8], at: usize, value: usize) {
    let value = u16::try_from(value).unwrap_or(u16::MAX);
    data[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

fn interface(idb: &InterfaceDescriptionBlock<'_>) -> Interface {
    Interface {
        // pcapng's link type field is 16 bits; an FCS length would be an option (if_fcslen).
        link: Link {
            linktype: (idb.linktype.0.cast_unsigned() & 0xffff) as u16,
            fcs: 0,
        },
        resolution: idb.ts_resolution().unwrap_or(1_000_000),
        offset: idb.ts_offset(),
    }
}

/// Timestamp ticks (at `resolution` per second, plus `offset` seconds) to nanoseconds.
fn ticks_to_ns(ticks: u64, resolution: u64, offset: i64) -> u64 {
    let resolution = resolution.max(1);
    let secs = ticks / resolution;
    let frac = ticks % resolution;
    let frac_ns = u128::from(frac) * 1_000_000_000 / u128::from(resolution);
    let secs = secs.saturating_add_signed(offset);
    secs.saturating_mul(1_000_000_000)
        .saturating_add(frac_ns as u64)
}

fn describe<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::Eof => "the file ends early".to_owned(),
        PcapError::UnexpectedEof | PcapError::Incomplete(_) => "a block is cut short".to_owned(),
        PcapError::BufferTooSmall => "a block is larger than 1 MiB".to_owned(),
        PcapError::ReadError => "reading the file failed".to_owned(),
        PcapError::HeaderNotRecognized => "a header is not recognised".to_owned(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("a block does not parse ({kind:?})")
        }
    }
}

#[cfg(test)]
pub(crate) mod testfiles;

#[cfg(test)]
pub(crate) mod tests {
    use probe_common::packet::{Malformed, Network, Transport, parse};

    use super::{testfiles::*, *};

    #[test]
    fn a_directory_is_refused_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let Err(e) = Capture::open(dir.path()) else {
            panic!("a directory opened as a capture");
        };
        assert_eq!(
            e.to_string(),
            format!(
                "{} is a directory: give the path of a capture file",
                dir.path().display()
            )
        );
    }

    #[test]
    fn timestamps_convert_at_any_resolution() {
        assert_eq!(ticks_to_ns(1_500_000, 1_000_000, 0), 1_500_000_000);
        assert_eq!(ticks_to_ns(1_500_000_001, 1_000_000_000, 0), 1_500_000_001);
        assert_eq!(ticks_to_ns(3, 2, 10), 11_500_000_000);
    }

    #[test]
    fn raw_ip_and_cooked_frames_become_ethernet() {
        assert_eq!(
            synthetic(0x0800, &[0x45, 1]),
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0x45, 1]
        );
    }

    /// A little-endian pcap file header for Ethernet frames.
    pub(crate) fn legacy_header() -> Vec<u8> {
        let mut h = Vec::new();
        h.extend(0xa1b2_c3d4u32.to_le_bytes());
        h.extend(2u16.to_le_bytes());
        h.extend(4u16.to_le_bytes());
        h.extend([0; 8]);
        h.extend(65_535u32.to_le_bytes());
        h.extend(1u32.to_le_bytes());
        h
    }

    /// One pcap record holding all of `data`.
    pub(crate) fn record(secs: u32, micros: u32, data: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend(secs.to_le_bytes());
        r.extend(micros.to_le_bytes());
        r.extend((data.len() as u32).to_le_bytes());
        r.extend((data.len() as u32).to_le_bytes());
        r.extend(data);
        r
    }

    #[test]
    fn a_pcap_file_yields_its_frames_then_a_damage_report_with_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.pcap");
        let mut bytes = legacy_header();
        bytes.extend(record(7, 250_000, &[0xaa; 20]));
        let second = bytes.len();
        // A record header that promises 4000 bytes, followed by 10.
        let mut cut = record(8, 0, &[0xbb; 10]);
        cut[8..12].copy_from_slice(&4000u32.to_le_bytes());
        cut[12..16].copy_from_slice(&4000u32.to_le_bytes());
        bytes.extend(cut);
        std::fs::write(&path, &bytes).unwrap();

        let mut c = Capture::open(&path).unwrap();
        assert_eq!(
            c.next_frame().unwrap(),
            Some(Frame {
                ts_ns: 7_250_000_000,
                data: vec![0xaa; 20],
                truncated: false,
                fitted: false,
            })
        );
        match c.next_frame() {
            Err(CaptureError::Damaged { offset, .. }) => assert_eq!(offset, second as u64),
            other => panic!("expected damage at {second}, got {other:?}"),
        }
    }

    #[test]
    fn files_that_are_not_captures_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, b"this is not a capture file at all, just words").unwrap();
        assert!(matches!(
            Capture::open(&text),
            Err(CaptureError::NotCapture { .. })
        ));
        let empty = dir.path().join("empty.pcap");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(
            Capture::open(&empty),
            Err(CaptureError::Empty { .. })
        ));
        assert!(matches!(
            Capture::open(&dir.path().join("absent.pcap")),
            Err(CaptureError::Open { .. })
        ));
    }

    /// The Ethernet frame the reader makes of a packet behind another link header.
    fn as_read(ether_type: u16, packet: &[u8]) -> Vec<u8> {
        let mut f = vec![0; 12];
        f.extend(ether_type.to_be_bytes());
        f.extend(packet);
        f
    }

    /// Every frame of `bytes` (a capture file), and how many were skipped.
    fn read(bytes: &[u8]) -> (Vec<Frame>, u64) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pcap");
        std::fs::write(&path, bytes).unwrap();
        let mut c = Capture::open(&path).unwrap();
        let mut frames = Vec::new();
        while let Some(f) = c.next_frame().unwrap() {
            frames.push(f);
        }
        (frames, c.skipped_link_types())
    }

    /// The data of every frame, which must all be whole.
    fn whole_frames(bytes: &[u8]) -> Vec<Vec<u8>> {
        let (frames, skipped) = read(bytes);
        assert_eq!(skipped, 0);
        frames
            .into_iter()
            .map(|f| {
                assert!(!f.truncated && !f.fitted, "{f:?}");
                f.data
            })
            .collect()
    }

    #[test]
    fn the_link_type_is_the_low_16_bits_of_the_pcap_field_and_the_fcs_its_top_4_in_words() {
        // FCS known (bit 26), 2 words: a 32-bit Ethernet FCS.
        assert_eq!(
            Link::from_pcap_header(0x2400_0001),
            Link {
                linktype: 1,
                fcs: 4
            }
        );
        // 1 word: the 16-bit FCS of PPP in HDLC-like framing.
        assert_eq!(
            Link::from_pcap_header(0x1400_0032),
            Link {
                linktype: 50,
                fcs: 2
            }
        );
        // A length without the bit that says it is known means nothing.
        assert_eq!(
            Link::from_pcap_header(0x2000_0001),
            Link {
                linktype: 1,
                fcs: 0
            }
        );
        assert_eq!(
            Link::from_pcap_header(276),
            Link {
                linktype: 276,
                fcs: 0
            }
        );
    }

    #[test]
    fn ethernet_with_an_fcs_loses_its_last_four_bytes_before_parsing() {
        let syn = ether(0x0800, &ipv4(6, &tcp(40_000, SYN, 4, 0)));
        let mut on_wire = syn.clone();
        on_wire.extend([0xde, 0xad, 0xbe, 0xef]);
        // A frame too short for the FCS it should end with keeps nothing.
        let file = pcap(0x2400_0001, 65_535, &[whole(&on_wire), whole(&[1, 2, 3])]);
        assert_eq!(whole_frames(&file), [syn, Vec::new()]);

        // Without the "known" bit the same bytes are read whole.
        let file = pcap(0x2000_0001, 65_535, &[whole(&on_wire)]);
        assert_eq!(whole_frames(&file), [on_wire.clone()]);
    }

    #[test]
    fn a_snapshot_that_cuts_only_the_fcs_leaves_the_frame_whole() {
        let syn = ether(0x0800, &ipv4(6, &tcp(40_000, SYN, 4, 0)));
        let mut on_wire = syn.clone();
        on_wire.extend([0xde, 0xad, 0xbe, 0xef]);
        let held = &on_wire[..on_wire.len() - 3];
        let file = pcap(0x2400_0001, 59, &[(on_wire.len(), held)]);
        assert_eq!(whole_frames(&file), [syn]);
    }

    #[test]
    fn bsd_null_loopback_reads_the_family_in_either_byte_order() {
        let v4 = ipv4(6, &tcp(40_000, SYN, 0, 0));
        let v6 = ipv6(6, &tcp(40_001, SYN, 0, 0));
        let with_family = |family: [u8; 4], packet: &[u8]| {
            let mut f = family.to_vec();
            f.extend(packet);
            f
        };
        let frames = [
            // Written on a little-endian host: AF_INET, then AF_INET6 of NetBSD, FreeBSD, macOS.
            with_family([2, 0, 0, 0], &v4),
            with_family([24, 0, 0, 0], &v6),
            with_family([28, 0, 0, 0], &v6),
            with_family([30, 0, 0, 0], &v6),
            // Written on a big-endian host.
            with_family([0, 0, 0, 2], &v4),
            with_family([0, 0, 0, 30], &v6),
            // Linux's AF_INET6 (10) is no BSD's: a frame, but not IP.
            with_family([10, 0, 0, 0], &v6),
            // Too short for the family.
            vec![2, 0, 0],
        ];
        let records: Vec<_> = frames.iter().map(|f| whole(f)).collect();
        let read = whole_frames(&pcap(0, 65_535, &records));
        assert_eq!(
            read,
            [
                as_read(0x0800, &v4),
                as_read(0x86dd, &v6),
                as_read(0x86dd, &v6),
                as_read(0x86dd, &v6),
                as_read(0x0800, &v4),
                as_read(0x86dd, &v6),
                as_read(0, &v6),
                Vec::new(),
            ]
        );
        let p = parse(&read[1]).unwrap();
        assert_eq!(
            (p.network, p.dst_port, p.tcp_flags),
            (Network::Ipv6, 40_001, SYN)
        );
        let p = parse(&read[6]).unwrap();
        assert_eq!(p.network, Network::Other, "not IP, and not malformed");
        assert_eq!(parse(&read[7]), Err(Malformed::Ethernet));
    }

    #[test]
    fn openbsd_loop_reads_the_family_in_network_byte_order_only() {
        let v4 = ipv4(17, &udp(53, 4));
        let v6 = ipv6(17, &udp(53, 4));
        let mut big = vec![0, 0, 0, 2];
        big.extend(&v4);
        let mut big6 = vec![0, 0, 0, 24];
        big6.extend(&v6);
        let mut little = vec![2, 0, 0, 0];
        little.extend(&v4);
        let file = pcap(108, 65_535, &[whole(&big), whole(&big6), whole(&little)]);
        assert_eq!(
            whole_frames(&file),
            [as_read(0x0800, &v4), as_read(0x86dd, &v6), as_read(0, &v4)]
        );
    }

    #[test]
    fn linux_cooked_v2_takes_the_ether_type_from_its_first_two_bytes() {
        let v6 = ipv6(6, &tcp(40_002, SYN, 0, 0));
        // Protocol, reserved, interface index 3, ARPHRD_ETHER, PACKET_HOST, address length 6,
        // the sender's MAC padded to 8 bytes.
        let mut frame = vec![0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6];
        frame.extend([2, 0, 0, 0, 0, 2, 0, 0]);
        frame.extend(&v6);
        let short = &frame[..19];
        let file = pcap(276, 65_535, &[whole(&frame), whole(short)]);
        assert_eq!(whole_frames(&file), [as_read(0x86dd, &v6), Vec::new()]);
    }

    #[test]
    fn linux_cooked_v1_is_still_read() {
        let v4 = ipv4(6, &tcp(40_003, SYN, 0, 0));
        // Packet type, ARPHRD_ETHER, address length 6, the MAC padded to 8, protocol.
        let mut frame = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0, 0x08, 0x00];
        frame.extend(&v4);
        let file = pcap(113, 65_535, &[whole(&frame)]);
        assert_eq!(whole_frames(&file), [as_read(0x0800, &v4)]);
    }

    #[test]
    fn ppp_is_read_bare_in_hdlc_framing_and_with_a_compressed_protocol() {
        let v4 = ipv4(6, &tcp(40_004, SYN, 0, 0));
        let v6 = ipv6(6, &tcp(40_005, SYN, 0, 0));
        let framed = |prefix: &[u8], packet: &[u8]| {
            let mut f = prefix.to_vec();
            f.extend(packet);
            f
        };
        let ppp = [
            framed(&[0x00, 0x21], &v4),
            framed(&[0x00, 0x57], &v6),
            framed(&[0x21], &v4),
            framed(&[0xff, 0x03, 0x00, 0x21], &v4),
            // LCP: PPP, not IP.
            framed(&[0xc0, 0x21], &[1, 1, 0, 4]),
        ];
        let records: Vec<_> = ppp.iter().map(|f| whole(f)).collect();
        assert_eq!(
            whole_frames(&pcap(9, 65_535, &records)),
            [
                as_read(0x0800, &v4),
                as_read(0x86dd, &v6),
                as_read(0x0800, &v4),
                as_read(0x0800, &v4),
                as_read(0, &[1, 1, 0, 4]),
            ]
        );

        let hdlc = [
            framed(&[0xff, 0x03, 0x00, 0x57], &v6),
            framed(&[0xff, 0x03, 0x57], &v6),
            // Address and control compressed away.
            framed(&[0x00, 0x21], &v4),
            vec![0xff, 0x03],
        ];
        let records: Vec<_> = hdlc.iter().map(|f| whole(f)).collect();
        assert_eq!(
            whole_frames(&pcap(50, 65_535, &records)),
            [
                as_read(0x86dd, &v6),
                as_read(0x86dd, &v6),
                as_read(0x0800, &v4),
                Vec::new(),
            ]
        );
    }

    #[test]
    fn other_link_types_are_skipped_and_counted() {
        // LINKTYPE_IEEE802_11 (105).
        let (frames, skipped) = read(&pcap(105, 65_535, &[whole(&[0; 30]), whole(&[0; 40])]));
        assert!(frames.is_empty());
        assert_eq!(skipped, 2);
    }

    /// The one frame of `file`, which must be cut short.
    fn cut(file: &[u8]) -> Frame {
        let (frames, skipped) = read(file);
        assert_eq!(skipped, 0);
        let [frame] = <[Frame; 1]>::try_from(frames).unwrap();
        assert!(frame.truncated, "{frame:?}");
        frame
    }

    #[test]
    fn a_cut_syn_keeps_its_fixed_tcp_header_and_loses_the_options_it_cannot_hold() {
        // A Linux SYN: 40 bytes of TCP header, 74 on the wire, 64 kept (tcpdump -s 64).
        let syn = ether(0x0800, &ipv4(6, &tcp(40_000, SYN, 20, 0)));
        assert_eq!(syn.len(), 74);
        let frame = cut(&pcap(1, 64, &[(74, &syn[..64])]));
        assert!(frame.fitted);
        let mut expected = syn[..64].to_vec();
        // IPv4 total length 20 + 20, data offset 5 words.
        expected[16..18].copy_from_slice(&40u16.to_be_bytes());
        expected[46] = 0x50;
        assert_eq!(frame.data, expected);
        let p = parse(&frame.data).unwrap();
        assert_eq!(
            (
                p.transport,
                p.src_port,
                p.dst_port,
                p.tcp_flags,
                p.payload_len
            ),
            (Transport::Tcp, 50_000, 40_000, SYN, 0)
        );
    }

    #[test]
    fn a_cut_segment_keeps_the_payload_it_holds() {
        // nmap --data-length 60: a 24-byte TCP header and 60 bytes of data.
        let syn = ether(0x0800, &ipv4(6, &tcp(40_001, SYN, 4, 60)));
        let frame = cut(&pcap(1, 64, &[(syn.len(), &syn[..64])]));
        assert!(frame.fitted);
        let mut expected = syn[..64].to_vec();
        expected[16..18].copy_from_slice(&50u16.to_be_bytes());
        assert_eq!(frame.data, expected);
        let p = parse(&frame.data).unwrap();
        assert_eq!((p.dst_port, p.tcp_flags, p.payload_len), (40_001, SYN, 6));
    }

    #[test]
    fn a_cut_datagram_has_its_ip_and_udp_lengths_set_to_what_was_kept() {
        let v4 = ether(0x0800, &ipv4(17, &udp(53, 100)));
        let frame = cut(&pcap(1, 64, &[(v4.len(), &v4[..64])]));
        let mut expected = v4[..64].to_vec();
        expected[16..18].copy_from_slice(&50u16.to_be_bytes());
        expected[38..40].copy_from_slice(&30u16.to_be_bytes());
        assert_eq!(frame.data, expected);
        let p = parse(&frame.data).unwrap();
        assert_eq!(
            (p.transport, p.dst_port, p.payload_len),
            (Transport::Udp, 53, 22)
        );

        let v6 = ether(0x86dd, &ipv6(17, &udp(53, 100)));
        let frame = cut(&pcap(1, 64, &[(v6.len(), &v6[..64])]));
        let mut expected = v6[..64].to_vec();
        expected[18..20].copy_from_slice(&10u16.to_be_bytes());
        expected[58..60].copy_from_slice(&10u16.to_be_bytes());
        assert_eq!(frame.data, expected);
        let p = parse(&frame.data).unwrap();
        assert_eq!(
            (p.network, p.dst_port, p.payload_len),
            (Network::Ipv6, 53, 2)
        );
    }

    #[test]
    fn a_cut_frame_behind_vlan_tags_or_another_link_header_is_fitted_too() {
        let mut tagged = vec![
            2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x88, 0xa8, 0, 5, 0x81, 0x00,
        ];
        tagged.extend([0, 7, 0x08, 0x00]);
        tagged.extend(ipv4(17, &udp(53, 100)));
        let frame = cut(&pcap(1, 64, &[(tagged.len(), &tagged[..64])]));
        let mut expected = tagged[..64].to_vec();
        expected[24..26].copy_from_slice(&42u16.to_be_bytes());
        expected[46..48].copy_from_slice(&22u16.to_be_bytes());
        assert_eq!(frame.data, expected);
        assert_eq!(parse(&frame.data).unwrap().vlan_tags, 2);

        // Linux cooked v2 (tcpdump -i any -s 64): the 44 bytes of IP kept.
        let packet = ipv4(6, &tcp(40_002, SYN, 20, 0));
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6];
        sll2.extend([2, 0, 0, 0, 0, 2, 0, 0]);
        sll2.extend(&packet);
        let frame = cut(&pcap(276, 64, &[(sll2.len(), &sll2[..64])]));
        let mut expected = as_read(0x0800, &packet[..44]);
        expected[16..18].copy_from_slice(&40u16.to_be_bytes());
        expected[46] = 0x50;
        assert_eq!(frame.data, expected);
        assert_eq!(parse(&frame.data).unwrap().dst_port, 40_002);
    }

    #[test]
    fn a_cut_fragment_after_the_first_has_only_its_ip_length_set() {
        // Offset 8 words: what follows the IP header is data, though it looks like UDP here.
        let frag = ether(0x0800, &ipv4_frag(17, 8, &udp(53, 100)));
        let frame = cut(&pcap(1, 64, &[(frag.len(), &frag[..64])]));
        let mut expected = frag[..64].to_vec();
        expected[16..18].copy_from_slice(&50u16.to_be_bytes());
        assert_eq!(frame.data, expected);
        let p = parse(&frame.data).unwrap();
        assert_eq!((p.fragment_offset, p.transport), (8, Transport::None));
    }

    #[test]
    fn a_first_fragment_that_ends_inside_its_own_options_keeps_the_senders_data_offset() {
        // More fragments; 24 bytes of IP payload where the TCP header claims 40 (a tiny
        // fragment the sender made), cut by the snapshot after 22 of them.
        let mut l4 = tcp(40_000, SYN, 20, 0);
        l4.truncate(24);
        let frag = ether(0x0800, &ipv4_frag(6, 0x2000, &l4));
        let frame = cut(&pcap(1, 56, &[(frag.len(), &frag[..56])]));
        let mut expected = frag[..56].to_vec();
        expected[16..18].copy_from_slice(&42u16.to_be_bytes());
        assert_eq!(frame.data, expected, "the data offset is the sender's");
        assert!(frame.fitted);
        assert_eq!(parse(&frame.data), Err(Malformed::Tcp));
    }

    #[test]
    fn a_frame_cut_only_in_its_padding_is_truncated_but_not_fitted() {
        // 42 bytes of Ethernet, IPv4 and UDP, padded to 60 on the wire; 50 kept.
        let mut padded = ether(0x0800, &ipv4(17, &udp(7, 0)));
        padded.resize(60, 0);
        let frame = cut(&pcap(1, 50, &[(60, &padded[..50])]));
        assert!(!frame.fitted);
        assert_eq!(frame.data, padded[..50]);
        assert_eq!(parse(&frame.data).unwrap().dst_port, 7);
    }

    #[test]
    fn a_frame_cut_inside_its_ip_header_is_left_for_the_parser_to_refuse() {
        let syn = ether(0x0800, &ipv4(6, &tcp(40_000, SYN, 20, 0)));
        let frame = cut(&pcap(1, 30, &[(syn.len(), &syn[..30])]));
        assert!(!frame.fitted);
        assert_eq!(frame.data, syn[..30]);
        assert_eq!(parse(&frame.data), Err(Malformed::Ipv4Header));
    }

    /// A pcapng file: section header, one Ethernet interface, then `packets` as enhanced packet
    /// blocks of (wire length, bytes held).
    fn pcapng(packets: &[(usize, &[u8])]) -> Vec<u8> {
        let mut f = Vec::new();
        // Section header block: magic, version 1.0, section length unknown.
        f.extend(0x0a0d_0d0au32.to_le_bytes());
        f.extend(28u32.to_le_bytes());
        f.extend(0x1a2b_3c4du32.to_le_bytes());
        f.extend(1u16.to_le_bytes());
        f.extend(0u16.to_le_bytes());
        f.extend(u64::MAX.to_le_bytes());
        f.extend(28u32.to_le_bytes());
        // Interface description block: Ethernet, snapshot length 64.
        f.extend(1u32.to_le_bytes());
        f.extend(20u32.to_le_bytes());
        f.extend(1u16.to_le_bytes());
        f.extend(0u16.to_le_bytes());
        f.extend(64u32.to_le_bytes());
        f.extend(20u32.to_le_bytes());
        for (wire, held) in packets {
            let padded = held.len().div_ceil(4) * 4;
            let len = u32::try_from(32 + padded).unwrap();
            f.extend(6u32.to_le_bytes());
            f.extend(len.to_le_bytes());
            f.extend(0u32.to_le_bytes());
            f.extend(0u32.to_le_bytes());
            f.extend(1_000_000u32.to_le_bytes());
            f.extend(u32::try_from(held.len()).unwrap().to_le_bytes());
            f.extend(u32::try_from(*wire).unwrap().to_le_bytes());
            f.extend(*held);
            f.extend(vec![0; padded - held.len()]);
            f.extend(len.to_le_bytes());
        }
        f
    }

    #[test]
    fn pcapng_packets_cut_by_the_snapshot_are_fitted_the_same_way() {
        let syn = ether(0x0800, &ipv4(6, &tcp(40_000, SYN, 20, 0)));
        let rst = ether(0x0800, &ipv4(6, &tcp(40_000, 0x04, 0, 0)));
        let (frames, _) = read(&pcapng(&[(syn.len(), &syn[..64]), whole(&rst)]));
        let mut fitted = syn[..64].to_vec();
        fitted[16..18].copy_from_slice(&40u16.to_be_bytes());
        fitted[46] = 0x50;
        assert_eq!(
            frames,
            [
                Frame {
                    ts_ns: 1_000_000_000,
                    data: fitted,
                    truncated: true,
                    fitted: true,
                },
                Frame {
                    ts_ns: 1_000_000_000,
                    data: rst,
                    truncated: false,
                    fitted: false,
                },
            ]
        );
    }
}
