//! `probe query` with nobody serving the socket: a clear message and a non-zero exit, whether
//! the socket file is missing or left behind by a daemon that died.

use std::{os::unix::net::UnixListener, path::Path, process::Command};

use probe_integration::probe_bin;

fn query_stats(socket: &Path) -> (bool, String) {
    let out = Command::new("timeout")
        .arg("10")
        .arg(probe_bin())
        .args(["query", "stats", "--json", "--socket"])
        .arg(socket)
        .output()
        .expect("running probe query");
    assert!(
        out.stdout.is_empty(),
        "nothing may reach stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_says_no_daemon(socket: &Path) {
    let (ok, stderr) = query_stats(socket);
    assert!(
        !ok,
        "probe query must fail with no daemon; stderr: {stderr}"
    );
    assert!(
        stderr.contains("no probe daemon") && stderr.contains(&socket.display().to_string()),
        "the message should say no daemon serves {}: {stderr}",
        socket.display()
    );
}

#[test]
fn a_missing_socket_is_reported_as_no_daemon() {
    let socket = std::env::temp_dir().join(format!("probe-it-absent-{}.sock", std::process::id()));
    assert!(!socket.exists());
    assert_says_no_daemon(&socket);
}

#[test]
fn a_stale_socket_file_is_reported_as_no_daemon() {
    let socket = std::env::temp_dir().join(format!("probe-it-stale-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    // Binding then dropping the listener leaves the file with nobody accepting: what a killed
    // daemon leaves behind.
    drop(UnixListener::bind(&socket).expect("binding a unix socket"));
    assert!(socket.exists());
    assert_says_no_daemon(&socket);
    std::fs::remove_file(&socket).expect("removing the stale socket");
}
