//! The screen: a header, four panes and a line of keys, drawn from the state alone.
//!
//! On a wide and tall terminal (at least [`GRID_WIDTH`] × [`GRID_HEIGHT`]) the panes share the
//! screen, ports beside sources above findings beside ICMP; on a smaller one (80 × 24) the
//! focused pane takes the room and the others fold to one line each, saying their busiest row.
//! Every text that came from the daemon goes through [`printable::line`] first: a name or an
//! explanation can hold control characters, and a terminal would act on them.

use std::{collections::VecDeque, fmt::Write as _, time::Duration};

use ratatui::{
    Frame,
    layout::{Alignment, Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span, Text},
    widgets::{Block, BorderType, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap},
};

use super::{App, Link, Overlay, Pane, Target, proto_name};
use crate::{
    findings::{Finding, time::format_rfc3339_ms},
    knowledge::named,
    printable,
    query::answer::Stats,
    sources::SourceRow,
};

/// The smallest screen that shows the four panes side by side.
pub const GRID_WIDTH: u16 = 120;
pub const GRID_HEIGHT: u16 = 32;
/// Lines of the header.
const HEADER: u16 = 3;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(HEADER),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, app, header);
    let grid = is_grid(frame.area());
    for (pane, area) in pane_areas(app, body, grid) {
        draw_pane(frame, app, pane, area, grid);
    }
    draw_footer(frame, app, footer);
    match &app.overlay {
        Some(Overlay::Help) => draw_text(
            frame,
            app,
            (" Keys ", " any key closes this "),
            help_text(),
            0,
            body,
        ),
        Some(Overlay::Details { target, scroll }) => {
            let (title, text) = details(app, target);
            let titles = (title.as_str(), " ↑↓ PgUp PgDn scroll · Esc back ");
            draw_text(frame, app, titles, text, *scroll, body);
        }
        None => {
            if let Link::Lost { since_ns, message } = &app.link {
                draw_lost(frame, app, *since_ns, message, body);
            }
        }
    }
}

/// A box over the panes while the daemon does not answer: since when, and why.
fn draw_lost(frame: &mut Frame, app: &App, since_ns: u64, message: &str, body: Rect) {
    let width = body.width.saturating_sub(4).min(76);
    let height = body.height.min(9);
    let area = Rect::new(
        body.x + (body.width - width) / 2,
        body.y + (body.height - height) / 2,
        width,
        height,
    );
    let text = Text::from(vec![
        Line::from(format!(
            "No answer since {} UTC; asking again every {}.",
            clock(since_ns),
            interval_text(app.interval)
        )),
        Line::default(),
        Line::from(printable::line(message).into_owned()),
        Line::default(),
        Line::from("The panes keep the last answers. q quits."),
    ]);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .border_type(BorderType::Double)
                .border_style(alarm_style(app))
                .title(Span::styled(
                    " The daemon does not answer ",
                    alarm_style(app),
                )),
        ),
        area,
    );
}

/// True when the screen is big enough for the four panes at once.
pub fn is_grid(area: Rect) -> bool {
    area.width >= GRID_WIDTH && area.height >= GRID_HEIGHT
}

/// Where each pane goes in `body`: all four in a grid, or the focused one open and the
/// others folded to a line.
fn pane_areas(app: &App, body: Rect, grid: bool) -> Vec<(Pane, Rect)> {
    if grid {
        // The two panes of long text (meanings, explanations) get the whole width; sources
        // and ICMP share the middle.
        let [ports, middle, findings] = Layout::vertical([
            Constraint::Percentage(38),
            Constraint::Percentage(26),
            Constraint::Fill(1),
        ])
        .areas(body);
        let [sources, icmp] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Fill(1)]).areas(middle);
        return vec![
            (Pane::Ports, ports),
            (Pane::Sources, sources),
            (Pane::Findings, findings),
            (Pane::Icmp, icmp),
        ];
    }
    let constraints = Pane::ALL.map(|p| {
        if p == app.focus {
            Constraint::Fill(1)
        } else {
            Constraint::Length(1)
        }
    });
    let areas = Layout::vertical(constraints).split(body);
    Pane::ALL.into_iter().zip(areas.iter().copied()).collect()
}

