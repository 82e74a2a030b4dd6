//! Bad input on the query socket: random bytes, an oversized length header, an unknown protocol
//! version, malformed JSON, and clients that connect and stall. Each gets a clear error (or is
//! hung up on), none crashes the daemon, and none delays the other clients: `probe query stats`
//! keeps answering within a second while they run. Beyond 64 connected clients the extra ones
//! are refused with `busy`, and served again once others leave (docs/protocol.md).

use std::{
    process::Output,
    sync::{Arc, Barrier},
    thread,
    time::{Duration, Instant},
};

use probe_integration::{Client, Daemon, Lab, Reply, craft::Rng, error_code, require_root};
use serde_json::{Value, json};

/// What every well-behaved client must get its answer within, whatever the others do.
const ANSWER_LIMIT: Duration = Duration::from_secs(1);
/// How long a hostile client waits for the daemon's reply or hang-up.
const REPLY_LIMIT: Duration = Duration::from_secs(5);
/// Clients the daemon serves at once (probe-user/src/query/server.rs).
const MAX_CLIENTS: usize = 64;
/// The daemon's idle timeout.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

fn connect(probe: &Daemon) -> Client {
    Client::connect(probe.socket(), REPLY_LIMIT).expect("connecting to the daemon")
}

fn stats_request() -> Value {
    json!({"version": 1, "query": "stats"})
}

/// The reply to a request the daemon must refuse with `code`, its message containing `says`.
fn assert_refused(reply: &Value, code: &str, says: &str) {
    assert_eq!(error_code(reply), Some(code), "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(says),
        "the {code} message should say {says:?}: {reply}"
    );
    assert_eq!(reply["version"], 1, "{reply}");
}

/// Reads until the daemon hangs up; every frame before that must be an error, not an answer.
fn errors_until_closed(client: &mut Client) -> Vec<String> {
    let mut codes = Vec::new();
    loop {
        match client.read_reply() {
            Ok(Reply::Closed) => return codes,
            Ok(Reply::Frame(v)) => {
                let code = error_code(&v).unwrap_or_else(|| panic!("garbage got an answer: {v}"));
                codes.push(code.to_owned());
            }
            Err(e) => panic!("the daemon neither answered nor hung up: {e}"),
        }
    }
}

/// `probe query stats --json` once; returns how long it took and what it printed.
fn timed_query(probe: &Daemon) -> (Duration, Output) {
    let start = Instant::now();
    let out = probe.run_query(&["stats"]);
    (start.elapsed(), out)
}

