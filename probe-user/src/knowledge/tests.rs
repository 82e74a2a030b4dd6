//! Unit tests of the built-in data's integrity and of the reader's details. The table-driven
//! checks of every FAQ fact and every modern port are in `tests/knowledge_faq.rs` and
//! `tests/knowledge_modern.rs`.

use std::path::Path;

use super::*;

fn no_services() -> Knowledge {
    Knowledge::new(Services::empty())
}

#[test]
fn builtin_files_parse() {
    let t = &builtin_tables().faq;
    assert!(t.ports.len() > 100, "only {} port entries", t.ports.len());
    assert_eq!(t.classes.len(), 6);
    assert_eq!(t.caveats.len(), 3);
    // The modern table holds ports only: 45 entries.
    let m = &builtin_tables().modern;
    assert_eq!(m.ports.len(), 45);
    assert_eq!(
        (
            m.icmp.len(),
            m.classes.len(),
            m.caveats.len(),
            m.addresses.len(),
            m.signatures.len(),
            m.topics.len()
        ),
        (0, 0, 0, 0, 0, 0)
    );
}

#[test]
fn every_range_class_has_both_directions() {
    let t = &builtin_tables().faq;
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

/// Two entries of one table that could both answer a lookup and rank the same would make the
/// answer depend on file order. There must be none. (Between the two tables the level decides,
/// then the modern table: no order is involved.)
#[test]
fn no_two_builtin_port_entries_tie() {
    for ports in [&builtin_tables().faq.ports, &builtin_tables().modern.ports] {
        no_ties(ports);
    }
}

fn no_ties(ports: &[PortEntry]) {
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
        // Every entry cites what it rests on: the FAQ's a section, the modern table's reports.
        match info.basis {
            Basis::Faq | Basis::General => assert!(info.faq.is_some(), "{key}: no FAQ section"),
            Basis::Modern => assert!(info.source.is_some(), "{key}: no source"),
            other => panic!("{key}: basis {other}"),
        }
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

/// The reader holds each built-in table to its own basis and citation.
#[test]
fn each_builtin_table_requires_its_basis_and_citation() {
    let entry = |extra: &str| {
        format!(
            "[[port]]\nport = 40001\nproto = \"tcp\"\ndirection = \"destination\"\nname = \"x\"\n\
             category = \"web\"\nlevel = \"notable\"\nmeaning = \"m\"\nexplanation = \"e\"\n{extra}"
        )
    };
    let parse = |table: Table, text: &str| {
        data::parse(Path::new("t.toml"), text, Mode::Builtin(table), &mut [])
            .map(|t| t.ports.len())
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        parse(
            Table::Modern,
            &entry("basis = \"modern\"\nsource = \"RFC 9110\"\n")
        ),
        Ok(1)
    );
    assert_eq!(
        parse(Table::Modern, &entry("basis = \"modern\"\n")),
        Err(
            "t.toml:1: port[1].source: missing; every entry of the modern table names its reports"
                .to_owned()
        )
    );
    assert_eq!(
        parse(
            Table::Modern,
            &entry("basis = \"faq\"\nfaq = \"1\"\nsource = \"x\"\n")
        ),
        Err(
            "t.toml:1: port[1].basis: built-in entries of the modern table are `modern`".to_owned()
        )
    );
    assert_eq!(
        parse(Table::Faq, &entry("basis = \"modern\"\nsource = \"x\"\n")),
        Err(
            "t.toml:1: port[1].basis: built-in entries of the FAQ's table are `faq` or `general`"
                .to_owned()
        )
    );
    assert_eq!(
        parse(Table::Faq, &entry("basis = \"faq\"\nsource = \"x\"\n")),
        Err("t.toml:1: port[1].faq: missing; every built-in entry needs it".to_owned())
    );
}

/// An override whose key both tables have replaces both entries; the user has the last word.
#[test]
fn an_override_replaces_the_key_in_both_tables() {
    let k = no_services()
        .with_overrides(
            Path::new("k.toml"),
            "[[port]]\nport = 23\nproto = \"tcp\"\ndirection = \"destination\"\nlevel = \"benign\"\n",
        )
        .unwrap();
    assert!(k.added.ports.is_empty());
    let answers = k.port_answers(23, Proto::Tcp, Direction::Destination);
    let got: Vec<_> = answers
        .iter()
        .map(|m| (m.level, m.basis, m.faq.as_deref(), m.source.is_some()))
        .collect();
    // Both keep their own other fields: the modern one its reports, the FAQ's its section.
    assert_eq!(
        got,
        [
            (Level::Benign, Basis::Override, None, true),
            (Level::Benign, Basis::Override, Some("1.1"), false),
        ]
    );
}
