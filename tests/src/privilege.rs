//! The guard every privileged test starts with.

/// True when the test may create namespaces and attach XDP.
///
/// Not root: with `PROBE_SKIP_PRIVILEGED=1` the test is reported as skipped and should return
/// (see [`require_root!`](crate::require_root)); without it the test fails, so a run that could
/// not test anything never looks like a pass.
pub fn privileged() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("PROBE_SKIP_PRIVILEGED").is_some_and(|v| v == "1") {
        eprintln!("skipped: needs root");
        return false;
    }
    panic!(
        "this test needs root (it creates network namespaces and attaches XDP); run as root or set PROBE_SKIP_PRIVILEGED=1 to skip"
    );
}