/// Rows of data the focused pane shows on a screen of `size`: what a page key moves by.
pub fn page_rows(app: &App, size: Rect) -> usize {
    let grid = is_grid(size);
    let body = Rect::new(0, 0, size.width, size.height.saturating_sub(HEADER + 1));
    // Borders above and below in the grid, a title line above when folded; a head line.
    let frame = if grid { 3 } else { 2 };
    pane_areas(app, body, grid)
        .into_iter()
        .find(|(p, _)| *p == app.focus)
        .map_or(1, |(_, a)| {
            usize::from(a.height.saturating_sub(frame)).max(1)
        })
}

// ---- styles ----

/// The style of a level's rows: red for hostile, yellow for suspicious, cyan for notable; in
/// monochrome only hostile stands out, in bold (the level marks say the rest).
fn level_style(app: &App, level: &str) -> Style {
    let style = Style::new();
    match (level, app.color) {
        ("hostile", true) => style.fg(Color::Red).add_modifier(Modifier::BOLD),
        ("hostile", false) => style.add_modifier(Modifier::BOLD),
        ("suspicious", true) => style.fg(Color::Yellow),
        ("notable", true) => style.fg(Color::Cyan),
        _ => style,
    }
}

/// The mark of a level in a table's LVL column: it says in monochrome what colour says.
fn level_mark(level: &str) -> &'static str {
    match level {
        "hostile" => "!!!",
        "suspicious" => "!!",
        "notable" => "!",
        _ => "",
    }
}

fn head_style() -> Style {
    Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
}

fn selected_style() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

fn alarm_style(app: &App) -> Style {
    if app.color {
        Style::new()
            .fg(Color::White)
            .bg(Color::Red)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }
}

// ---- numbers ----

/// A count in at most five characters: exact below 100,000, then k, M, G.
pub fn count(n: u64) -> String {
    if n < 100_000 {
        return n.to_string();
    }
    scaled(n as f64, "")
}

/// A rate: one decimal below 10, whole below 100,000, then k, M, G; `-` when unknown.
pub fn per_second(rate: Option<f64>) -> String {
    match rate {
        None => "-".to_owned(),
        Some(r) if r < 10.0 => format!("{r:.1}"),
        Some(r) if r < 100_000.0 => format!("{r:.0}"),
        Some(r) => scaled(r, ""),
    }
}

/// Bytes with an SI unit: `870 B`, `98.1 kB`, `1.2 MB`.
pub fn bytes(n: f64) -> String {
    if n < 1000.0 {
        return format!("{n:.0} B");
    }
    scaled(n, "B")
}

fn scaled(n: f64, unit: &str) -> String {
    let mut v = n;
    for prefix in ["k", "M", "G", "T", "P"] {
        v /= 1000.0;
        if v < 999.5 {
            let space = if unit.is_empty() { "" } else { " " };
            return if v < 9.95 {
                format!("{v:.1}{space}{prefix}{unit}")
            } else {
                format!("{v:.0}{space}{prefix}{unit}")
            };
        }
    }
    format!("{v:.0}E{unit}")
}

/// A refresh interval as given on the command line: `1s`, `500ms`, `2m`.
pub fn interval_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The UTC time of day of `ns`: `12:00:03`.
fn clock(ns: u64) -> String {
    format_rfc3339_ms(ns).get(11..19).unwrap_or("").to_owned()
}

/// A sparkline of `history` (oldest first) in `width` characters, newest at the right: each
/// character the highest rate of its share of the samples, in eighths of the highest rate
/// shown; a blank is no packets.
pub fn sparkline(history: &VecDeque<f64>, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if width == 0 {
        return String::new();
    }
    let samples: Vec<f64> = history.iter().copied().collect();
    let columns: Vec<f64> = if samples.len() <= width {
        samples
    } else {
        (0..width)
            .map(|i| {
                let from = i * samples.len() / width;
                let to = ((i + 1) * samples.len() / width).max(from + 1);
                samples[from..to].iter().copied().fold(0.0, f64::max)
            })
            .collect()
    };
    let top = columns.iter().copied().fold(0.0, f64::max);
    let mut line = " ".repeat(width - columns.len());
    for v in columns {
        if v <= 0.0 || top <= 0.0 {
            line.push(' ');
        } else {
            // The least eighth at or above the sample's share of the highest.
            let share = v / top * 8.0;
            let eighth = (1..=8u8).find(|e| share <= f64::from(*e)).unwrap_or(8);
            line.push(BARS[usize::from(eighth) - 1]);
        }
    }
    line
}

