//! `probe top` without a terminal or a daemon: the state built from answers a real daemon gave
//! in the lab (testdata/, two refreshes a second apart while hping3 sent 12 SYNs a second to
//! 31337 and 6 datagrams a second to 7777/udp, after an nmap scan of ports 20-140), keys as
//! transitions of that state, and screens drawn on ratatui's TestBackend against snapshot
//! files (snapshots/).

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::{Terminal, backend::TestBackend, style::Color};
use serde_json::Value;

use super::{
    App, Link, Overlay, Pane, Target,
    feed::{Answers, Trouble},
    keys, view,
};
use crate::query::protocol::Proto;

/// The wall-clock time of the first recorded refresh: 2026-12-05T02:09:40Z, six seconds after
/// the newest finding's last contact.
const WALL: u64 = 1_796_436_580_000_000_000;
const SECOND: u64 = 1_000_000_000;

fn field<T: serde::de::DeserializeOwned>(v: &Value, name: &str) -> T {
    serde_json::from_value(v[name].clone()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Recorded refresh `n` (1 or 2), at second `n` of the feed.
fn recorded(n: u64) -> Answers {
    let text = match n {
        1 => include_str!("testdata/answers-1.json"),
        _ => include_str!("testdata/answers-2.json"),
    };
    let v: Value = serde_json::from_str(text).unwrap();
    Answers {
        at: Duration::from_secs(n),
        wall_ns: WALL + (n - 1) * SECOND,
        stats: field(&v, "stats"),
        ports: field(&v, "ports"),
        sources: field(&v, "sources"),
        icmp: field(&v, "icmp"),
        findings: field(&v, "findings"),
        findings_since_ns: None,
        port: Some(field(&v, "port")),
    }
}

/// Refresh 2 again at second `n`, the traffic going on as it was: 12 more SYNs to 31337 and
/// 6 more datagrams to 7777/udp each second.
fn continued(n: u64) -> Answers {
    let mut a = recorded(2);
    let more = n - 2;
    a.at = Duration::from_secs(n);
    a.wall_ns = WALL + (n - 1) * SECOND;
    for r in &mut a.ports {
        match r.port {
            31_337 => {
                r.packets += 12 * more;
                r.syn += 12 * more;
            }
            7777 => r.packets += 6 * more,
            _ => {}
        }
    }
    a.stats.packets += 18 * more;
    a.stats.bytes += 900 * more;
    a
}

/// The state after both recorded refreshes.
fn app() -> App {
    let mut app = App::new("/run/probe/probe.sock".into(), Duration::from_secs(1), true);
    app.absorb(Ok(recorded(1)));
    app.absorb(Ok(recorded(2)));
    app
}

fn press(app: &mut App, code: KeyCode) {
    keys::handle(app, KeyEvent::new(code, KeyModifiers::NONE));
}

fn screen(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app)).unwrap();
    terminal
}

