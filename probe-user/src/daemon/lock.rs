//! One daemon per interface. A second daemon on an interface that a live one watches would
//! take over its pinned program and, on exit, remove the pins from under it. Each daemon holds
//! an exclusive `flock` on a file named after the network namespace and the interface for as
//! long as it runs; the kernel drops the lock when the process dies however it dies, so the
//! probe a killed daemon left can still be taken over, and only that one.

use std::{
    fs::{File, OpenOptions},
    io::{self, Read as _, Seek as _, Write as _},
    os::{fd::AsRawFd as _, unix::fs::OpenOptionsExt as _},
    path::{Path, PathBuf},
};

use crate::pins;

/// Where the lock files live (a tmpfs: nothing of them outlives a reboot).
pub const LOCK_DIR: &str = "/run/probe/interfaces";

/// The lock, held until dropped. The file stays: removing it could let two daemons lock two
/// different files of the same name.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another probe daemon ({holder}) is watching {iface}: stop it first (it detaches when it exits), or watch another interface"
    )]
    Held { iface: String, holder: String },
    #[error(
        "cannot take the lock {path} that keeps a second daemon off {iface}: the daemon writes it under {LOCK_DIR}, which needs root"
    )]
    Io {
        path: PathBuf,
        iface: String,
        #[source]
        source: io::Error,
    },
}

/// Takes the lock of `iface` in this thread's network namespace, and writes who holds it
/// (this process and its `socket`) for the next daemon to name.
pub fn take(iface: &str, socket: &Path) -> Result<Lock, LockError> {
    take_in(Path::new(LOCK_DIR), iface, socket)
}

fn take_in(dir: &Path, iface: &str, socket: &Path) -> Result<Lock, LockError> {
    let path = dir.join(format!(
        "{}-{iface}.lock",
        pins::netns_inode().unwrap_or_default()
    ));
    let fail = |source| LockError::Io {
        path: path.clone(),
        iface: iface.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&path)
        .map_err(fail)?;
    // SAFETY: a plain flock on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(fail(e));
        }
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        return Err(LockError::Held {
            iface: iface.to_owned(),
            holder: if holder.is_empty() {
                "one that has not said who it is yet".to_owned()
            } else {
                holder.to_owned()
            },
        });
    }
    file.set_len(0).map_err(fail)?;
    file.rewind().map_err(fail)?;
    write!(
        file,
        "pid {}, queries on {}",
        std::process::id(),
        socket.display()
    )
    .map_err(fail)?;
    Ok(Lock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_interface_is_refused_naming_the_first_until_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let first = take_in(dir.path(), "eth9", Path::new("/run/a.sock")).unwrap();
        let second = take_in(dir.path(), "eth9", Path::new("/run/b.sock")).unwrap_err();
        assert_eq!(
            second.to_string(),
            format!(
                "another probe daemon (pid {}, queries on /run/a.sock) is watching eth9: stop it first (it detaches when it exits), or watch another interface",
                std::process::id()
            )
        );
        // Another interface is free; once the first goes, so is this one.
        let other = take_in(dir.path(), "eth8", Path::new("/run/c.sock")).unwrap();
        drop(first);
        let again = take_in(dir.path(), "eth9", Path::new("/run/d.sock")).unwrap();
        drop((other, again));
    }
}
