//! Arbitrary bytes as a capture file for `probe replay`: `Capture` reads a path, so each input is
//! written to a scratch file on tmpfs, opened, and read frame by frame until the end or the first
//! damage. It must never panic, and must always come to an end.
#![no_main]

use std::{
    fs::File,
    os::{fd::AsRawFd as _, unix::fs::FileExt as _},
    path::{Path, PathBuf},
    sync::OnceLock,
};

use libfuzzer_sys::fuzz_target;
use probe_common::packet::parse;
use probe_user::capture::{Capture, CaptureError};

/// Smallest bytes one frame costs the file: a pcapng simple packet block is 16 bytes, a legacy
/// pcap record header 16, an enhanced packet block 32.
const MIN_BLOCK: usize = 16;
/// The Ethernet header the reader puts in front of raw-IP frames.
const SYNTHETIC_HEADER: usize = 14;

/// The scratch file and the path that reopens it. The file is unlinked as soon as it exists and
/// reached through `/proc/self/fd`, so nothing is left behind however the process ends (libFuzzer
/// exits without running destructors); one per process, so parallel runs do not collide.
fn scratch() -> &'static (File, PathBuf) {
    static SCRATCH: OnceLock<(File, PathBuf)> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let dir = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let path = dir.join(format!("probe-fuzz-capture-{}", std::process::id()));
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("creating the scratch capture file");
        std::fs::remove_file(&path).expect("unlinking the scratch capture file");
        let reopen = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        (file, reopen)
    })
}

fuzz_target!(|bytes: &[u8]| {
    let (file, path) = scratch();
    file.set_len(0).expect("emptying the scratch file");
    file.write_all_at(bytes, 0)
        .expect("writing the scratch file");
    let mut capture = match Capture::open(path) {
        Ok(capture) => capture,
        Err(CaptureError::Open { source, .. }) => panic!("the scratch file must open: {source}"),
        Err(_) => return,
    };
    let mut frames = 0usize;
    loop {
        match capture.next_frame() {
            Ok(Some(frame)) => {
                frames += 1;
                // Each frame consumed a block of the file: more frames than that is a reader
                // going round in circles.
                assert!(
                    frames <= bytes.len() / MIN_BLOCK,
                    "more frames than the file holds"
                );
                assert!(frame.data.len() <= bytes.len() + SYNTHETIC_HEADER);
                // What the replay does next with every frame.
                let _ = parse(&frame.data);
            }
            Ok(None) => break,
            Err(e) => {
                if let CaptureError::Damaged { offset, .. } = &e {
                    assert!(
                        *offset <= bytes.len() as u64,
                        "damage reported past the end"
                    );
                }
                // The replay prints this as the one line an operator reads.
                assert!(!e.to_string().contains('\n'));
                break;
            }
        }
    }
});