/// The screen's text, one string per line.
fn lines(terminal: &Terminal<TestBackend>) -> Vec<String> {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

// ---- answers and rates ----

#[test]
fn rates_are_the_difference_of_two_answers_over_the_time_between() {
    let app = app();
    assert_eq!(app.link, Link::Live);
    assert_eq!(app.data.packet_rate, Some(18.0));
    assert_eq!(app.data.byte_rate, Some(900.0));
    let ports: Vec<(u16, Proto, Option<f64>, u64)> = app
        .port_rows()
        .iter()
        .take(3)
        .map(|l| (l.row.port, l.row.proto, l.rate, l.row.packets))
        .collect();
    assert_eq!(
        ports,
        [
            (31_337, Proto::Tcp, Some(12.0), 72),
            (7777, Proto::Udp, Some(6.0), 21),
            (53, Proto::Udp, Some(0.0), 3),
        ]
    );
    let sources: Vec<(&str, Option<f64>)> = app
        .source_rows()
        .iter()
        .map(|l| (l.row.src.as_str(), l.rate))
        .collect();
    assert_eq!(
        sources,
        [("198.18.0.2", Some(19.0)), ("2001:db8::2", Some(0.0))]
    );
    assert_eq!(
        app.data.history[&(31_337, Proto::Tcp)],
        [12.0],
        "one rate so far"
    );
}

#[test]
fn one_source_seen_on_two_interfaces_has_a_row_and_a_rate_on_each() {
    // A daemon watching two interfaces: the attacker's row once per interface, its counts
    // apart, as the daemon answers them.
    let on_two = |n: u64, first: u64, second: u64| {
        let mut a = recorded(n);
        let row = a.sources[0].row.clone();
        a.sources = vec![
            crate::query::answer::SourceEntry {
                row: crate::sources::SourceRow {
                    packets: first,
                    ..row.clone()
                },
                iface: Some("eth0".to_owned()),
            },
            crate::query::answer::SourceEntry {
                row: crate::sources::SourceRow {
                    packets: second,
                    ..row
                },
                iface: Some("eth1".to_owned()),
            },
        ];
        a
    };
    let mut app = App::new("/run/probe/probe.sock".into(), Duration::from_secs(1), true);
    app.absorb(Ok(on_two(1, 100, 40)));
    app.absorb(Ok(on_two(2, 130, 45)));
    let mut rows: Vec<(String, Option<f64>)> = app
        .source_rows()
        .iter()
        .map(|l| (l.name(), l.rate))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        rows,
        [
            ("198.18.0.2 (eth0)".to_owned(), Some(30.0)),
            ("198.18.0.2 (eth1)".to_owned(), Some(5.0)),
        ]
    );
}

#[test]
fn the_first_answer_has_no_rates_and_a_port_new_since_a_short_answer_counts_from_zero() {
    let mut app = App::new(String::new(), Duration::from_secs(1), true);
    app.absorb(Ok(recorded(1)));
    assert_eq!(app.data.packet_rate, None);
    assert!(app.data.ports.iter().all(|l| l.rate.is_none()));
    // The first answer held 134 of the 1,024 ports asked for: a port missing from it had no
    // packets then.
    let mut next = recorded(2);
    next.ports.retain(|r| r.port != 7777);
    app.absorb(Ok(next.clone()));
    let mut third = recorded(2);
    third.at = Duration::from_secs(3);
    app.absorb(Ok(third));
    let l = app.data.ports.iter().find(|l| l.row.port == 7777).unwrap();
    assert_eq!(l.rate, Some(21.0));
}

#[test]
fn a_rate_history_holds_a_minute_of_refreshes() {
    let mut app = App::new(String::new(), Duration::from_millis(500), true);
    assert_eq!(app.history_len(), 120);
    for n in 0..130u64 {
        let mut a = recorded(1);
        a.at = Duration::from_millis(500 * n);
        for r in &mut a.ports {
            r.packets += n;
        }
        app.absorb(Ok(a));
    }
    let h = &app.data.history[&(31_337, Proto::Tcp)];
    assert_eq!(h.len(), 120);
    assert!(h.iter().all(|r| (*r - 2.0).abs() < 1e-9), "{h:?}");
}

#[test]
fn open_findings_are_the_daemons_count_else_those_seen_in_the_last_five_minutes() {
    let mut app = app();
    // The recorded answers predate the count: benign, notable, suspicious, hostile.
    assert_eq!(app.open_by_level(), ([0, 6, 6, 1], false));
    // Five minutes after the trojan probe's last contact (02:07:40.794) only it has aged out.
    app.data.wall_ns = 1_796_436_460_794_000_000 + 300 * SECOND + SECOND;
    assert_eq!(app.open_by_level(), ([0, 6, 6, 0], false));
    // A daemon that counts them is taken at its word.
    let mut counted = recorded(2);
    counted.at = Duration::from_secs(3);
    counted.stats.open_findings = Some(crate::query::answer::OpenFindings::from_levels([
        2, 0, 5, 1,
    ]));
    app.absorb(Ok(counted));
    assert_eq!(app.open_by_level(), ([2, 0, 5, 1], true));
    let text = lines(&screen(&app, 160, 48)).join("\n");
    assert!(
        text.contains("open findings: 1 hostile  5 suspicious  0 notable  2 benign"),
        "{text}"
    );
}

