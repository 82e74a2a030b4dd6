//! What each key does to the state: a plain function, tested as transitions.
//!
//! Ctrl-C and `q` quit from anywhere (but `q` is typed into a filter being edited). Esc backs
//! out of one thing at a time: the filter being typed, an overlay, a filter set; with nothing
//! to back out of, it quits.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{App, Overlay, Pane, Target};

/// Applies `key` to `app`.
pub fn handle(app: &mut App, key: KeyEvent) {
    if key.kind == KeyEventKind::Release {
        return;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        app.quit = true;
        return;
    }
    if app.editing {
        edit_filter(app, key.code);
        return;
    }
    match app.overlay.take() {
        Some(Overlay::Help) => help(app, key.code),
        Some(Overlay::Details { target, scroll }) => details(app, key.code, target, scroll),
        None => panes(app, key.code),
    }
}

fn edit_filter(app: &mut App, code: KeyCode) {
    match code {
        KeyCode::Enter => app.editing = false,
        KeyCode::Esc => {
            app.editing = false;
            app.set_filter("");
        }
        KeyCode::Backspace => {
            let mut text = app.filter.clone();
            text.pop();
            app.set_filter(&text);
        }
        KeyCode::Char(c) if !c.is_control() => {
            let mut text = app.filter.clone();
            text.push(c);
            app.set_filter(&text);
        }
        _ => {}
    }
}

/// Any key closes the help; `q` quits as everywhere.
fn help(app: &mut App, code: KeyCode) {
    if code == KeyCode::Char('q') {
        app.quit = true;
    }
}

fn details(app: &mut App, code: KeyCode, target: Target, scroll: u16) {
    let page = u16::try_from(app.page).unwrap_or(u16::MAX);
    let scroll = match code {
        KeyCode::Char('q') => {
            app.quit = true;
            return;
        }
        KeyCode::Esc | KeyCode::Enter | KeyCode::Backspace => return,
        KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => scroll.saturating_add(1),
        KeyCode::PageUp => scroll.saturating_sub(page),
        KeyCode::PageDown => scroll.saturating_add(page),
        KeyCode::Home => 0,
        _ => scroll,
    };
    app.overlay = Some(Overlay::Details { target, scroll });
}

fn panes(app: &mut App, code: KeyCode) {
    let page = isize::try_from(app.page.max(1)).unwrap_or(isize::MAX);
    match code {
        KeyCode::Esc if !app.filter.is_empty() => app.set_filter(""),
        KeyCode::Char('q') | KeyCode::Esc => app.quit = true,
        KeyCode::Tab => app.focus = app.focus.next(),
        KeyCode::BackTab => app.focus = app.focus.previous(),
        KeyCode::Up | KeyCode::Char('k') => app.move_by(-1),
        KeyCode::Down | KeyCode::Char('j') => app.move_by(1),
        KeyCode::PageUp => app.move_by(-page),
        KeyCode::PageDown => app.move_by(page),
        KeyCode::Home => app.move_to_end(false),
        KeyCode::End => app.move_to_end(true),
        KeyCode::Enter => {
            if let Some(target) = app.selection() {
                // A port's details come from a query of their own: ask at once.
                if matches!(target, Target::Port(..)) {
                    app.data.port = None;
                    app.refresh_now = true;
                }
                app.overlay = Some(Overlay::Details { target, scroll: 0 });
            }
        }
        KeyCode::Char('/') => app.editing = true,
        KeyCode::Char('s') => app.next_sort(),
        KeyCode::Char(' ') => {
            app.paused = !app.paused;
            app.refresh_now = !app.paused;
        }
        KeyCode::Char('?') => app.overlay = Some(Overlay::Help),
        KeyCode::Char(c @ '1'..='4') => {
            let n = usize::from(c as u8 - b'1');
            app.focus = Pane::ALL[n];
        }
        _ => {}
    }
}
