//! A full disk under the findings file: no line is ever written in part. The daemon holds the
//! lines it cannot write, says so once, writes them whole when space returns, and the file
//! parses as JSON Lines throughout.

use std::{fs, path::PathBuf, process::Command, time::Duration};

use probe_integration::{Daemon, Lab, SENSOR_V4, Scratch, latest, parse_lines, require_root};

/// A tiny tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: PathBuf, size: &str) -> Self {
        fs::create_dir_all(&dir).expect("creating the mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("running mount");
        assert!(out.status.success(), "mounting a tmpfs: {out:?}");
        Self(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_holds_findings_lines_and_writes_them_whole_when_space_returns() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let disk = Tmpfs::mount(files.path("tiny"), "16k");
    let findings = disk.0.join("findings.jsonl");
    // Findings written as soon as they are found (no wait for answers), so that all three
    // meet the full disk.
    let settings = files.path("detectors.toml");
    fs::write(&settings, "[findings]\nanswer_wait_secs = 0\n").expect("writing settings");
    let mut probe = Daemon::start_writing(
        &lab,
        Some(&findings),
        &["--detectors", settings.to_str().expect("UTF-8")],
    );
    // Fill what is left: dd stops when the disk is full.
    let filler = disk.0.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=1k", "status=none"])
        .arg(format!("of={}", filler.display()))
        .status();
    // Three findings, one per (spoofed, lab-range) source and backdoor port: three lines the
    // disk cannot take. (One port from several sources at once would be a decoy round.)
    for (src, port) in [
        ("198.18.0.77", "31337"),
        ("198.18.0.78", "12345"),
        ("198.18.0.79", "6776"),
    ] {
        lab.attacker(&["hping3", "-S", "-a", src, "-p", port, "-c", "1", SENSOR_V4]);
    }
    probe.wait_for_log("No space left on device", Duration::from_secs(5));
    assert!(
        parse_lines(&fs::read_to_string(&findings).expect("the findings file")).is_empty(),
        "nothing, not part of a line, was written"
    );

    fs::remove_file(&filler).expect("freeing the disk");
    let log = probe.wait_for_log(
        "takes findings again: every line held was written",
        Duration::from_secs(5),
    );
    assert_eq!(log.matches("writing findings failed").count(), 1, "{log}");
    let finals = probe.finish();
    // Every line parses (parse_lines panics on one that does not), and every finding is there.
    let written = latest(parse_lines(
        &fs::read_to_string(&findings).expect("the findings file"),
    ));
    let sources = |fs: &[probe_integration::Finding]| {
        fs.iter()
            .map(|f| (f.kind.clone(), f.src.clone()))
            .collect::<Vec<_>>()
    };
    // 6776, SubSeven's data port, is a dial-up remnant rather than a trojan probe.
    let expected: Vec<_> = [
        ("trojan_probe", "198.18.0.77"),
        ("trojan_probe", "198.18.0.78"),
        ("dialup_remnant", "198.18.0.79"),
    ]
    .into_iter()
    .map(|(kind, src)| (kind.to_owned(), Some(src.to_owned())))
    .collect();
    assert_eq!(sources(&written), expected, "{}", probe.log());
    assert_eq!(sources(&finals), expected);
}