#[test]
fn findings_are_asked_for_since_a_while_before_the_newest_and_merged() {
    let mut app = app();
    // The newest last contact is the vertical scan's, 2026-12-05T02:09:34.837Z; thirty
    // seconds before it.
    let newest = 1_796_436_574_837_000_000;
    assert_eq!(app.want().findings_since_ns, Some(newest - 30 * SECOND));
    assert_eq!(app.want().port, None);
    let mut later = recorded(2);
    later.at = Duration::from_secs(3);
    later.findings_since_ns = app.want().findings_since_ns;
    let mut update = later.findings.iter().find(|f| f.id == 13).unwrap().clone();
    update.count = 500;
    later.findings = vec![update];
    app.absorb(Ok(later));
    assert_eq!(app.data.findings.len(), 13, "merged, not replaced");
    assert_eq!(app.data.findings[&13].count, 500);
    // Newest first: the scan, then the eleven port findings and the remapped service of
    // 02:09:21, the trojan probe last.
    let order: Vec<u64> = app.finding_rows().iter().map(|f| f.id).collect();
    assert_eq!(order, [13, 2, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 1]);
}

#[test]
fn a_lost_daemon_is_said_and_its_return_starts_rates_and_findings_again() {
    let mut app = app();
    app.absorb(Err(Trouble {
        at: Duration::from_secs(3),
        wall_ns: WALL + 2 * SECOND,
        lost: true,
        message: "no probe daemon is serving /run/probe/probe.sock".into(),
    }));
    assert_eq!(
        app.link,
        Link::Lost {
            since_ns: WALL + 2 * SECOND,
            message: "no probe daemon is serving /run/probe/probe.sock".into()
        }
    );
    // A new daemon numbers findings from 1 again: all of them are asked for.
    assert_eq!(app.want().findings_since_ns, None);
    // Still lost: the time it went stays.
    app.absorb(Err(Trouble {
        at: Duration::from_secs(4),
        wall_ns: WALL + 3 * SECOND,
        lost: true,
        message: "still nothing".into(),
    }));
    assert!(matches!(app.link, Link::Lost { since_ns, .. } if since_ns == WALL + 2 * SECOND));

    let mut back = recorded(1);
    back.at = Duration::from_secs(10);
    back.wall_ns = WALL + 9 * SECOND;
    back.findings.truncate(2);
    app.absorb(Ok(back));
    assert_eq!(app.link, Link::Live);
    assert_eq!(
        app.notice,
        Some((
            "the daemon answers again (no answer for 7s); rates start again".into(),
            Duration::from_secs(15)
        ))
    );
    assert_eq!(app.data.packet_rate, None, "no rate across the gap");
    assert_eq!(app.data.findings.len(), 2, "the whole answer replaced them");
    // The notice goes once its time is up.
    let mut later = recorded(2);
    later.at = Duration::from_secs(16);
    app.absorb(Ok(later));
    assert_eq!(app.notice, None);
    assert_eq!(app.data.packet_rate, Some(18.0 / 6.0));
}

#[test]
fn a_refusal_is_a_notice_and_the_daemon_stays_live() {
    let mut app = app();
    app.absorb(Err(Trouble {
        at: Duration::from_secs(3),
        wall_ns: WALL + 2 * SECOND,
        lost: false,
        message: "the daemon refused the request (busy): try again".into(),
    }));
    assert_eq!(app.link, Link::Live);
    assert_eq!(
        app.notice.as_ref().map(|(n, _)| n.as_str()),
        Some("the daemon refused the request (busy): try again")
    );
}

// ---- keys ----

#[test]
fn tab_and_shift_tab_go_round_the_panes_and_digits_jump() {
    let mut app = app();
    let mut seen = vec![app.focus];
    for _ in 0..4 {
        press(&mut app, KeyCode::Tab);
        seen.push(app.focus);
    }
    assert_eq!(
        seen,
        [
            Pane::Ports,
            Pane::Sources,
            Pane::Findings,
            Pane::Icmp,
            Pane::Ports
        ]
    );
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Pane::Icmp);
    press(&mut app, KeyCode::Char('3'));
    assert_eq!(app.focus, Pane::Findings);
}

