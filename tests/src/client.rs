//! A hand-driven client of the query socket, for sending what `probe query` never would: raw
//! bytes, oversized length headers, unknown versions, half frames (docs/protocol.md).

use std::{
    io::{self, Read as _, Write as _},
    os::unix::net::UnixStream,
    path::Path,
    time::Duration,
};

use serde_json::Value;

/// One connection to the daemon's socket.
pub struct Client {
    stream: UnixStream,
}

/// What came back when a response was awaited.
#[derive(Debug)]
pub enum Reply {
    /// One whole frame, parsed as JSON.
    Frame(Value),
    /// The daemon closed the connection (between frames). A close while bytes the client sent
    /// were still unread in the daemon's queue reaches the client as a reset (`ECONNRESET`)
    /// once it has read everything the daemon sent: that is a hang-up too.
    Closed,
}

impl Client {
    /// Connects; every later read gives up after `timeout`.
    pub fn connect(socket: &Path, timeout: Duration) -> io::Result<Self> {
        let stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Self { stream })
    }

    /// Writes `bytes` as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Writes `body` as one frame (4-byte big-endian length, then the body).
    pub fn send_frame(&mut self, body: &[u8]) -> io::Result<()> {
        let len = u32::try_from(body.len()).map_err(io::Error::other)?;
        let mut frame = len.to_be_bytes().to_vec();
        frame.extend_from_slice(body);
        self.send_raw(&frame)
    }

    /// Says no more will be written (the daemon sees end of input).
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.stream.shutdown(std::net::Shutdown::Write)
    }

    /// Reads one response frame, or [`Reply::Closed`] when the daemon hung up before one.
    /// A timeout or a cut frame is an error.
    pub fn read_reply(&mut self) -> io::Result<Reply> {
        let mut header = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match self.stream.read(&mut header[got..]) {
                Ok(0) if got == 0 => return Ok(Reply::Closed),
                Ok(0) => return Err(io::Error::other("closed inside a length header")),
                Ok(n) => got += n,
                // A timed socket read is not restarted after a signal (a stop and continue,
                // a cgroup freeze): the wait goes on.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if got == 0 && e.kind() == io::ErrorKind::ConnectionReset => {
                    return Ok(Reply::Closed);
                }
                Err(e) => return Err(e),
            }
        }
        let len = u32::from_be_bytes(header) as usize;
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body)?;
        serde_json::from_slice(&body)
            .map(Reply::Frame)
            .map_err(|e| io::Error::other(format!("a response that is not JSON ({e})")))
    }

    /// Sends `request` (a JSON value) as a frame and reads the response frame; panics on
    /// anything but one whole frame.
    pub fn ask(&mut self, request: &Value) -> Value {
        self.send_frame(request.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("sending {request}: {e}"));
        match self.read_reply() {
            Ok(Reply::Frame(v)) => v,
            other => panic!("no response to {request}: {other:?}"),
        }
    }
}

/// The error code of a response (`None` for an `ok` response); panics if it is neither.
pub fn error_code(response: &Value) -> Option<&str> {
    match (response.get("ok"), response.get("error")) {
        (Some(_), None) => None,
        (None, Some(e)) => Some(
            e.get("code")
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("an error without a code: {response}")),
        ),
        _ => panic!("a response must have exactly one of ok and error: {response}"),
    }
}
