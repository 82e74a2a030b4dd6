//! Reading capture files (pcap and pcapng) for the replay: one frame at a time, timestamps in
//! nanoseconds, every frame as Ethernet whatever the link type it was captured on.

use std::{fs::File, path::Path};

use pcap_parser::{
    Block, PcapBlockOwned, PcapError, create_reader,
    pcapng::{EnhancedPacketBlock, InterfaceDescriptionBlock},
    traits::PcapReaderIterator,
};

/// Read buffer: large enough for any frame a capture can hold.
const BUFFER: usize = 1 << 20;

/// Link types the replay understands (tcpdump's numbering).
const ETHERNET: i32 = 1;
const RAW: i32 = 101;
const LINUX_SLL: i32 = 113;
const IPV4: i32 = 228;
const IPV6: i32 = 229;

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
}

struct Interface {
    linktype: i32,
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
    /// Link type and nanosecond flag of a legacy pcap file.
    legacy: Option<(i32, bool)>,
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
                self.legacy = Some((h.network.0, h.is_nanosecond_precision()));
                Ok(None)
            }
            PcapBlockOwned::Legacy(b) => {
                let (linktype, nanos) = self.legacy.unwrap_or((ETHERNET, false));
                let frac = u64::from(b.ts_usec) * if nanos { 1 } else { 1000 };
                let ts_ns = u64::from(b.ts_sec) * 1_000_000_000 + frac;
                Ok(self.ethernet(linktype, b.data, ts_ns))
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
                let linktype = self.interfaces.first().map_or(ETHERNET, |i| i.linktype);
                Ok(self.ethernet(linktype, spb.data, 0))
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
        let linktype = iface.linktype;
        Ok(self.ethernet(linktype, &epb.data[..len], ts_ns))
    }

    /// The frame as Ethernet, or `None` (counted) for a link type the replay does not read.
    fn ethernet(&mut self, linktype: i32, data: &[u8], ts_ns: u64) -> Option<Frame> {
        let data = match linktype {
            ETHERNET => data.to_vec(),
            RAW | IPV4 | IPV6 => {
                let ether_type: u16 = match data.first().map(|b| b >> 4) {
                    Some(6) => 0x86dd,
                    _ => 0x0800,
                };
                synthetic(ether_type, data)
            }
            LINUX_SLL if data.len() >= 16 => {
                synthetic(u16::from_be_bytes([data[14], data[15]]), &data[16..])
            }
            _ => {
                self.skipped_link_types += 1;
                return None;
            }
        };
        Some(Frame { ts_ns, data })
    }
}

/// An Ethernet header with zero addresses and `ether_type`, then `payload`.
fn synthetic(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&[0; 12]);
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn interface(idb: &InterfaceDescriptionBlock<'_>) -> Interface {
    Interface {
        linktype: idb.linktype.0,
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
pub(crate) mod tests {
    use super::*;

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
                data: vec![0xaa; 20]
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
}