fn assert_answered_in_time(label: &str, (took, out): &(Duration, Output)) {
    assert!(
        out.status.success(),
        "{label}: `probe query stats` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("stats --json prints JSON");
    assert!(v["packets"].is_u64(), "{label}: {v}");
    assert!(
        *took < ANSWER_LIMIT,
        "{label}: `probe query stats` took {took:?}"
    );
}

/// One hostile client's behaviour, with the checks of what the daemon must answer it.
type Abuse = Box<dyn FnOnce(Client) + Send>;

/// Every hostile client of [`hostile_clients_get_clear_errors_and_never_delay_the_others`].
fn abusers() -> Vec<Abuse> {
    let hostile: Vec<Abuse> = vec![
        // A length header of 4 GiB: refused before a byte of the body is read, then hung up.
        Box::new(|mut c| {
            c.send_raw(&[0xff; 4]).expect("sending");
            match c.read_reply() {
                Ok(Reply::Frame(v)) => {
                    assert_refused(&v, "bad_request", "larger than the 65536-byte limit");
                }
                other => panic!("no refusal of a 4 GiB frame: {other:?}"),
            }
            assert!(errors_until_closed(&mut c).is_empty());
        }),
        // Just over the 64 KiB limit, body sent in full: refused all the same.
        Box::new(|mut c| {
            let body = vec![b' '; 64 * 1024 + 1];
            let _ = c.send_frame(&body); // the daemon may hang up before it has all of it
            match c.read_reply() {
                Ok(Reply::Frame(v)) => assert_refused(&v, "bad_request", "larger than"),
                other => panic!("no refusal of a 64 KiB + 1 frame: {other:?}"),
            }
        }),
        // Another protocol version: refused by name, and the connection still serves.
        Box::new(|mut c| {
            let reply = c.ask(&json!({"version": 2, "query": "stats"}));
            assert_refused(
                &reply,
                "unsupported_version",
                "this daemon speaks protocol version 1, the request has 2",
            );
            assert_eq!(error_code(&c.ask(&stats_request())), None);
        }),
        // Not JSON at all, then JSON without a version, then an unknown query.
        Box::new(|mut c| {
            c.send_frame(b"{\"version\": 1, \"query\": ")
                .expect("sending");
            let Ok(Reply::Frame(reply)) = c.read_reply() else {
                panic!("no refusal of broken JSON");
            };
            assert_refused(&reply, "bad_request", "request is not JSON");
            assert_refused(&c.ask(&json!({"query": "stats"})), "bad_request", "version");
            let reply = c.ask(&json!({"version": 1, "query": "everything"}));
            assert_eq!(error_code(&reply), Some("bad_request"), "{reply}");
            assert_eq!(error_code(&c.ask(&stats_request())), None);
        }),
        // A frame cut short by the client: the daemon says so and hangs up.
        Box::new(|mut c| {
            c.send_raw(&[0, 0, 0, 100, b'{']).expect("sending");
            c.shutdown_write().expect("shutting down");
            match c.read_reply() {
                Ok(Reply::Frame(v)) => {
                    assert_refused(&v, "bad_request", "closed in the middle of a frame");
                }
                other => panic!("no refusal of a cut frame: {other:?}"),
            }
            assert!(errors_until_closed(&mut c).is_empty());
        }),
    ];
    // Random bytes, several clients' worth, each ended by closing the writing side: whatever
    // the bytes make of the framing, the daemon only ever answers with errors, then hangs up.
    let random: Vec<Abuse> = (0..8u64)
        .map(|seed| -> Abuse {
            Box::new(move |mut c| {
                let mut rng = Rng::new(0xbad_5eed + seed);
                let mut bytes = rng.bytes(512 + seed as usize * 300);
                if seed % 2 == 0 {
                    // A plausible length, so the body is read and decoded: random JSON-less bytes.
                    bytes[..4].copy_from_slice(&200u32.to_be_bytes());
                }
                let _ = c.send_raw(&bytes); // the daemon may hang up before it has read it all
                let _ = c.shutdown_write();
                let codes = errors_until_closed(&mut c);
                assert!(
                    codes.iter().all(|c| c == "bad_request"),
                    "random bytes got {codes:?}"
                );
                if seed % 2 == 0 {
                    assert!(!codes.is_empty(), "a 200-byte random body must be refused");
                }
            })
        })
        .collect();

    hostile.into_iter().chain(random).collect()
}

#[test]
fn hostile_clients_get_clear_errors_and_never_delay_the_others() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // Stalled clients, held open for the whole test: silent ones, and ones that sent the
    // length of a 20-byte frame and 5 of its bytes.
    let mut stalled = Vec::new();
    for i in 0..20 {
        let mut c = connect(&probe);
        if i % 2 == 1 {
            c.send_raw(&[0, 0, 0, 20, b'{', b'"', b'v', b'e', b'r'])
                .expect("sending half a frame");
        }
        stalled.push(c);
    }

    let clients = abusers();
    let start = Arc::new(Barrier::new(clients.len() + 1));
    let abusers: Vec<_> = clients
        .into_iter()
        .map(|abuse| {
            let client = connect(&probe);
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                abuse(client);
            })
        })
        .collect();
    start.wait();
    // Meanwhile, a well-behaved client asks again and again.
    let answers: Vec<_> = (0..15)
        .map(|_| {
            let answer = timed_query(&probe);
            thread::sleep(Duration::from_millis(20));
            answer
        })
        .collect();
    for (i, a) in abusers.into_iter().enumerate() {
        if let Err(e) = a.join() {
            std::panic::resume_unwind(e);
        }
        assert!(
            probe.is_running(),
            "the daemon died after abuser {i}:\n{}",
            probe.log()
        );
    }
    for (i, answer) in answers.iter().enumerate() {
        assert_answered_in_time(&format!("query {i} during the abuse"), answer);
    }
    // The stalled clients are still connected, and still delay no one.
    assert_answered_in_time("with 20 stalled clients", &timed_query(&probe));
    drop(stalled);
    assert!(probe.is_running(), "the daemon died:\n{}", probe.log());
    assert_answered_in_time("after the stalled clients left", &timed_query(&probe));
}