/// The first words of `text` that fit in `width` characters, with `…` when cut.
pub fn first_words(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let room: String = text.chars().take(width - 1).collect();
    let cut = match room.rfind(' ') {
        Some(space) if space > 0 => room[..space].trim_end(),
        _ => room.as_str(),
    };
    format!("{cut}…")
}

// ---- header and footer ----

fn draw_header(frame: &mut Frame, app: &App, area: Rect) {
    let [first, second, third] = Layout::vertical([Constraint::Length(1); 3]).areas(area);
    let (state, state_style) = match (&app.link, app.paused) {
        (Link::Lost { .. }, _) => ("daemon lost".to_owned(), alarm_style(app)),
        (_, true) => (
            "paused".to_owned(),
            Style::new().add_modifier(Modifier::REVERSED),
        ),
        (Link::Connecting, false) => ("connecting".to_owned(), Style::new()),
        (Link::Live, false) => ("live".to_owned(), Style::new().add_modifier(Modifier::BOLD)),
    };
    let time = if app.now_ns() == 0 {
        String::new()
    } else {
        format!("{} UTC  ", clock(app.now_ns()))
    };
    let interval = interval_text(app.interval);
    // The socket last: a narrow screen cuts the end of a long path, not the interval.
    let watching = app
        .data
        .stats
        .as_ref()
        .and_then(Stats::watching)
        .map(|w| format!("{w} · "))
        .unwrap_or_default();
    let left = format!(
        "probe top · {watching}every {interval} · {}",
        printable::line(&app.socket)
    );
    let right = Line::from(vec![
        Span::raw(time),
        Span::styled(format!(" {state} "), state_style),
    ]);
    let right_width = u16::try_from(right.width()).unwrap_or(u16::MAX);
    let [l, r] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(right_width)]).areas(first);
    frame.render_widget(
        Paragraph::new(Span::styled(
            left,
            Style::new().add_modifier(Modifier::BOLD),
        )),
        l,
    );
    frame.render_widget(Paragraph::new(right).alignment(Alignment::Right), r);

    let traffic = match &app.data.stats {
        None => "traffic: no answer yet".to_owned(),
        Some(s) => {
            let lost = s.events_rate_limited + s.events_ring_full;
            format!(
                "{} pkt/s  {}/s · total {} packets {} · malformed {} · events lost {}",
                per_second(app.data.packet_rate),
                app.data.byte_rate.map_or_else(|| "- B".to_owned(), bytes),
                count(s.packets),
                bytes(s.bytes as f64),
                count(s.malformed),
                count(lost),
            )
        }
    };
    frame.render_widget(Paragraph::new(traffic), second);

    let ([benign, notable, suspicious, hostile], counted) = app.open_by_level();
    let mut spans = vec![Span::raw(if counted {
        "open findings: "
    } else {
        "open findings (last 5 min): "
    })];
    for (n, level) in [
        (hostile, "hostile"),
        (suspicious, "suspicious"),
        (notable, "notable"),
        (benign, "benign"),
    ] {
        let style = if n > 0 {
            level_style(app, level)
        } else {
            Style::new()
        };
        spans.push(Span::styled(format!("{n} {level}"), style));
        spans.push(Span::raw("  "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), third);
}