#[test]
fn arrows_and_pages_move_within_the_rows_and_the_selection_follows_its_row() {
    let mut app = app();
    app.page = 10;
    press(&mut app, KeyCode::Down);
    assert_eq!(app.selection(), Some(Target::Port(7777, Proto::Udp)));
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    assert_eq!(app.selected[0], 0, "not above the first row");
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.selected[0], 10);
    press(&mut app, KeyCode::End);
    assert_eq!(app.selected[0], app.data.ports.len() - 1);
    press(&mut app, KeyCode::PageDown);
    assert_eq!(
        app.selected[0],
        app.data.ports.len() - 1,
        "not below the last"
    );
    press(&mut app, KeyCode::Home);
    press(&mut app, KeyCode::Down);
    // 7777 is selected; when 53 becomes the busiest, the selection stays on 7777.
    let mut a = recorded(2);
    a.at = Duration::from_secs(3);
    a.ports.iter_mut().find(|r| r.port == 53).unwrap().packets += 1000;
    app.absorb(Ok(a));
    assert_eq!(app.port_rows()[0].row.port, 53);
    assert_eq!(app.selected[0], 2);
    assert_eq!(app.selection(), Some(Target::Port(7777, Proto::Udp)));
}

#[test]
fn enter_opens_a_rows_details_and_a_ports_are_asked_for_at_once() {
    let mut app = app();
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.overlay,
        Some(Overlay::Details {
            target: Target::Port(31_337, Proto::Tcp),
            scroll: 0
        })
    );
    assert!(app.refresh_now);
    assert_eq!(app.want().port, Some(31_337));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::PageDown);
    assert!(matches!(
        app.overlay,
        Some(Overlay::Details { scroll: 11, .. })
    ));
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.overlay, None);
    assert!(!app.quit, "Esc closes the details first");

    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.overlay,
        Some(Overlay::Details {
            target: Target::Finding(13),
            scroll: 0
        })
    );
    assert_eq!(app.want().port, None);
}

#[test]
fn slash_filters_every_pane_and_esc_clears_it() {
    let mut app = app();
    press(&mut app, KeyCode::Char('/'));
    assert!(app.editing);
    for c in "ORIFICE".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    // Typed into the filter, not taken as keys: q does not quit while typing.
    press(&mut app, KeyCode::Char('q'));
    press(&mut app, KeyCode::Backspace);
    assert!(!app.quit);
    assert_eq!(app.filter, "ORIFICE");
    press(&mut app, KeyCode::Enter);
    assert!(!app.editing);
    assert_eq!(app.targets(Pane::Ports), [Target::Port(31_337, Proto::Tcp)]);
    assert_eq!(app.targets(Pane::Findings), [Target::Finding(1)]);
    assert_eq!(app.targets(Pane::Icmp), []);
    // A source matches by its address and its findings' kinds, levels and ports: none of
    // them says Orifice.
    assert_eq!(app.targets(Pane::Sources), []);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.filter, "");
    assert!(!app.quit, "Esc clears a filter before it quits");
    press(&mut app, KeyCode::Esc);
    assert!(app.quit);
}

#[test]
fn s_changes_the_focused_panes_order() {
    let mut app = app();
    assert_eq!(app.sort_name(Pane::Ports), "rate");
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.sort_name(Pane::Ports), "total");
    press(&mut app, KeyCode::Char('s'));
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.sort_name(Pane::Ports), "port");
    assert_eq!(app.port_rows()[0].row.port, 20);
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.sort_name(Pane::Ports), "rate");
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.sort_name(Pane::Findings), "level");
    let first: Vec<u64> = app.finding_rows().iter().take(2).map(|f| f.id).collect();
    assert_eq!(first, [1, 13], "hostile first, then the newest suspicious");
}

