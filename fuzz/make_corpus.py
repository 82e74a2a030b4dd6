#!/usr/bin/env python3
"""Writes the seed corpus in fuzz/corpus/<target>/: small real inputs the fuzzer mutates from.

Deterministic (no timestamps, no randomness): running it again rewrites the same bytes, so the
committed corpus can be checked with `python3 fuzz/make_corpus.py && git status fuzz/corpus`.
Standard library only.
"""

import json
import struct
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"

MAC_DST = bytes.fromhex("020000000002")
MAC_SRC = bytes.fromhex("020000000001")
V4_SRC = bytes([198, 18, 0, 7])
V4_DST = bytes([192, 0, 2, 10])
V6_SRC = bytes.fromhex("20010db8000000000000000000000007")
V6_DST = bytes.fromhex("20010db800000000000000000000000a")


def ethernet(ether_type, payload, tags=()):
    """An Ethernet header, optional VLAN tags given as (tpid, vid), then the payload."""
    head = MAC_DST + MAC_SRC
    for tpid, vid in tags:
        head += struct.pack("!HH", tpid, vid)
    return head + struct.pack("!H", ether_type) + payload


def ipv4(proto, payload, options=b"", ident=0x1234, frag=0x4000, ttl=64, total=None):
    """IPv4 with `options` (padded to whole words); `frag` is flags and offset; no checksum."""
    options += b"\x00" * (-len(options) % 4)
    ihl = 5 + len(options) // 4
    if total is None:
        total = ihl * 4 + len(payload)
    head = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, ident, frag, ttl, proto, 0,
                       V4_SRC, V4_DST)
    return head + options + payload


def ipv6(next_header, payload, hop_limit=64):
    head = struct.pack("!IHBB16s16s", 6 << 28, len(payload), next_header, hop_limit, V6_SRC,
                       V6_DST)
    return head + payload


def tcp(sport, dport, flags, options=b"", data=b"", window=64240):
    options += b"\x01" * (-len(options) % 4)
    doff = 5 + len(options) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, doff << 4, flags, window, 0, 0) \
        + options + data