fn draw_footer(frame: &mut Frame, app: &App, area: Rect) {
    let line = if app.editing {
        Line::from(vec![
            Span::styled(" filter ", Style::new().add_modifier(Modifier::REVERSED)),
            Span::raw(format!(" /{}▏  Enter keeps it, Esc clears it", app.filter)),
        ])
    } else if let Link::Lost { .. } = &app.link {
        Line::from(Span::styled(
            format!(
                "daemon lost: asking again every {} · q quit",
                interval_text(app.interval)
            ),
            alarm_style(app),
        ))
    } else if let Some((notice, _)) = &app.notice {
        Line::from(Span::styled(
            printable::line(notice).into_owned(),
            Style::new().add_modifier(Modifier::BOLD),
        ))
    } else {
        let mut spans = Vec::new();
        if !app.filter.is_empty() {
            spans.push(Span::styled(
                format!(" /{} ", app.filter),
                Style::new().add_modifier(Modifier::REVERSED),
            ));
            spans.push(Span::raw(" "));
        }
        spans.push(Span::raw(
            "Tab pane  ↑↓ move  Enter details  / filter  s sort  space pause  ? help  q quit",
        ));
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}

// ---- panes ----

fn draw_pane(frame: &mut Frame, app: &App, pane: Pane, area: Rect, grid: bool) {
    let focused = app.focus == pane;
    let rows = app.targets(pane).len();
    // A full answer may leave rows out: the busiest 1,024 ports, 100 sources, 256 messages.
    let full = match pane {
        Pane::Ports => app.data.ports.len() >= super::feed::PORT_ROWS,
        Pane::Sources => app.data.sources.len() >= super::feed::SOURCE_ROWS,
        Pane::Icmp => app.data.icmp.len() >= super::feed::ICMP_ROWS,
        Pane::Findings => false,
    };
    let more = if full && app.filter.is_empty() {
        "+"
    } else {
        ""
    };
    let mut title = format!(
        " {} {} ({rows}{more}) by {} ",
        pane.index() + 1,
        pane.title(),
        app.sort_name(pane)
    );
    let mut border_style = Style::new();
    if focused {
        border_style = border_style.add_modifier(Modifier::BOLD);
        if app.color {
            border_style = border_style.fg(Color::Cyan);
        }
    }
    if area.height <= 1 {
        // Folded: the title and the busiest row.
        if let Some(summary) = summary(app, pane) {
            let _ = write!(title, "· {} ", printable::line(&summary));
        }
        let block = Block::new()
            .borders(Borders::TOP)
            .border_type(BorderType::Plain)
            .title(Span::styled(title, border_style));
        frame.render_widget(block, area);
        return;
    }
    let block = if grid {
        Block::bordered()
    } else {
        Block::new().borders(Borders::TOP)
    };
    let block = block
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border_style)
        .title(Span::styled(title, border_style));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let (head, widths, body) = match pane {
        Pane::Ports => ports_table(app, inner.width),
        Pane::Sources => sources_table(app),
        Pane::Findings => findings_table(app, inner.width),
        Pane::Icmp => icmp_table(app),
    };
    if body.is_empty() {
        let what = if app.filter.is_empty() {
            match pane {
                Pane::Findings => "no findings yet",
                _ => "nothing counted yet",
            }
        } else {
            "no rows match the filter"
        };
        frame.render_widget(Paragraph::new(format!(" {what}")), inner);
        return;
    }
    let table = Table::new(body, widths)
        .header(Row::new(head.iter().map(|h| Cell::from(*h))).style(head_style()))
        .column_spacing(1)
        .row_highlight_style(if focused {
            selected_style()
        } else {
            Style::new()
        });
    let mut state = TableState::default().with_selected(Some(app.selected[pane.index()]));
    frame.render_stateful_widget(table, inner, &mut state);
}

/// One line saying a folded pane's first row.
fn summary(app: &App, pane: Pane) -> Option<String> {
    match pane {
        Pane::Ports => app.port_rows().first().map(|l| {
            format!(
                "{}/{} {}/s {}",
                l.row.port,
                proto_name(l.row.proto),
                per_second(l.rate),
                l.row.name
            )
        }),
        Pane::Sources => app.source_rows().first().map(|l| {
            format!(
                "{} {}/s {} ports",
                l.row.src,
                per_second(l.rate),
                count(l.row.ports)
            )
        }),
        Pane::Findings => app
            .finding_rows()
            .first()
            .map(|f| format!("{} {} {}", f.level, f.kind, f.src.as_deref().unwrap_or(""))),
        Pane::Icmp => app.icmp_rows().first().map(|l| {
            format!(
                "{} {}/{} {}/s {}",
                l.row.family,
                l.row.icmp_type,
                l.row.code,
                per_second(l.rate),
                l.row.name
            )
        }),
    }
}

fn right(text: String) -> Cell<'static> {
    Cell::from(Line::from(text).alignment(Alignment::Right))
}

type Columns = (Vec<&'static str>, Vec<Constraint>, Vec<Row<'static>>);

fn ports_table(app: &App, width: u16) -> Columns {
    let spark = if width >= 120 { 30 } else { 12 };
    let body = app
        .port_rows()
        .into_iter()
        .map(|l| {
            let r = &l.row;
            let history = app
                .data
                .history
                .get(&(r.port, r.proto))
                .cloned()
                .unwrap_or_default();
            Row::new(vec![
                Cell::from(format!("{}/{}", r.port, proto_name(r.proto))),
                Cell::from(level_mark(&r.level)),
                right(per_second(l.rate)),
                right(count(r.packets)),
                right(count(r.syn)),
                Cell::from(sparkline(&history, spark)),
                Cell::from(printable::line(&named(&r.name, &r.meaning)).into_owned()),
            ])
            .style(level_style(app, &r.level))
        })
        .collect();
    (
        vec![
            "PORT",
            "LVL",
            "PKT/S",
            "TOTAL",
            "SYN",
            "LAST MINUTE",
            "NAME: MEANING",
        ],
        vec![
            Constraint::Length(9),
            Constraint::Length(3),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(u16::try_from(spark).unwrap_or(12)),
            Constraint::Fill(1),
        ],
        body,
    )
}

