//! The terminal side of `probe top`: raw mode and the alternate screen, always given back (on
//! quitting, on an error, and after a panic), and the loop that joins keys, refreshes and
//! drawing.

use std::{
    io::{self, Stdout},
    path::PathBuf,
    sync::Once,
    time::{Duration, Instant},
};

use crossterm::{
    cursor::{Hide, Show},
    event::{self, Event},
    execute,
    terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode},
};
use ratatui::{Terminal, backend::CrosstermBackend, layout::Rect};

use super::{App, feed::Feed, keys, view};

/// Longest wait for a key while a refresh is under way: its answers show this soon.
const ANSWER_POLL: Duration = Duration::from_millis(50);
/// Longest wait for a key otherwise.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// What `probe top` was started with.
#[derive(Clone, Debug)]
pub struct Options {
    pub socket: PathBuf,
    /// Only this interface of a daemon watching several.
    pub iface: Option<String>,
    pub interval: Duration,
    /// False for monochrome.
    pub color: bool,
}

/// Runs the view until the operator quits; the terminal is given back however it ends.
pub fn run(options: &Options) -> anyhow::Result<()> {
    let mut feed = Feed::start(options.socket.clone(), options.iface.clone())?;
    let mut app = App::new(
        options.socket.display().to_string(),
        options.interval,
        options.color,
    );
    let mut screen = Screen::enter()?;
    let mut next = Instant::now();
    let mut dirty = true;
    loop {
        if let Some(outcome) = feed.take() {
            app.absorb(outcome);
            dirty = true;
        }
        if app.quit {
            break;
        }
        let now = Instant::now();
        if !app.paused && (app.refresh_now || now >= next) && feed.ask(app.want()) {
            app.refresh_now = false;
            next = now + app.interval;
        }
        if dirty {
            let size = screen.terminal.size()?;
            app.page = view::page_rows(&app, Rect::new(0, 0, size.width, size.height));
            screen.terminal.draw(|frame| view::draw(frame, &app))?;
            dirty = false;
        }
        let wait = if feed.is_busy() {
            ANSWER_POLL
        } else {
            next.saturating_duration_since(Instant::now())
                .min(IDLE_POLL)
        };
        if event::poll(wait)? {
            match event::read()? {
                Event::Key(key) => {
                    keys::handle(&mut app, key);
                    dirty = true;
                }
                Event::Resize(..) => {
                    screen.terminal.autoresize()?;
                    dirty = true;
                }
                _ => {}
            }
        }
    }
    drop(screen);
    Ok(())
}

/// The terminal in raw mode on its alternate screen; dropping it gives the terminal back.
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    fn enter() -> io::Result<Self> {
        restore_on_panic();
        enable_raw_mode()?;
        // From here on, an error gives the terminal back before it is returned.
        let terminal = execute!(io::stdout(), EnterAlternateScreen, Hide)
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())))
            .inspect_err(|_| restore())?;
        Ok(Self { terminal })
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode and the alternate screen and shows the cursor; harmless when they were
/// never entered.
fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
}

/// A panic gives the terminal back before its message is printed, so that the message is
/// readable and the shell usable.
fn restore_on_panic() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let earlier = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            earlier(info);
        }));
    });
}