#[test]
fn space_pauses_and_resuming_asks_at_once_and_help_comes_and_goes() {
    let mut app = app();
    press(&mut app, KeyCode::Char(' '));
    assert!(app.paused);
    assert!(!app.refresh_now);
    press(&mut app, KeyCode::Char(' '));
    assert!(!app.paused);
    assert!(app.refresh_now);
    press(&mut app, KeyCode::Char('?'));
    assert_eq!(app.overlay, Some(Overlay::Help));
    press(&mut app, KeyCode::Char('?'));
    assert_eq!(app.overlay, None);
}

#[test]
fn q_and_ctrl_c_quit_from_anywhere() {
    let mut details = app();
    press(&mut details, KeyCode::Enter);
    press(&mut details, KeyCode::Char('q'));
    assert!(details.quit);
    let mut typing = app();
    press(&mut typing, KeyCode::Char('/'));
    keys::handle(
        &mut typing,
        KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
    );
    assert!(typing.quit);
}

// ---- screens ----

#[test]
fn the_80_by_24_screen_opens_the_focused_pane_and_folds_the_others() {
    let app = app();
    insta::assert_snapshot!("ports_80x24", screen(&app, 80, 24).backend());
    let mut app = app;
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    insta::assert_snapshot!("findings_80x24", screen(&app, 80, 24).backend());
}

#[test]
fn the_160_by_48_screen_shows_every_pane() {
    insta::assert_snapshot!("all_160x48", screen(&app(), 160, 48).backend());
}

#[test]
fn details_help_and_a_lost_daemon_cover_the_panes() {
    let mut app = app();
    press(&mut app, KeyCode::Enter);
    // Asked for at once: until it comes, the box says so.
    let waiting = lines(&screen(&app, 80, 24));
    assert!(
        waiting[7].contains("asking the daemon about port 31337…"),
        "{}",
        waiting[7]
    );
    app.absorb(Ok(continued(3)));
    insta::assert_snapshot!("port_details_80x24", screen(&app, 80, 24).backend());
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("finding_details_160x48", screen(&app, 160, 48).backend());
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!("help_80x24", screen(&app, 80, 24).backend());
    press(&mut app, KeyCode::Esc);
    app.absorb(Err(Trouble {
        at: Duration::from_secs(3),
        wall_ns: WALL + 2 * SECOND,
        lost: true,
        message: "no probe daemon is serving /run/probe/probe.sock: start one with `probe run --iface IF` (as root), or point --socket at the one that runs".into(),
    }));
    insta::assert_snapshot!("lost_80x24", screen(&app, 80, 24).backend());
}

#[test]
fn a_filter_shows_in_the_footer_and_empty_panes_say_why() {
    let mut app = app();
    app.set_filter("no such thing");
    let shown = lines(&screen(&app, 80, 24));
    assert_eq!(shown[4].trim_end(), " no rows match the filter");
    assert!(
        shown[23].starts_with(" /no such thing  Tab pane"),
        "{}",
        shown[23]
    );
}

#[test]
fn levels_are_coloured_unless_monochrome() {
    let mut app = app();
    let terminal = screen(&app, 80, 24);
    let buffer = terminal.backend().buffer();
    // The first row, 31337/tcp, is hostile: red.
    assert_eq!(lines(&terminal)[5].get(..9), Some("31337/tcp"));
    assert_eq!(buffer[(0, 5)].fg, Color::Red);
    // A suspicious port, 22/tcp, yellow; a benign one, 7777/udp, the default colour.
    let row = |port: &str| {
        lines(&terminal)
            .iter()
            .position(|l| l.starts_with(port))
            .unwrap_or_else(|| panic!("no row {port}"))
    };
    assert_eq!(
        buffer[(0, u16::try_from(row("22/tcp")).unwrap())].fg,
        Color::Yellow
    );
    assert_eq!(
        buffer[(0, u16::try_from(row("7777/udp")).unwrap())].fg,
        Color::Reset
    );

    app.color = false;
    let terminal = screen(&app, 160, 48);
    let buffer = terminal.backend().buffer();
    for cell in buffer.content() {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "{cell:?}");
    }
    // The marks say what colour would: !!! for hostile.
    assert!(
        lines(&terminal)[5].contains("31337/tcp !!!"),
        "{}",
        lines(&terminal)[5]
    );
}