/// The worst level among a source's open findings.
fn worst(row: &SourceRow) -> &str {
    ["hostile", "suspicious", "notable"]
        .into_iter()
        .find(|level| row.findings.iter().any(|f| f.level == *level))
        .unwrap_or("")
}

/// A source's open findings in a few words: worst first, a kind's several findings counted
/// (`trojan_probe 31337, vertical_scan, port_meaning ×11`).
fn source_findings(row: &SourceRow) -> String {
    let rank = |level: &str| match level {
        "hostile" => 0,
        "suspicious" => 1,
        "notable" => 2,
        _ => 3,
    };
    // Per kind: its worst level, how many, and the port of the first.
    let mut kinds: Vec<(&str, usize, usize, Option<u16>)> = Vec::new();
    for f in &row.findings {
        match kinds.iter_mut().find(|k| k.0 == f.kind) {
            Some(k) => {
                k.1 = k.1.min(rank(&f.level));
                k.2 += 1;
            }
            None => kinds.push((&f.kind, rank(&f.level), 1, f.port)),
        }
    }
    kinds.sort_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)).then(a.0.cmp(b.0)));
    let words: Vec<String> = kinds
        .into_iter()
        .map(|(kind, _, n, port)| match (n, port) {
            (1, Some(p)) => format!("{kind} {p}"),
            (1, None) => kind.to_owned(),
            _ => format!("{kind} ×{n}"),
        })
        .collect();
    words.join(", ")
}

fn sources_table(app: &App) -> Columns {
    let rows = app.source_rows();
    let widest = rows.iter().map(|l| l.name().len()).max().unwrap_or(0);
    let address = u16::try_from(widest.clamp(15, 39)).unwrap_or(15);
    let body = rows
        .into_iter()
        .map(|l| {
            let r = &l.row;
            Row::new(vec![
                Cell::from(printable::line(&l.name()).into_owned()),
                Cell::from(level_mark(worst(r))),
                right(per_second(l.rate)),
                right(count(r.packets)),
                right(count(r.ports)),
                right(count(r.hosts)),
                right(r.hops.to_string()),
                Cell::from(printable::line(&source_findings(r)).into_owned()),
            ])
            .style(level_style(app, worst(r)))
        })
        .collect();
    (
        vec![
            "SOURCE",
            "LVL",
            "PKT/S",
            "PACKETS",
            "PORTS~",
            "HOSTS~",
            "HOPS",
            "OPEN FINDINGS",
        ],
        vec![
            Constraint::Length(address),
            Constraint::Length(3),
            Constraint::Length(6),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(4),
            Constraint::Fill(1),
        ],
        body,
    )
}

fn findings_table(app: &App, width: u16) -> Columns {
    let rows = app.finding_rows();
    // Kinds and sources as wide as the widest shown, within bounds.
    let widest = |f: fn(&Finding) -> usize, least: usize, most: usize| {
        let w = rows
            .iter()
            .map(|r| f(r))
            .max()
            .unwrap_or(0)
            .clamp(least, most);
        u16::try_from(w).unwrap_or(4)
    };
    let kind = widest(|f| f.kind.as_str().len(), 4, 19);
    let source = widest(|f| f.src.as_deref().map_or(1, str::len), 6, 39);
    // The tool gets a column when there is room for it and a readable explanation.
    let with_tool = width >= 100;
    let columns: u16 = if with_tool { 7 } else { 6 };
    let fixed = 8 + 3 + kind + source + 5 + if with_tool { 8 } else { 0 } + (columns - 1);
    let what = usize::from(width.saturating_sub(fixed)).max(10);
    let body = rows
        .into_iter()
        .map(|f| {
            let level = f.level.as_str();
            let src = f.src.as_deref().unwrap_or("-");
            let mut cells = vec![
                Cell::from(clock(f.last_seen_ns)),
                Cell::from(level_mark(level)),
                Cell::from(f.kind.as_str()),
                Cell::from(printable::line(src).into_owned()),
                right(f.port.map_or_else(|| "-".to_owned(), |p| p.to_string())),
            ];
            if with_tool {
                cells.push(Cell::from(
                    printable::line(f.tool.as_deref().unwrap_or("-")).into_owned(),
                ));
            }
            // Explanations start with the source, which has a column of its own.
            let explanation = f
                .explanation
                .strip_prefix(src)
                .and_then(|rest| rest.strip_prefix(' '))
                .unwrap_or(&f.explanation);
            cells.push(Cell::from(first_words(&printable::line(explanation), what)));
            Row::new(cells).style(level_style(app, level))
        })
        .collect();
    let mut head = vec!["LAST", "LVL", "KIND", "SOURCE", "PORT"];
    let mut widths = vec![
        Constraint::Length(8),
        Constraint::Length(3),
        Constraint::Length(kind),
        Constraint::Length(source),
        Constraint::Length(5),
    ];
    if with_tool {
        head.push("TOOL");
        widths.push(Constraint::Length(8));
    }
    head.push("WHAT");
    widths.push(Constraint::Fill(1));
    (head, widths, body)
}

