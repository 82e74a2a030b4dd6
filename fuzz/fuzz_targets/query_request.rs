//! Arbitrary bytes on the query socket: as one request body through `decode_request`, and as a
//! byte stream through the daemon's framing (`frame::read`), each body it yields decoded too.
//! Nothing may panic; every refusal is a well-formed error response; every accepted request
//! survives a round trip; the framing reads exactly what the length prefixes say.
#![no_main]

use std::{
    io,
    pin::Pin,
    sync::OnceLock,
    task::{Context, Poll},
};

use libfuzzer_sys::fuzz_target;
use probe_user::query::{
    frame::{self, FrameError, MAX_REQUEST},
    protocol::{VERSION, decode_request},
};
use tokio::{
    io::{AsyncRead, ReadBuf},
    runtime::Runtime,
};

fuzz_target!(|bytes: &[u8]| {
    decodes_or_explains(bytes);
    frames_are_read_exactly(bytes);
});

fn decodes_or_explains(body: &[u8]) {
    match decode_request(body) {
        Ok(request) => {
            assert_eq!(request.version, VERSION);
            let wire = serde_json::to_vec(&request).expect("a request serializes");
            assert_eq!(
                decode_request(&wire).expect("a request's own wire form decodes"),
                request
            );
        }
        Err(response) => {
            // The daemon sends this back as it is.
            serde_json::to_vec(&response).expect("an error response serializes");
            assert_eq!(response.version, VERSION);
            assert!(response.ok.is_none());
            let error = response.error.expect("a refusal carries an error");
            assert!(
                ["bad_request", "unsupported_version"].contains(&error.code.as_str()),
                "unexpected error code {:?}",
                error.code
            );
        }
    }
}

/// The first byte sets how many bytes the stream hands over per read (1 to 8, then "all"), so
/// frames split across reads are exercised; the rest is the stream.
fn frames_are_read_exactly(bytes: &[u8]) {
    let Some((&chunk, stream)) = bytes.split_first() else {
        return;
    };
    let chunk = match chunk % 9 {
        0 => usize::MAX,
        n => usize::from(n),
    };
    let mut reader = Trickle {
        rest: stream,
        chunk,
    };
    let mut at = 0;
    runtime().block_on(async {
        loop {
            let remaining = &stream[at..];
            let result = frame::read(&mut reader, MAX_REQUEST).await;
            match result {
                Ok(Some(body)) => {
                    let prefix = remaining.first_chunk::<4>().expect("a frame has a prefix");
                    let len = u32::from_be_bytes(*prefix);
                    assert!(len <= MAX_REQUEST);
                    assert_eq!(&body[..], &remaining[4..4 + len as usize]);
                    at += 4 + body.len();
                    decodes_or_explains(&body);
                }
                // The end of the stream: fewer bytes left than a length prefix. (A stream that
                // stops inside a prefix counts as a clean close today, not as `Truncated`.)
                Ok(None) => {
                    assert!(remaining.len() < 4);
                    break;
                }
                Err(FrameError::TooLarge { len, max }) => {
                    assert_eq!(max, MAX_REQUEST);
                    assert!(len > MAX_REQUEST);
                    assert_eq!(len.to_be_bytes(), remaining[..4]);
                    break;
                }
                // Cut inside the body (or, should that change, inside the prefix).
                Err(FrameError::Truncated) => {
                    if let Some(prefix) = remaining.first_chunk::<4>() {
                        assert!(remaining.len() - 4 < u32::from_be_bytes(*prefix) as usize);
                    }
                    break;
                }
                Err(FrameError::Io(e)) => panic!("an in-memory stream cannot fail: {e}"),
            }
        }
    });
}

/// One current-thread runtime for the whole run: building one per input would dominate.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

/// A stream that hands over at most `chunk` bytes per read, like a slow peer.
struct Trickle<'a> {
    rest: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.rest.len().min(self.chunk).min(buf.remaining());
        let (now, later) = self.rest.split_at(n);
        buf.put_slice(now);
        self.rest = later;
        Poll::Ready(Ok(()))
    }
}
