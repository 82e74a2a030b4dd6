//! Reading what the daemon pinned in bpffs with `bpftool`, independently of the daemon: the
//! maps' sizes and contents, and the program its pinned link runs.

use std::{path::Path, process::Command};

use serde_json::Value;

/// `bpftool -j <args>`, parsed; panics unless it succeeds.
pub fn bpftool(args: &[&str]) -> Value {
    let out = Command::new("bpftool")
        .arg("-j")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run bpftool (`cargo xtask setup` installs it): {e}"));
    assert!(
        out.status.success(),
        "bpftool {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("bpftool prints JSON with -j")
}

fn path_arg(path: &Path) -> String {
    path.to_str()
        .unwrap_or_else(|| panic!("a non-UTF-8 pin path {}", path.display()))
        .to_owned()
}

/// `bpftool map show pinned <path>`: `max_entries`, `bytes_memlock`, ...
pub fn map_info(path: &Path) -> Value {
    bpftool(&["map", "show", "pinned", &path_arg(path)])
}

/// Every entry of the pinned map at `path` as (key bytes, value bytes).
pub fn map_entries(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let dump = bpftool(&["map", "dump", "pinned", &path_arg(path)]);
    let bytes = |v: &Value| -> Vec<u8> {
        v.as_array()
            .unwrap_or_else(|| panic!("not a byte list: {v}"))
            .iter()
            .map(|b| {
                let hex = b.as_str().and_then(|s| s.strip_prefix("0x")).unwrap_or("?");
                u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("not a hex byte: {b}"))
            })
            .collect()
    };
    dump.as_array()
        .unwrap_or_else(|| panic!("bpftool map dump did not print a list: {dump}"))
        .iter()
        .map(|e| {
            // Per-CPU maps list their values per CPU; only the keys matter then.
            let value = if e["value"].is_array() {
                bytes(&e["value"])
            } else {
                Vec::new()
            };
            (bytes(&e["key"]), value)
        })
        .collect()
}

/// The packets total read straight from a pinned TOTALS map (no daemon needed): key 0 of every
/// CPU's slice, summed (probe-common/src/counters.rs lays the map out as one slice of
/// `total::COUNT` keys per CPU).
pub fn pinned_packets(totals: &Path) -> u64 {
    let slice = probe_common::counters::total::COUNT;
    map_entries(totals)
        .into_iter()
        .filter_map(|(key, value)| {
            let key = u32::from_le_bytes(key.try_into().ok()?);
            let value = u64::from_le_bytes(value.try_into().ok()?);
            (key % slice == probe_common::counters::total::PACKETS).then_some(value)
        })
        .sum()
}

/// The id of the program the pinned link at `link` runs.
pub fn link_program(link: &Path) -> u64 {
    let v = bpftool(&["link", "show", "pinned", &path_arg(link)]);
    v["prog_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no prog_id in {v}"))
}

/// True while a program with this id is loaded.
pub fn program_loaded(id: u64) -> bool {
    Command::new("bpftool")
        .args(["prog", "show", "id", &id.to_string()])
        .output()
        .is_ok_and(|o| o.status.success())
}