fn icmp_table(app: &App) -> Columns {
    let body = app
        .icmp_rows()
        .into_iter()
        .map(|l| {
            let r = &l.row;
            Row::new(vec![
                Cell::from(printable::line(&r.family).into_owned()),
                Cell::from(format!("{}/{}", r.icmp_type, r.code)),
                Cell::from(level_mark(&r.level)),
                right(per_second(l.rate)),
                right(count(r.packets)),
                Cell::from(printable::line(&named(&r.name, &r.meaning)).into_owned()),
            ])
            .style(level_style(app, &r.level))
        })
        .collect();
    (
        vec!["FAMILY", "TYPE", "LVL", "PKT/S", "TOTAL", "NAME: MEANING"],
        vec![
            Constraint::Length(6),
            Constraint::Length(7),
            Constraint::Length(3),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Fill(1),
        ],
        body,
    )
}

// ---- overlays ----

/// A box over the panes with `text`, scrolled by `scroll` lines, and a title above and below.
fn draw_text(
    frame: &mut Frame,
    app: &App,
    (title, bottom): (&str, &str),
    text: Text<'static>,
    scroll: u16,
    body: Rect,
) {
    let width = (body.width.saturating_mul(9) / 10).max(body.width.min(40));
    let height = (body.height.saturating_mul(9) / 10).max(body.height.min(10));
    let area = Rect::new(
        body.x + (body.width - width) / 2,
        body.y + (body.height - height) / 2,
        width,
        height,
    );
    let mut border = Style::new().add_modifier(Modifier::BOLD);
    if app.color {
        border = border.fg(Color::Cyan);
    }
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(border)
        .title(Span::styled(title.to_owned(), border))
        .title_bottom(Line::from(bottom.to_owned()).alignment(Alignment::Right));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(text)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}

fn help_text() -> Text<'static> {
    let lines = [
        "Tab Shift-Tab 1-4   next, previous or numbered pane",
        "↑ ↓ PgUp PgDn       move in the pane (also j k Home End)",
        "Enter               the selected row's details (Esc: back)",
        "/                   filter the panes: rows holding the text",
        "s                   the pane's next order (rate, total, ...)",
        "space               pause: nothing is asked, the screen holds",
        "?                   this help",
        "q Esc Ctrl-C        quit (Esc clears a filter first)",
        "",
        "LVL: !!! hostile, !! suspicious, ! notable; the same in colour",
        "unless NO_COLOR is set or --mono given.",
        "PKT/S: the rate between the last two answers. LAST MINUTE: a",
        "port's rate, each bar up to the row's highest.",
        "PORTS~ HOSTS~ HOPS: estimates (per-source sketches, the TTL).",
        "Open findings: as the daemon counts them; from an older daemon,",
        "those with a contact in the last 5 minutes.",
    ];
    Text::from(lines.into_iter().map(Line::from).collect::<Vec<_>>())
}

