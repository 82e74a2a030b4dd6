//! Framing: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.

use bytes::{BufMut as _, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// Largest request the daemon accepts: requests are a few dozen bytes.
pub const MAX_REQUEST: u32 = 64 * 1024;
/// Largest response a client accepts: every port of both protocols with their meanings.
pub const MAX_RESPONSE: u32 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes is larger than the {max}-byte limit")]
    TooLarge { len: u32, max: u32 },
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads one frame. `Ok(None)` when the peer closed cleanly between frames.
pub async fn read<R: AsyncRead + Unpin>(r: &mut R, max: u32) -> Result<Option<Bytes>, FrameError> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < header.len() {
        match r.read(&mut header[got..]).await? {
            // Nothing at all: a clean close between frames. Part of a header: a cut frame.
            0 if got == 0 => return Ok(None),
            0 => return Err(FrameError::Truncated),
            n => got += n,
        }
    }
    let len = u32::from_be_bytes(header);
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut body = BytesMut::zeroed(len as usize);
    match r.read_exact(&mut body).await {
        Ok(_) => Ok(Some(body.freeze())),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(FrameError::Truncated),
        Err(e) => Err(e.into()),
    }
}

/// Writes `body` as one frame.
pub async fn write<W: AsyncWrite + Unpin>(w: &mut W, body: &[u8]) -> Result<(), FrameError> {
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge {
        len: u32::MAX,
        max: MAX_RESPONSE,
    })?;
    let mut buf = BytesMut::with_capacity(4 + body.len());
    buf.put_u32(len);
    buf.put_slice(body);
    w.write_all(&buf).await?;
    w.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_frame_round_trips() {
        let mut wire = Vec::new();
        write(&mut wire, b"{\"version\":1}").await.unwrap();
        assert_eq!(&wire[..4], &[0, 0, 0, 13]);
        let got = read(&mut wire.as_slice(), 100).await.unwrap().unwrap();
        assert_eq!(&got[..], b"{\"version\":1}");
    }

    #[tokio::test]
    async fn an_oversized_length_is_refused_before_reading_the_body() {
        let wire = [0u8, 1, 0, 0]; // 65,536 bytes announced, none sent
        let err = read(&mut wire.as_slice(), 1024).await.unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::TooLarge {
                    len: 65_536,
                    max: 1024
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_cut_body_is_truncated_and_a_clean_close_is_none() {
        let wire = [0u8, 0, 0, 5, b'a', b'b'];
        assert!(matches!(
            read(&mut wire.as_slice(), 100).await,
            Err(FrameError::Truncated)
        ));
        assert!(read(&mut [].as_slice(), 100).await.unwrap().is_none());
        // A length header cut short is a cut frame too, not a clean close.
        assert!(matches!(
            read(&mut [0u8, 0].as_slice(), 100).await,
            Err(FrameError::Truncated)
        ));
    }
}
