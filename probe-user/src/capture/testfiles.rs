//! Frames and capture files built field by field, for the reader's and the replay's tests.

pub(crate) const SRC4: [u8; 4] = [198, 18, 0, 2];
pub(crate) const DST4: [u8; 4] = [198, 18, 0, 1];
pub(crate) const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
pub(crate) const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub(crate) const SYN: u8 = 0x02;

/// An IPv4 header (no options, `frag` as the flags-and-offset field), then `l4`.
pub(crate) fn ipv4_frag(protocol: u8, frag: u16, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, 0];
    p.extend(u16::try_from(20 + l4.len()).unwrap().to_be_bytes());
    p.extend([0x12, 0x34]);
    p.extend(frag.to_be_bytes());
    p.extend([64, protocol, 0, 0]);
    p.extend(SRC4);
    p.extend(DST4);
    p.extend(l4);
    p
}

pub(crate) fn ipv4(protocol: u8, l4: &[u8]) -> Vec<u8> {
    ipv4_frag(protocol, 0, l4)
}

pub(crate) fn ipv6(next: u8, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend(u16::try_from(l4.len()).unwrap().to_be_bytes());
    p.extend([next, 64]);
    p.extend(SRC6);
    p.extend(DST6);
    p.extend(l4);
    p
}

/// A TCP header from port 50000 with `options` bytes of NOP options, then `payload` bytes.
pub(crate) fn tcp(dport: u16, flags: u8, options: usize, payload: usize) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(50_000u16.to_be_bytes());
    t.extend(dport.to_be_bytes());
    t.extend([0, 0, 0, 1, 0, 0, 0, 0]);
    t.push(u8::try_from((20 + options) / 4).unwrap() << 4);
    t.push(flags);
    t.extend(1024u16.to_be_bytes());
    t.extend([0; 4]);
    t.extend(vec![1; options]);
    t.extend(vec![0x61; payload]);
    t
}

/// A UDP header from port 1001, then `payload` bytes.
pub(crate) fn udp(dport: u16, payload: usize) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend(1001u16.to_be_bytes());
    u.extend(dport.to_be_bytes());
    u.extend(u16::try_from(8 + payload).unwrap().to_be_bytes());
    u.extend([0, 0]);
    u.extend(vec![0x62; payload]);
    u
}

/// An Ethernet frame from 02:00:00:00:00:02 to 02:00:00:00:00:01.
pub(crate) fn ether(ether_type: u16, packet: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    f.extend(ether_type.to_be_bytes());
    f.extend(packet);
    f
}

/// A legacy pcap file: little-endian, microseconds, `field` as the link-type field, the
/// snapshot length `snap`; record `i` (from 0) at second `i + 1`, each given as (wire length,
/// bytes held).
pub(crate) fn pcap(field: u32, snap: u32, records: &[(usize, &[u8])]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(0xa1b2_c3d4u32.to_le_bytes());
    f.extend(2u16.to_le_bytes());
    f.extend(4u16.to_le_bytes());
    f.extend([0; 8]);
    f.extend(snap.to_le_bytes());
    f.extend(field.to_le_bytes());
    for (i, (wire, held)) in records.iter().enumerate() {
        f.extend(u32::try_from(i + 1).unwrap().to_le_bytes());
        f.extend(0u32.to_le_bytes());
        f.extend(u32::try_from(held.len()).unwrap().to_le_bytes());
        f.extend(u32::try_from(*wire).unwrap().to_le_bytes());
        f.extend(*held);
    }
    f
}

/// A whole frame's record.
pub(crate) fn whole(frame: &[u8]) -> (usize, &[u8]) {
    (frame.len(), frame)
}
