//! Arbitrary text as a `--knowledge FILE` over the built-in tables, and as a services file.
//! Nothing may panic. A refused file gets one line naming the file and a line inside it; an
//! accepted one answers for every entry it holds, and every answer serializes.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use probe_user::knowledge::{Basis, Direction, IcmpFamily, Knowledge, Listed, Proto, Services};

/// What the file is called in messages.
const NAME: &str = "fuzz.toml";

fuzz_target!(|bytes: &[u8]| {
    // Lossy rather than skipping invalid UTF-8: every input then reaches the parsers.
    let text = String::from_utf8_lossy(bytes);
    let services = Services::parse(&text);
    assert!(services.len() <= text.lines().count());
    knowledge_file(&text, services);
});

fn knowledge_file(text: &str, services: Services) {
    let k = match Knowledge::new(Services::empty()).with_overrides(Path::new(NAME), text) {
        Ok(k) => k,
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with(&format!("{NAME}:")), "{message}");
            assert!(
                !message.contains('\n'),
                "a refusal must be one line: {message:?}"
            );
            let line = e.line().expect("a refusal of text names a line");
            // A problem at the very end may sit on the line after the last newline.
            assert!(
                (1..=text.split('\n').count()).contains(&line),
                "line {line}: {message}"
            );
            return;
        }
    };
    // Only the user's entries: the built-in ones are covered by the unit tests.
    for listed in k.list() {
        if listed.info().basis != Basis::Override {
            continue;
        }
        let _ = listed.key();
        json(&listed.answer());
        found_again(&k, listed);
    }
    // The service names answer ports no entry covers.
    let k = k.with_services(services);
    for port in [0, 1, 7, 1023, 1024, 49151, 49152, u16::MAX] {
        for proto in [Proto::Tcp, Proto::Udp] {
            for direction in [Direction::Destination, Direction::Source] {
                json(&k.port(port, proto, direction));
            }
        }
    }
}

/// Looks the entry up by its own key: whatever was loaded can be asked about.
fn found_again(k: &Knowledge, listed: Listed<'_>) {
    match listed {
        Listed::Port(e) => {
            for proto in [Proto::Tcp, Proto::Udp] {
                for direction in [Direction::Destination, Direction::Source] {
                    if e.proto.covers(proto) && e.direction.covers(direction) {
                        for port in [e.ports.lo, e.ports.hi] {
                            assert!(k.port_entry(port, proto, direction).is_some());
                            json(&k.port(port, proto, direction));
                        }
                    }
                }
            }
        }
        Listed::Icmp(e) => {
            assert!(k.icmp_entry(e.family, e.icmp_type, e.code).is_some());
            json(&k.icmp(e.family, e.icmp_type, e.code.unwrap_or(0)));
            json(&k.icmp_type(e.family, e.icmp_type));
            let other = match e.family {
                IcmpFamily::V4 => IcmpFamily::V6,
                IcmpFamily::V6 => IcmpFamily::V4,
            };
            json(&k.icmp_type(other, e.icmp_type));
        }
        Listed::Address(e) => {
            assert!(k.address(e.cidr.network()).is_some());
        }
        Listed::Signature(e) => {
            assert!(k.first_bytes(e.bytes.as_bytes()).is_some());
        }
        Listed::Topic(e) => {
            assert!(k.topic(&e.id).is_some());
        }
        Listed::Class(_) => {}
    }
}

fn json(value: &impl serde::Serialize) {
    serde_json::to_string(value).expect("every answer serializes");
}