/// The title and text of a row's details.
fn details(app: &App, target: &Target) -> (String, Text<'static>) {
    let mut out = Out::default();
    let title = match target {
        Target::Port(port, proto) => {
            port_details(app, *port, *proto, &mut out);
            format!(" Port {port}/{} ", proto_name(*proto))
        }
        Target::Source(src) => {
            source_details(app, src, &mut out);
            format!(" Source {} ", printable::line(src))
        }
        Target::Finding(id) => {
            finding_details(app, *id, &mut out);
            format!(" Finding #{id} ")
        }
        Target::Icmp(family, t, c) => {
            icmp_details(app, family, *t, *c, &mut out);
            format!(" {} {t}/{c} ", printable::line(family))
        }
    };
    (title, Text::from(out.lines))
}

/// Lines of a details box; every one made printable.
#[derive(Default)]
struct Out {
    lines: Vec<Line<'static>>,
}

impl Out {
    fn line(&mut self, text: impl AsRef<str>) {
        self.lines
            .push(Line::from(printable::line(text.as_ref()).into_owned()));
    }

    fn styled(&mut self, text: impl AsRef<str>, style: Style) {
        self.lines.push(Line::from(Span::styled(
            printable::line(text.as_ref()).into_owned(),
            style,
        )));
    }

    fn blank(&mut self) {
        self.lines.push(Line::default());
    }
}

fn port_details(app: &App, port: u16, proto: crate::query::protocol::Proto, out: &mut Out) {
    let line = app
        .data
        .ports
        .iter()
        .find(|l| l.row.port == port && l.row.proto == proto);
    if let Some(l) = line {
        let history = app
            .data
            .history
            .get(&(port, proto))
            .cloned()
            .unwrap_or_default();
        out.line(format!(
            "now {} packets/s; the last minute: {}",
            per_second(l.rate),
            sparkline(&history, 30).trim_start()
        ));
        out.blank();
    }
    let Some(a) = app.data.port.as_ref().filter(|a| a.port == port) else {
        out.line(format!("asking the daemon about port {port}…"));
        return;
    };
    out.line(format!("port {} ({})", a.port, a.class));
    for (name, c) in [("tcp", &a.tcp), ("udp", &a.udp)] {
        out.blank();
        let attempts = if name == "tcp" {
            format!(", {} connection attempts", c.syn)
        } else {
            String::new()
        };
        out.styled(
            format!("{name} [{}] {}", c.level, named(&c.name, &c.meaning)),
            level_style(app, &c.level),
        );
        out.line(format!(
            "  {} packets to it{attempts}, {} from it",
            c.packets, c.as_source
        ));
    }
    out.blank();
    if a.sources.is_empty() {
        out.line("no source in the daemon's table sent to it");
    } else {
        out.line("sources that sent to it, busiest first:");
        for s in &a.sources {
            out.styled(
                format!("  {}", source_summary(s)),
                level_style(app, worst(s)),
            );
        }
    }
    out.blank();
    if a.findings.is_empty() {
        out.line("no findings about this port");
    } else {
        out.line("findings about it:");
        for f in &a.findings {
            out.styled(
                format!("  {}", f.summary()),
                level_style(app, f.level.as_str()),
            );
        }
    }
}

fn source_summary(s: &SourceRow) -> String {
    let mut text = format!(
        "{}  {} packets, {} SYNs, ~{} ports, ~{} hosts, TTL {}-{}, {} hops, last {} UTC",
        s.src,
        s.packets,
        s.syns,
        s.ports,
        s.hosts,
        s.ttl_min,
        s.ttl_max,
        s.hops,
        clock(s.last_seen_ns)
    );
    let open = source_findings(s);
    if !open.is_empty() {
        let _ = write!(text, "; open: {open}");
    }
    text
}

fn source_details(app: &App, src: &str, out: &mut Out) {
    match app.data.sources.iter().find(|l| l.row.src == src) {
        None => out.line("no longer among the busiest sources the daemon answers with"),
        Some(l) => {
            let s = &l.row;
            out.line(format!("now {} packets/s", per_second(l.rate)));
            out.line(format!(
                "{} tracked packets (all but established TCP and repeats of a reported contact)",
                s.packets
            ));
            out.line(format!("{} connection attempts (SYN without ACK)", s.syns));
            out.line(format!(
                "about {} destination ports and {} destination hosts (estimates)",
                s.ports, s.hosts
            ));
            out.line(format!(
                "TTL {} to {}: about {} hops away",
                s.ttl_min, s.ttl_max, s.hops
            ));
            out.line(format!(
                "first seen {}, last seen {}",
                format_rfc3339_ms(s.first_seen_ns),
                format_rfc3339_ms(s.last_seen_ns)
            ));
            out.blank();
            if s.findings.is_empty() {
                out.line("no open findings");
            } else {
                out.styled(
                    format!("open findings: {}", source_findings(s)),
                    level_style(app, worst(s)),
                );
            }
        }
    }
    let mut about: Vec<&Finding> = app
        .data
        .findings
        .values()
        .filter(|f| f.src.as_deref() == Some(src))
        .collect();
    about.sort_by(|a, b| b.last_seen_ns.cmp(&a.last_seen_ns).then(b.id.cmp(&a.id)));
    if !about.is_empty() {
        out.blank();
        out.line("its findings, newest first:");
        for f in about {
            out.styled(
                format!("  {}", f.summary()),
                level_style(app, f.level.as_str()),
            );
        }
    }
}

