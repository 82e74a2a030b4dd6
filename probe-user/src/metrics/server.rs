//! The HTTP side of `/metrics` (hyper, HTTP/1.1): `GET /metrics` answers the exposition, `/`
//! says where it is, anything else is 404 or 405. Each connection has a deadline and only a
//! few are served at once, so a client that connects and stalls costs nothing lasting.

use std::{convert::Infallible, sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode, body::Incoming, header, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::sync::{Semaphore, watch};

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Connections served at once; more wait for a free place (the listener's backlog holds them).
const MAX_CONNECTIONS: usize = 8;
/// The longest a connection is kept, whatever the client does.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);

/// What a scrape shows: the daemon's counters and findings, or anything else in tests.
pub trait Source: Send + Sync + 'static {
    fn scrape(&self) -> String;
}

/// Serves `listener` until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    source: Arc<dyn Source>,
    mut stop: watch::Receiver<bool>,
) {
    let places = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, say: wait a little rather than spin.
                log::warn!("accepting a metrics connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(place) = Arc::clone(&places).acquire_owned().await else {
            return;
        };
        let source = Arc::clone(&source);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let source = Arc::clone(&source);
                async move { Ok::<_, Infallible>(respond(&req, source.as_ref())) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, conn).await;
            drop(place);
        });
    }
}

fn respond(req: &Request<Incoming>, source: &dyn Source) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    let (status, content_type, body) = match (path, get) {
        ("/metrics", true) => (StatusCode::OK, CONTENT_TYPE, source.scrape()),
        ("/", true) => (
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "probe: the metrics are at /metrics\n".to_owned(),
        ),
        ("/metrics" | "/", false) => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET and HEAD are served here\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: the metrics are at /metrics\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if !get {
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
    }
    response
}