def udp(sport, dport, data=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def icmp(kind, code, data=b""):
    return struct.pack("!BBHHH", kind, code, 0, 0x77, 1) + data


SYN, ACK, PSH = 0x02, 0x10, 0x08
MSS = b"\x02\x04\x05\xb4"


def frames():
    """Named Ethernet frames covering each path of the parser."""
    syn = tcp(40000, 22, SYN, MSS)
    out = {
        "ipv4_tcp_syn": ethernet(0x0800, ipv4(6, syn)),
        "ipv4_tcp_ack_data": ethernet(0x0800, ipv4(6, tcp(40000, 80, ACK | PSH,
                                                          data=b"GET / HTTP/1.0\r\n\r\n"))),
        # Record route (7), router alert (148), NOP, end of list.
        "ipv4_options_udp": ethernet(0x0800, ipv4(17, udp(5000, 161, b"\x30\x00"),
                                                  options=bytes([7, 7, 4]) + bytes(4)
                                                  + bytes([148, 4, 0, 0, 1, 0]))),
        # An option whose length runs past the options area.
        "ipv4_options_bad": ethernet(0x0800, ipv4(6, syn, options=bytes([131, 40, 4, 0]))),
        "ipv4_udp_dns": ethernet(0x0800, ipv4(17, udp(53000, 53, bytes.fromhex(
            "abcd01000001000000000000076578616d706c6503636f6d0000010001")))),
        "ipv4_icmp_echo": ethernet(0x0800, ipv4(1, icmp(8, 0, b"ping" * 4), ttl=3)),
        # Second fragment of a datagram: no transport header.
        "ipv4_fragment_later": ethernet(0x0800, ipv4(17, b"\x00" * 24, frag=185)),
        # First fragment, more to come: UDP length describes the whole datagram.
        "ipv4_fragment_first": ethernet(0x0800, ipv4(17, struct.pack("!HHHH", 5000, 9999, 3000,
                                                                     0) + b"x" * 16,
                                                     frag=0x2000)),
        "vlan_ipv4_tcp": ethernet(0x0800, ipv4(6, syn), tags=[(0x8100, 10)]),
        "qinq_ipv6_tcp": ethernet(0x86dd, ipv6(6, tcp(40000, 443, SYN)),
                                  tags=[(0x88a8, 100), (0x8100, 10)]),
        # Hop-by-hop (PadN), destination options (PadN), then UDP.
        "ipv6_udp_ext_headers": ethernet(0x86dd, ipv6(0, bytes([60, 0, 1, 4, 0, 0, 0, 0])
                                                      + bytes([17, 0, 1, 4, 0, 0, 0, 0])
                                                      + udp(546, 547, b"\x01\x00\x00\x01"))),
        # Routing header type 0, then a fragment header (offset 0, more to come), then UDP.
        "ipv6_route_fragment_udp": ethernet(0x86dd, ipv6(43, bytes([44, 0, 0, 0, 0, 0, 0, 0])
                                                         + struct.pack("!BBHI", 17, 0, 1, 0xbeef)
                                                         + udp(7000, 7001, b"abcd"))),
        "ipv6_fragment_later": ethernet(0x86dd, ipv6(44, struct.pack("!BBHI", 17, 0, 100 << 3,
                                                                     0xbeef) + b"\x00" * 16)),
        "ipv6_icmpv6_echo": ethernet(0x86dd, ipv6(58, icmp(128, 0, b"echo"))),
        "ipv6_no_next_header": ethernet(0x86dd, ipv6(59, b"")),
        "arp": ethernet(0x0806, bytes.fromhex("0001080006040001") + MAC_SRC + V4_SRC
                        + bytes(6) + V4_DST),
        # The IP header claims more than the frame holds.
        "truncated_tcp": ethernet(0x0800, ipv4(6, syn, total=60))[:40],
        "truncated_ethernet": ethernet(0x8100, b"")[:13],
    }
    return out


def pcap(records, linktype=1, nanos=False, big_endian=False):
    """A legacy pcap file: header, then (ts_sec, ts_frac, data) records."""
    end = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = struct.pack(end + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for sec, frac, data in records:
        out += struct.pack(end + "IIII", sec, frac, len(data), len(data)) + data
    return out


def ng_block(kind, body):
    body += b"\x00" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def pcapng(packets):
    """SHB, an Ethernet IDB with microsecond resolution, EPBs, then one SPB."""
    shb = ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    # if_tsresol = 6 (microseconds), then end of options.
    idb = ng_block(1, struct.pack("<HHI", 1, 0, 65535) + struct.pack("<HHB", 9, 1, 6) + bytes(3)
                   + bytes(4))
    out = shb + idb
    for ticks, data in packets:
        data_padded = data + b"\x00" * (-len(data) % 4)
        out += ng_block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data),
                                       len(data)) + data_padded)
    last = packets[-1][1]
    out += ng_block(3, struct.pack("<I", len(last)) + last)
    return out


def captures(f):
    syn, dns = f["ipv4_tcp_syn"], f["ipv4_udp_dns"]
    v6 = f["ipv6_udp_ext_headers"]
    raw_ip = [(1, 0, syn[14:]), (1, 500, v6[14:])]
    # Linux cooked capture: 16-byte header whose last two bytes are the protocol.
    sll = struct.pack("!HHH8sH", 0, 1, 6, MAC_SRC + b"\x00\x00", 0x0800)
    return {
        "tiny.pcap": pcap([(1700000000, 250000, syn), (1700000001, 0, dns)]),
        "nanos_big_endian.pcap": pcap([(1700000000, 123456789, v6)], nanos=True,
                                      big_endian=True),
        "raw_ip.pcap": pcap(raw_ip, linktype=101),
        "linux_sll.pcap": pcap([(5, 0, sll + syn[14:])], linktype=113),
        "other_linktype.pcap": pcap([(5, 0, b"\x00" * 20)], linktype=147),
        "cut_short.pcap": pcap([(1, 0, syn), (2, 0, dns)])[:-10],
        "tiny.pcapng": pcapng([(1700000000_000000, syn), (1700000000_500000, v6)]),
        # A packet naming interface 0 before any interface was described.
        "no_interface.pcapng": ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
        + ng_block(6, struct.pack("<IIIII", 0, 0, 1, 4, 4) + b"abcd"),
    }


