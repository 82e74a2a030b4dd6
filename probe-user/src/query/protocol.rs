//! Messages of the query protocol, version 1.

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks. A request with another version gets an
/// `unsupported_version` error naming this one.
pub const VERSION: u32 = 1;

/// A request: `{"version":1,"query":"ports","proto":"tcp","source":false,"top":10}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub version: u32,
    /// Only this interface of a daemon watching several; absent, all of them. Left out of the
    /// wire form when absent, so requests without it read as they always did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iface: Option<String>,
    #[serde(flatten)]
    pub query: Query,
}

/// What is asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "query", rename_all = "lowercase")]
pub enum Query {
    /// Totals: packets, bytes, per network and transport.
    Stats,
    /// Per-port counters, busiest first.
    Ports {
        /// Only this transport protocol.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proto: Option<Proto>,
        /// Source ports instead of destination ports.
        #[serde(default)]
        source: bool,
        /// At most this many rows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        top: Option<usize>,
    },
    /// ICMP and ICMPv6 type/code counters, busiest first.
    Icmp {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        top: Option<usize>,
    },
    /// TCP flag combinations, busiest first.
    Flags {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        top: Option<usize>,
    },
    /// The busiest sources (by tracked packets), with their open findings.
    Sources {
        /// At most this many rows (default [`super::answer::DEFAULT_SOURCES`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        top: Option<usize>,
        /// Only sources whose port sketch holds this destination port.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
    },
    /// One port: its counters, what it means, its busiest sources and its findings.
    Port { port: u16 },
    /// Recent findings (the latest state of each), oldest first.
    Findings {
        /// Only findings seen at or after this time, in nanoseconds since the Unix epoch.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since_ns: Option<u64>,
        /// Only findings of this kind.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<String>,
    },
}

/// The protocol a port query is about: the knowledge's one "TCP or UDP" type.
pub use crate::knowledge::Proto;

/// A response: exactly one of `ok` (the answer) and `error`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `bad_request` (not JSON, not a known query, or an interface the daemon does not watch),
    /// `unsupported_version`, `busy`, or `internal`.
    pub code: String,
    pub message: String,
}

impl Response {
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Self {
            version: VERSION,
            ok: None,
            error: Some(ErrorBody {
                code: code.to_owned(),
                message: message.into(),
            }),
        }
    }
}

/// Decodes a request, or says in a response why it cannot.
pub fn decode_request(body: &[u8]) -> Result<Request, Response> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Response::error("bad_request", format!("request is not JSON: {e}")))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return Err(Response::error(
                "unsupported_version",
                format!("this daemon speaks protocol version {VERSION}, the request has {v}"),
            ));
        }
        None => {
            return Err(Response::error(
                "bad_request",
                format!("request has no numeric \"version\"; this daemon speaks {VERSION}"),
            ));
        }
    }
    serde_json::from_value(value).map_err(|e| {
        Response::error(
            "bad_request",
            format!("not a request this daemon knows: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ports_request_has_a_stable_wire_form() {
        let r = Request {
            version: 1,
            iface: None,
            query: Query::Ports {
                proto: Some(Proto::Udp),
                source: true,
                top: Some(5),
            },
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            text,
            r#"{"version":1,"query":"ports","proto":"udp","source":true,"top":5}"#
        );
        assert_eq!(decode_request(text.as_bytes()).unwrap(), r);
    }

    #[test]
    fn an_interface_goes_between_the_version_and_the_query() {
        let r = Request {
            version: 1,
            iface: Some("eth1".into()),
            query: Query::Stats,
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"version":1,"iface":"eth1","query":"stats"}"#);
        assert_eq!(decode_request(text.as_bytes()).unwrap(), r);
        let without = decode_request(br#"{"version":1,"query":"stats"}"#).unwrap();
        assert_eq!(without.iface, None);
        assert_eq!(
            serde_json::to_string(&without).unwrap(),
            r#"{"version":1,"query":"stats"}"#
        );
    }

    #[test]
    fn omitted_options_take_their_defaults() {
        let r = decode_request(br#"{"version":1,"query":"ports"}"#).unwrap();
        assert_eq!(
            r.query,
            Query::Ports {
                proto: None,
                source: false,
                top: None
            }
        );
    }

    #[test]
    fn bad_requests_get_a_coded_error() {
        let code = |b: &[u8]| decode_request(b).unwrap_err().error.unwrap().code;
        assert_eq!(code(b"\xff\x00"), "bad_request");
        assert_eq!(code(br#"{"query":"stats"}"#), "bad_request");
        assert_eq!(
            code(br#"{"version":2,"query":"stats"}"#),
            "unsupported_version"
        );
        assert_eq!(
            code(br#"{"version":1,"query":"everything"}"#),
            "bad_request"
        );
    }
}