fn finding_details(app: &App, id: u64, out: &mut Out) {
    let Some(f) = app.data.findings.get(&id) else {
        out.line("no longer held");
        return;
    };
    out.styled(f.summary(), level_style(app, f.level.as_str()));
    out.blank();
    out.line(format!(
        "{} contacts, first {}, last {}",
        f.count,
        format_rfc3339_ms(f.first_seen_ns),
        format_rfc3339_ms(f.last_seen_ns),
    ));
    out.line(format!(
        "its latest line: {} at {}",
        f.status.as_str(),
        format_rfc3339_ms(f.ts_ns)
    ));
    out.line(format!(
        "from {} to {}{}{}",
        f.src.as_deref().unwrap_or("-"),
        f.dst.as_deref().unwrap_or("-"),
        f.proto
            .map(|p| format!(" over {}", p.as_str()))
            .unwrap_or_default(),
        f.tool
            .as_deref()
            .map(|t| format!(", sent by {t}"))
            .unwrap_or_default()
    ));
    out.blank();
    for paragraph in f.explanation.split('\n') {
        out.line(paragraph);
    }
    out.blank();
    out.line("evidence:");
    let evidence = serde_json::to_string_pretty(&f.evidence).unwrap_or_default();
    for line in evidence.lines() {
        out.line(format!("  {line}"));
    }
}

fn icmp_details(app: &App, family: &str, icmp_type: u8, code: u8, out: &mut Out) {
    let Some(l) = app
        .data
        .icmp
        .iter()
        .find(|l| l.row.family == family && l.row.icmp_type == icmp_type && l.row.code == code)
    else {
        out.line("no longer among the messages the daemon answers with");
        return;
    };
    let r = &l.row;
    out.styled(
        format!("[{}] {}", r.level, named(&r.name, &r.meaning)),
        level_style(app, &r.level),
    );
    out.blank();
    out.line(format!(
        "{} messages, now {} per second",
        r.packets,
        per_second(l.rate)
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_fit_their_columns() {
        assert_eq!(count(99_999), "99999");
        assert_eq!(count(123_456), "123k");
        assert_eq!(count(1_234_567), "1.2M");
        assert_eq!(per_second(None), "-");
        assert_eq!(per_second(Some(0.25)), "0.2");
        assert_eq!(per_second(Some(12.6)), "13");
        assert_eq!(per_second(Some(250_000.0)), "250k");
        assert_eq!(bytes(870.0), "870 B");
        assert_eq!(bytes(98_100.0), "98 kB");
        assert_eq!(bytes(1_234_000.0), "1.2 MB");
        assert_eq!(interval_text(Duration::from_secs(1)), "1s");
        assert_eq!(interval_text(Duration::from_millis(250)), "250ms");
        assert_eq!(interval_text(Duration::from_mins(2)), "2m");
    }

    #[test]
    fn a_sparkline_scales_to_its_highest_rate_and_keeps_the_newest_at_the_right() {
        let h: VecDeque<f64> = [0.0, 1.0, 8.0, 4.0].into_iter().collect();
        assert_eq!(sparkline(&h, 6), "   ▁█▄");
        // Twelve samples in four characters: each the highest of three.
        let h: VecDeque<f64> = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 4.0]
            .into_iter()
            .collect();
        assert_eq!(sparkline(&h, 4), "▂ ▄█");
        assert_eq!(sparkline(&VecDeque::new(), 3), "   ");
    }

    #[test]
    fn first_words_cut_at_a_word() {
        assert_eq!(first_words("A scan of ports.", 20), "A scan of ports.");
        assert_eq!(first_words("A scan of many ports.", 12), "A scan of…");
        assert_eq!(first_words("Unbroken", 5), "Unbr…");
    }
}
