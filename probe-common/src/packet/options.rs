//! IPv4 options, copied by the parser and walked on demand.

use super::{Malformed, ip_option};

/// Where an IPv4 header's options are in the frame. The parser records this and copies nothing:
/// counting never needs the options, and a copy on every packet would cost stack and time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OptionsSpan {
    /// Offset of the first option byte from the start of the frame (0 when there are none).
    pub offset: u16,
    /// Bytes of options: a multiple of four, at most 40.
    pub len: u8,
}

/// The options area of an IPv4 header: `len` bytes (a multiple of four, at most 40) in `bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpOptions {
    pub len: u8,
    pub bytes: [u8; 40],
}

impl Default for IpOptions {
    fn default() -> Self {
        Self {
            len: 0,
            bytes: [0; 40],
        }
    }
}

impl IpOptions {
    /// The options as a slice.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(self.bytes.len())]
    }

    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Walks the options (RFC 791 §3.1) and returns the option numbers present as bits of
    /// [`ip_option`]. End-of-list stops the walk; an option whose length is below 2 or runs past
    /// the area is [`Malformed::Ipv4Options`].
    pub fn kinds(&self) -> Result<u32, Malformed> {
        let area = self.as_bytes();
        let mut seen = 0u32;
        let mut pos = 0;
        while let Some(&kind) = area.get(pos) {
            match kind {
                0 => {
                    seen |= ip_option::END;
                    break;
                }
                1 => {
                    seen |= ip_option::NOP;
                    pos += 1;
                }
                _ => {
                    let len = usize::from(*area.get(pos + 1).ok_or(Malformed::Ipv4Options)?);
                    if len < 2 || pos + len > area.len() {
                        return Err(Malformed::Ipv4Options);
                    }
                    seen |= 1 << (kind & 0x1f);
                    pos += len;
                }
            }
        }
        Ok(seen)
    }
}
