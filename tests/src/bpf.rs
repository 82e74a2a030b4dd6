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

fn bytes(v: &Value) -> Vec<u8> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a byte list: {v}"))
        .iter()
        .map(|b| {
            let hex = b.as_str().and_then(|s| s.strip_prefix("0x")).unwrap_or("?");
            u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("not a hex byte: {b}"))
        })
        .collect()
}

/// Every entry of the pinned per-CPU map at `path` as (key bytes, each CPU's value bytes).
pub fn per_cpu_entries(path: &Path) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let dump = bpftool(&["map", "dump", "pinned", &path_arg(path)]);
    dump.as_array()
        .unwrap_or_else(|| panic!("bpftool map dump did not print a list: {dump}"))
        .iter()
        .map(|e| {
            let values = e["values"]
                .as_array()
                .unwrap_or_else(|| panic!("not a per-CPU entry: {e}"))
                .iter()
                .map(|v| bytes(&v["value"]))
                .collect();
            (bytes(&e["key"]), values)
        })
        .collect()
}

/// Every entry of the pinned map at `path` as (key bytes, value bytes).
pub fn map_entries(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let dump = bpftool(&["map", "dump", "pinned", &path_arg(path)]);
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

/// The packets total read straight from a pinned TOTALS map (no daemon needed): counter
/// `total::PACKETS` of every CPU's slice, summed (probe-common/src/counters.rs makes element
/// `cpu` of the map that CPU's slice of `total::COUNT` counters).
pub fn pinned_packets(totals: &Path) -> u64 {
    let at = probe_common::counters::total::PACKETS as usize * 8;
    map_entries(totals)
        .into_iter()
        .filter_map(|(_, value)| Some(u64::from_le_bytes(value.get(at..at + 8)?.try_into().ok()?)))
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