def requests():
    """Request bodies (the whole input goes to decode_request) and framed streams (the first
    byte picks the read size, the rest goes to frame::read)."""
    bodies = {
        "stats": {"version": 1, "query": "stats"},
        "ports": {"version": 1, "query": "ports", "proto": "udp", "source": True, "top": 5},
        "icmp": {"version": 1, "query": "icmp", "top": 10},
        "flags": {"version": 1, "query": "flags"},
        "findings": {"version": 1, "query": "findings", "since_ns": 1700000000000000000,
                     "kind": "port_scan"},
        "version_2": {"version": 2, "query": "stats"},
        "no_version": {"query": "stats"},
        "unknown_query": {"version": 1, "query": "everything"},
        "bad_field": {"version": 1, "query": "ports", "proto": "sctp"},
    }
    out = {name: json.dumps(body, separators=(",", ":")).encode() for name, body in bodies.items()}
    out["not_json"] = b"GET / HTTP/1.1\r\n\r\n"

    def framed(*bodies):
        return b"".join(struct.pack("!I", len(b)) + b for b in bodies)

    out["stream_two_frames"] = b"\x03" + framed(out["stats"], out["ports"])
    out["stream_truncated"] = b"\x00" + framed(out["icmp"])[:-5]
    out["stream_oversized"] = b"\x01" + struct.pack("!I", 65537) + b"{}"
    out["stream_partial_header"] = b"\x02" + framed(out["flags"]) + b"\x00\x00"
    return out


LAB_TOML = '''\
# lab.toml: one entry of every kind

[[port]]
port = 4444
proto = "tcp"
direction = "destination"
name = "Lab shell"
category = "backdoor"
level = "hostile"
meaning = "The red team's listener."
explanation = """
Reverse shells during exercises.

Anything else here is an intruder."""

# Changes one field of a built-in entry.
[[port]]
port = 137
proto = "udp"
direction = "either"
level = "notable"

[[port]]
ports = "40000-40100"
proto = "both"
direction = "source"
name = "Media relay"
category = "streaming"
level = "benign"
meaning = "The conference system's media relay."
faq = "1.1"

[[icmp]]
family = "v4"
type = 8
level = "notable"

[[icmp]]
family = "v6"
type = 200
code = 1
name = "Lab probe"
category = "diagnostic"
level = "benign"
meaning = "Our monitoring's own ICMPv6 probe."

[[class]]
class = "dynamic"
direction = "source"
level = "benign"

[[caveat]]
ports = "8000-8999"
text = "Our web farm listens in this range."

[[address]]
cidr = "192.168.77.0/24"
name = "Lab net"
category = "address"
level = "benign"
meaning = "The lab's own subnet."

[[address]]
cidr = "2001:db8:77::/48"
name = "Lab net v6"
category = "address"
level = "benign"
meaning = "The lab's own IPv6 prefix."

[[signature]]
bytes = "LAB1"
name = "Lab beacon"
category = "diagnostic"
level = "benign"
meaning = "Our beacon opens with LAB1."

[[topic]]
id = "lab-exercise"
name = "Lab exercise"
category = "attack"
level = "hostile"
meaning = "Red-team exercises run on Tuesdays."
'''


def knowledge():
    return {
        "lab.toml": LAB_TOML,
        "bad_level.toml": '[[port]]\nport = 4444\nproto = "tcp"\ndirection = "destination"\n'
                          'name = "x"\ncategory = "backdoor"\nlevel = "hostle"\nmeaning = "x"\n',
        "backwards_range.toml": '[[port]]\nports = "90-80"\nproto = "udp"\n'
                                'direction = "either"\nlevel = "benign"\n',
        "duplicate_key.toml": '[[topic]]\nid = "smurf"\nlevel = "hostile"\n'
                              '[[topic]]\nid = "smurf"\nlevel = "benign"\n',
        "not_toml.toml": "[[port]\nport = = 1\n",
        # Read by Services::parse as well as the knowledge loader.
        "services": "# name port/proto aliases\nssh 22/tcp\ndomain 53/udp\ndomain 53/tcp\n"
                    "weird 70000/tcp\nnoproto 1\nlab-shell 4444/tcp shell # comment\n",
    }


def write(target, files):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if isinstance(data, str):
            data = data.encode()
        (directory / name).write_bytes(data)


def main():
    f = frames()
    write("parse_frame", f)
    write("capture_reader", captures(f))
    write("query_request", requests())
    write("knowledge_file", knowledge())
    files = [p for p in CORPUS.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    print(f"{len(files)} files, {size} bytes in {CORPUS}")


if __name__ == "__main__":
    main()
