//! Reading the probe's settings files (knowledge, detector thresholds, service names) with
//! bounds: only a regular file, and no more than a stated size. A path at `/dev/zero` would
//! otherwise grow the process without end, and a FIFO with no writer would block it forever.

use std::{
    fs::{File, OpenOptions},
    io::{self, Read as _},
    os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _},
    path::Path,
};

/// The largest knowledge file (`--knowledge`) the probe reads: 4 MiB, forty times the
/// built-in tables.
pub const MAX_KNOWLEDGE_BYTES: u64 = 4 << 20;
/// The largest detector settings file (`--detectors`): 1 MiB.
pub const MAX_DETECTORS_BYTES: u64 = 1 << 20;
/// The largest services file read for port names: 4 MiB.
pub const MAX_SERVICES_BYTES: u64 = 4 << 20;

/// What kind of file a path is, in words.
fn kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

fn refuse(meta: &std::fs::Metadata) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("it is {}, not a regular file", kind(meta)),
    )
}

/// The text of the regular file at `path`, at most `max` bytes of UTF-8. Anything else is an
/// error saying what the path is or how large it is.
pub fn read(path: &Path, max: u64) -> io::Result<String> {
    // Looked at before opening: opening a FIFO for reading waits for a writer.
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(refuse(&meta));
    }
    // Without blocking, in case the path was swapped for a FIFO since; checked again.
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refuse(&meta));
    }
    let too_large = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is larger than the {max} bytes a file of this kind may hold"),
        )
    };
    if meta.len() > max {
        return Err(too_large());
    }
    let mut text = String::new();
    // One byte more than allowed tells a file that grew since it was looked at.
    file.take(max + 1).read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(too_large());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;

    use super::*;

    #[test]
    fn a_regular_file_within_the_limit_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(&path, "[[port]]\n").unwrap();
        assert_eq!(read(&path, 9).unwrap(), "[[port]]\n");
        let e = read(&path, 8).unwrap_err();
        assert_eq!(
            e.to_string(),
            "it is larger than the 8 bytes a file of this kind may hold"
        );
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_without_reading() {
        let e = read(Path::new("/dev/zero"), MAX_KNOWLEDGE_BYTES).unwrap_err();
        assert_eq!(
            e.to_string(),
            "it is a character device, not a regular file"
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            read(dir.path(), 10).unwrap_err().to_string(),
            "it is a directory, not a regular file"
        );
        let fifo = dir.path().join("fifo");
        let c = CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Returns at once: nothing waits for a writer.
        assert_eq!(
            read(&fifo, 10).unwrap_err().to_string(),
            "it is a FIFO, not a regular file"
        );
    }
}