#[test]
fn control_characters_from_the_daemon_are_shown_escaped_not_sent() {
    let mut a = recorded(1);
    a.ports[0].meaning = "Back Orifice\u{1b}[2J\u{7}: cleared your screen".into();
    a.findings[0].explanation = "\u{1b}]0;owned\u{7}a title".into();
    let mut app = App::new(String::new(), Duration::from_secs(1), true);
    app.absorb(Ok(a));
    for (width, height, focus) in [(160, 48, Pane::Ports), (80, 24, Pane::Findings)] {
        app.focus = focus;
        let terminal = screen(&app, width, height);
        let text = lines(&terminal).join("\n");
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "a control character reached the screen:\n{text}"
        );
        assert!(text.contains("\\u{1b}"), "{text}");
    }
}

#[test]
fn page_keys_move_by_the_focused_panes_height() {
    let app = app();
    // 24 lines: 3 of header, 1 of keys, 3 folded panes; the open pane's 17 lines hold a title
    // line, a head line and 15 rows.
    assert_eq!(
        view::page_rows(&app, ratatui::layout::Rect::new(0, 0, 80, 24)),
        15
    );
    assert!(!view::is_grid(ratatui::layout::Rect::new(0, 0, 80, 24)));
    assert!(view::is_grid(ratatui::layout::Rect::new(0, 0, 160, 48)));
}

#[test]
fn a_sources_details_say_everything_the_daemon_knows_of_it() {
    let mut app = app();
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Enter);
    let shown = lines(&screen(&app, 160, 48));
    let text: Vec<String> = shown
        .iter()
        .filter_map(|l| l.split('║').nth(1).map(|t| t.trim_end().to_owned()))
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(
        text[..8],
        [
            "now 19 packets/s",
            "229 tracked packets (all but established TCP and repeats of a reported contact)",
            "204 connection attempts (SYN without ACK)",
            "about 146 destination ports and 1 destination hosts (estimates)",
            "TTL 37 to 64: about 0 hops away",
            "first seen 2026-12-05T02:07:20.978Z, last seen 2026-12-05T02:09:34.834Z",
            "open findings: trojan_probe 31337, port_meaning ×10, vertical_scan, remapped_service 80",
            "its findings, newest first:",
        ]
    );
    // Then each of its 13 findings, the newest first, in a line (wrapped) of its own.
    assert!(
        text[8].starts_with("  suspicious vertical_scan 198.18.0.2 -> 198.18.0.1 (x173"),
        "{}",
        text[8]
    );
    let findings = text[8..].iter().filter(|t| t.starts_with("  ")).count();
    assert_eq!(findings, 13, "{text:#?}");
}

#[test]
fn the_header_names_the_interface_and_attach_mode_when_the_daemon_says_them() {
    let mut app = App::new("/run/probe/probe.sock".into(), Duration::from_secs(1), true);
    let mut a = recorded(1);
    a.stats.iface = Some("eth0".to_owned());
    a.stats.attach = Some("native".to_owned());
    app.absorb(Ok(a));
    let first = lines(&screen(&app, 160, 48)).remove(0);
    assert!(
        first.starts_with("probe top · eth0 (native XDP) · every 1s · /run/probe/probe.sock"),
        "{first}"
    );
}

#[test]
fn the_header_names_every_interface_of_a_daemon_watching_several() {
    let mut app = App::new("/run/probe/probe.sock".into(), Duration::from_secs(1), true);
    let mut a = recorded(1);
    a.stats.interfaces = ["eth0", "eth1"]
        .map(|i| crate::query::answer::Watched {
            iface: i.to_owned(),
            attach: "native".to_owned(),
        })
        .into();
    app.absorb(Ok(a));
    let first = lines(&screen(&app, 160, 48)).remove(0);
    assert!(
        first.starts_with("probe top · eth0, eth1 (native XDP) · every 1s · /run/probe/probe.sock"),
        "{first}"
    );
}
