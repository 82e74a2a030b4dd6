//! The client side: one request, one response.

use std::{
    io,
    path::{Path, PathBuf},
};

use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

use super::{
    frame,
    protocol::{Query, Request, Response, VERSION},
};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "no probe daemon is serving {0}: start one with `probe run --iface IF` (as root), or point --socket at the one that runs"
    )]
    NoDaemon(PathBuf),
    #[error("not allowed to open {0}: run as root, or as a member of the socket's group")]
    Denied(PathBuf),
    #[error("talking to the daemon on {path} failed")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the daemon's answer could not be read")]
    Frame(#[from] frame::FrameError),
    #[error("the daemon closed the connection without answering")]
    NoAnswer,
    #[error("the daemon's answer is not valid")]
    Decode(#[from] serde_json::Error),
    #[error("the daemon refused the request ({code}): {message}")]
    Refused { code: String, message: String },
}

/// Sends `query` to the daemon on `socket` and decodes its answer as `T`.
pub async fn ask<T: DeserializeOwned>(socket: &Path, query: Query) -> Result<T, ClientError> {
    ask_about(socket, None, query).await
}

/// As [`ask`], about only the interface `iface` of a daemon watching several (`None`: all of
/// them).
pub async fn ask_about<T: DeserializeOwned>(
    socket: &Path,
    iface: Option<&str>,
    query: Query,
) -> Result<T, ClientError> {
    let mut stream = UnixStream::connect(socket)
        .await
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                ClientError::NoDaemon(socket.to_owned())
            }
            io::ErrorKind::PermissionDenied => ClientError::Denied(socket.to_owned()),
            _ => ClientError::Io {
                path: socket.to_owned(),
                source: e,
            },
        })?;
    let body = serde_json::to_vec(&Request {
        version: VERSION,
        iface: iface.map(str::to_owned),
        query,
    })?;
    // A daemon that refuses the connection (too many clients) answers and closes before it
    // reads anything: the write then fails, but its refusal is waiting to be read.
    let written = frame::write(&mut stream, &body).await;
    let reply = match frame::read(&mut stream, frame::MAX_RESPONSE).await {
        Ok(Some(reply)) => reply,
        Ok(None) => {
            return Err(written
                .err()
                .map_or(ClientError::NoAnswer, ClientError::Frame));
        }
        Err(e) => return Err(ClientError::Frame(written.err().unwrap_or(e))),
    };
    let response: Response = serde_json::from_slice(&reply)?;
    match (response.ok, response.error) {
        (Some(value), _) => Ok(serde_json::from_value(value)?),
        (None, Some(e)) => Err(ClientError::Refused {
            code: e.code,
            message: e.message,
        }),
        (None, None) => Err(ClientError::NoAnswer),
    }
}
