//! Unit tests of the built-in data's integrity and of the reader's details. The table-driven
//! check of every FAQ fact is in `tests/knowledge_faq.rs`.

use std::path::Path;

use super::*;

fn no_services() -> Knowledge {
    Knowledge::new(Services::empty())
}

#[test]
fn builtin_file_parses() {
    let t = builtin_tables();
    assert!(t.ports.len() > 100, "only {} port entries", t.ports.len());
    assert_eq!(t.classes.len(), 6);
    assert_eq!(t.caveats.len(), 3);
}

#[test]
fn every_range_class_has_both_directions() {
    let t = builtin_tables();
    for class in [
        RangeClass::WellKnown,
        RangeClass::Registered,
        RangeClass::Dynamic,
    ] {
        for dir in [Direction::Destination, Direction::Source] {
            assert!(
                t.classes
                    .iter()
                    .any(|c| c.class == class && c.direction == dir),
                "{class} {dir:?} missing"
            );
        }
    }
}

/// Two entries that could both answer a lookup and rank the same would make the answer depend
/// on file order. There must be none.
#[test]
fn no_two_builtin_port_entries_tie() {
    let ports = &builtin_tables().ports;
    for (i, a) in ports.iter().enumerate() {
        for b in &ports[i + 1..] {
            let protos_meet =
                a.proto == Protos::Both || b.proto == Protos::Both || a.proto == b.proto;
            let dirs_meet = a.direction == Applies::Either
                || b.direction == Applies::Either
                || a.direction == b.direction;
            let same_rank = a.ports.width() == b.ports.width()
                && (a.proto == Protos::Both) == (b.proto == Protos::Both)
                && (a.direction == Applies::Either) == (b.direction == Applies::Either);
            assert!(
                !(a.ports.overlaps(b.ports) && protos_meet && dirs_meet && same_rank),
                "{} {:?} {:?} ties with {} {:?} {:?}",
                a.ports,
                a.proto,
                a.direction,
                b.ports,
                b.proto,
                b.direction
            );
        }
    }
}

#[test]
fn builtin_texts_are_well_formed() {
    let k = no_services();
    for entry in k.list() {
        let info = entry.info();
        let key = entry.key();
        assert!(!info.name.is_empty(), "{key}: empty name");
        assert!(!info.meaning.contains('\n'), "{key}: meaning spans lines");
        assert!(
            info.meaning.len() <= 110,
            "{key}: meaning too long for one line"
        );
        assert!(
            info.explanation.len() > info.meaning.len() / 2,
            "{key}: thin explanation"
        );
        assert!(info.faq.is_some(), "{key}: no FAQ section");
        assert!(
            matches!(info.basis, Basis::Faq | Basis::General),
            "{key}: basis"
        );
        assert!(
            !info.explanation.contains("  "),
            "{key}: double space in explanation"
        );
    }
}

/// Sections the FAQ's surviving text lacks must say they were written from general knowledge.
#[test]
fn missing_sections_are_marked_general() {
    let k = no_services();
    for entry in k.list() {
        let info = entry.info();
        let faq = info.faq.as_deref().unwrap_or_default();
        let first = faq.split(',').next().unwrap_or_default().trim();
        let section = first.split('.').next().unwrap_or_default();
        if matches!(section, "3" | "5" | "9" | "10") && !matches!(entry, Listed::Port(_)) {
            assert_eq!(info.basis, Basis::General, "{} cites {faq}", entry.key());
        }
    }
}

#[test]
fn missing_field_is_reported_on_the_entry_header_line() {
    let err = no_services()
        .with_overrides(
            Path::new("k.toml"),
            "# first\n\n[[port]]\nport = 40001\nproto = \"tcp\"\ndirection = \"destination\"\nname = \"x\"\n",
        )
        .unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert_eq!(err.field(), Some("port[1].category"));
}

#[test]
fn replaced_builtin_entry_keeps_its_place_and_other_fields() {
    let k = no_services()
        .with_overrides(
            Path::new("k.toml"),
            "[[port]]\nport = 137\nproto = \"udp\"\ndirection = \"either\"\nlevel = \"notable\"\n",
        )
        .unwrap();
    assert!(k.added.ports.is_empty());
    let m = k.port(137, Proto::Udp, Direction::Destination);
    assert_eq!(m.level, Level::Notable);
    assert_eq!(m.name, "NetBIOS name service");
    assert_eq!(m.basis, Basis::Override);
    assert_eq!(m.faq.as_deref(), Some("1.1, 10"));
}