#[test]
fn beyond_64_clients_the_extra_ones_are_refused_busy_and_served_once_others_leave() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // 64 clients, each served once (so each holds its slot), then idle.
    let mut idle: Vec<Client> = (0..MAX_CLIENTS).map(|_| served_client(&probe)).collect();

    // The 65th is told why, and hung up on.
    let mut extra = connect(&probe);
    match extra.read_reply() {
        Ok(Reply::Frame(v)) => assert_refused(&v, "busy", "64 clients are connected already"),
        other => panic!("the 65th client was not refused: {other:?}"),
    }
    assert!(errors_until_closed(&mut extra).is_empty());
    // So is `probe query` (what it says is the ignored test below).
    let out = probe.run_query(&["stats"]);
    assert!(!out.status.success(), "a 65th query must be refused");

    // One leaves: its slot is free again (once the daemon has seen it go).
    drop(idle.pop());
    wait_until_served(&probe);
    // All leave: queries are answered in time again.
    drop(idle);
    wait_until_served(&probe);
    assert_answered_in_time("after every idle client left", &timed_query(&probe));
}

/// A client that has been served once, and so holds one of the daemon's slots. The slot of a
/// client that just left (the query that saw the daemon start) is freed a moment after it
/// closed: a `busy` refusal until then means try again.
fn served_client(probe: &Daemon) -> Client {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut c = connect(probe);
        // A refused client may find the connection closed before its request is written.
        let _ = c.send_frame(stats_request().to_string().as_bytes());
        let reply = c.read_reply();
        match &reply {
            Ok(Reply::Frame(v)) if error_code(v).is_none() => return c,
            Ok(Reply::Frame(v)) if error_code(v) != Some("busy") => {
                panic!("a client was not served: {v}");
            }
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "no slot came free for a 64th client: {reply:?}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (at most 2 s) until a `probe query stats` is served rather than refused as busy: the
/// daemon frees a slot when it sees its client's connection close, a moment after it closed.
fn wait_until_served(probe: &Daemon) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let out = probe.run_query(&["stats"]);
        if out.status.success() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "a freed slot was not given to a new client: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn beyond_64_clients_probe_query_says_the_daemon_is_busy() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);
    let _idle: Vec<Client> = (0..MAX_CLIENTS).map(|_| served_client(&probe)).collect();
    let said: Vec<String> = (0..10)
        .map(|_| {
            let out = probe.run_query(&["stats"]);
            assert!(!out.status.success(), "a 65th query must be refused");
            String::from_utf8_lossy(&out.stderr).trim().to_owned()
        })
        .collect();
    let busy = said.iter().filter(|s| s.contains("(busy)")).count();
    assert_eq!(
        busy,
        said.len(),
        "probe query should say the daemon is busy, it said:\n{}",
        said.join("\n")
    );
}

#[test]
fn a_client_that_stays_silent_is_hung_up_on_after_30_seconds() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);
    let limit = IDLE_TIMEOUT + Duration::from_secs(5);
    let mut silent = Client::connect(probe.socket(), limit).expect("connecting");
    let mut half = Client::connect(probe.socket(), limit).expect("connecting");
    half.send_raw(&[0, 0, 0, 50, b'{'])
        .expect("sending half a frame");
    let start = Instant::now();
    for client in [&mut silent, &mut half] {
        match client.read_reply() {
            Ok(Reply::Closed) => {}
            other => panic!("a stalled client should be hung up on silently: {other:?}"),
        }
    }
    let took = start.elapsed();
    assert!(
        took >= IDLE_TIMEOUT.saturating_sub(Duration::from_millis(500)) && took < limit,
        "stalled clients were hung up on after {took:?}, not {IDLE_TIMEOUT:?}"
    );
    assert_answered_in_time("after the idle timeout", &timed_query(&probe));
}
