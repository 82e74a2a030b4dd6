//! `probe top` in a real terminal against a real daemon: tmux gives it a 160×48 screen, hping3
//! sends three SYNs to Back Orifice's 31337, and the screen, read with `tmux capture-pane`,
//! shows the port's row, the source's and the trojan_probe finding they caused. `q` ends it
//! with status 0 and the terminal given back (its alternate screen left).

use std::{
    path::Path,
    process::{Command, Output},
    thread,
    time::{Duration, Instant},
};

use probe_integration::{ATTACKER_V4, Daemon, Lab, SENSOR_V4, probe_bin, require_root};

/// Longest wait for the screen to show what was sent: the finding is written after its wait
/// for answers (2 s), and probe top asks every second.
const SHOW_LIMIT: Duration = Duration::from_secs(20);

/// A tmux server of its own (`tmux -L NAME`) running one command in a detached session;
/// dropping it kills the server.
struct Tmux {
    name: String,
}

impl Tmux {
    fn start(width: u16, height: u16, argv: &[&str]) -> Self {
        let tmux = Self {
            name: format!("probe-it-top-{}", probe_lab::unique_id()),
        };
        let (w, h) = (width.to_string(), height.to_string());
        let mut tmux_args = vec![
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            w.as_str(),
            "-y",
            h.as_str(),
        ];
        tmux_args.extend_from_slice(argv);
        tmux.run(&tmux_args);
        // Keep the pane once its command ends, to read how it ended.
        tmux.run(&["set-option", "-t", "top", "remain-on-exit", "on"]);
        tmux
    }

    fn command(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.name)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run tmux (cargo xtask setup installs it): {e}"))
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.command(args);
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "top"])
    }

    /// Waits until the screen passes `done`; returns it.
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + SHOW_LIMIT;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "probe top did not show {what} within {SHOW_LIMIT:?}; the screen:\n{screen}"
            );
            thread::sleep(Duration::from_millis(250));
        }
    }

    /// `#{pane_dead}` and `#{pane_dead_status}`: whether the command ended, and its status.
    fn ended(&self) -> (bool, String) {
        let said = self.run(&[
            "display-message",
            "-p",
            "-t",
            "top",
            "#{pane_dead} #{pane_dead_status}",
        ]);
        let mut words = said.split_whitespace();
        (
            words.next() == Some("1"),
            words.next().unwrap_or("").to_owned(),
        )
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command(&["kill-server"]);
    }
}

/// The words of the first screen line holding every one of `needles`, box-drawing borders
/// taken for spaces, from the word `from` on: the rows of two panes side by side share a
/// line.
fn words<'a>(screen: &'a str, needles: &[&str], from: &str) -> Vec<&'a str> {
    let line = screen
        .lines()
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| panic!("no line with {needles:?} on the screen:\n{screen}"));
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || matches!(c, '│' | '┃'))
        .filter(|w| !w.is_empty())
        .collect();
    let at = words
        .iter()
        .position(|w| *w == from)
        .unwrap_or_else(|| panic!("{from:?} is not a word of {line:?}"));
    words[at..].to_vec()
}

#[test]
fn probe_top_shows_the_traffic_sent_and_the_finding_it_caused() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);
    let bin = probe_bin();
    let socket = probe.socket().display().to_string();
    let top = Tmux::start(
        160,
        48,
        &[
            bin.to_str().expect("a UTF-8 path"),
            "top",
            "--socket",
            &socket,
        ],
    );
    // The first line ends with the state (tmux drops trailing blanks).
    top.wait_for("the daemon answering", |s| {
        s.lines().next().is_some_and(|l| l.ends_with(" live"))
    });

    lab.attacker(&[
        "hping3", "-S", "-p", "31337", "-c", "3", "-i", "u200000", SENSOR_V4,
    ]);
    let screen = top.wait_for("the port's row and the trojan_probe finding", |s| {
        s.contains("31337/tcp") && s.contains("trojan_probe") && s.contains(ATTACKER_V4)
    });

    // PORT LVL PKT/S TOTAL SYN ... NAME: MEANING: three SYNs to a hostile port.
    let port = words(&screen, &["31337/tcp"], "31337/tcp");
    assert_eq!((port[1], port[3], port[4]), ("!!!", "3", "3"), "{port:?}");
    assert!(port.join(" ").contains("Back Orifice's port"), "{port:?}");
    // SOURCE LVL PKT/S PACKETS PORTS~ HOSTS~ HOPS OPEN FINDINGS.
    let source = words(&screen, &[ATTACKER_V4, "trojan_probe 31337"], ATTACKER_V4);
    assert_eq!(
        (source[1], source[3], source[4], source[5], source[6]),
        ("!!!", "3", "1", "1", "0"),
        "{source:?}"
    );
    assert_eq!(&source[7..], ["trojan_probe", "31337"], "{source:?}");
    // LAST LVL KIND SOURCE PORT TOOL WHAT: the source is not repeated in the explanation.
    let finding = words(
        &screen,
        &["trojan_probe", "tried 31337/tcp"],
        "trojan_probe",
    );
    assert_eq!(
        &finding[..6],
        [
            "trojan_probe",
            ATTACKER_V4,
            "31337",
            "-",
            "tried",
            "31337/tcp"
        ],
        "{finding:?}"
    );
    assert!(
        screen.contains("open findings: 1 hostile  0 suspicious"),
        "{screen}"
    );
    // The header names the watched interface and how the probe is attached (the lab's veth
    // takes native XDP).
    assert!(
        screen.contains(&format!("probe top · {} (native XDP) · ", lab.sensor_if())),
        "{screen}"
    );

    top.run(&["send-keys", "-t", "top", "q"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    // tmux may call the pane dead a moment before it has the exit status.
    let ended = loop {
        let ended = top.ended();
        if ended.0 && !ended.1.is_empty() {
            break ended;
        }
        assert!(
            Instant::now() < deadline,
            "probe top did not end on q; the screen:\n{}",
            top.screen()
        );
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(ended, (true, "0".to_owned()), "status 0");
    // The alternate screen is left: what remains is the terminal as it was, not the view.
    let after = top.screen();
    assert!(!after.contains("probe top ·"), "{after}");
    assert!(Path::new(&socket).exists(), "the daemon still runs");
    let _ = probe.finish();
}
