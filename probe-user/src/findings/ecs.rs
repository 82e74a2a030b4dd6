//! Findings in Elastic Common Schema field names (`--findings-format ecs`), for log pipelines
//! that index ECS (Elastic, and what Vector, Fluent Bit or Logstash feed into it): each finding
//! is an alert event (`event.kind: alert`) named by its kind (`rule.name`), with its addresses
//! under `source` and `destination`, the watched interface under `observer`, and everything
//! the probe's own schema says under `probe.*`. ECS field reference: elastic.co/guide/en/ecs.

use serde_json::{Map, Value, json};

use super::{Finding, time::format_rfc3339_ms};
use crate::knowledge::Level;

/// The ECS version the field names follow.
pub const ECS_VERSION: &str = "8.11.0";

/// `event.severity`: the level as a number, 1 (benign) to 4 (hostile).
const fn severity(level: Level) -> u8 {
    match level {
        Level::Benign => 1,
        Level::Notable => 2,
        Level::Suspicious => 3,
        Level::Hostile => 4,
    }
}

/// An address field's value: only an address; `"many"` and absent give none.
fn ip(addr: Option<&str>) -> Option<Value> {
    addr.filter(|a| a.parse::<std::net::IpAddr>().is_ok())
        .map(|a| Value::String(a.to_owned()))
}

/// `f` as one ECS document (one JSON object, no newline), seen on `iface`.
pub fn to_ecs_line(f: &Finding, iface: &str) -> String {
    let mut doc = Map::new();
    doc.insert("@timestamp".into(), json!(format_rfc3339_ms(f.ts_ns)));
    doc.insert("ecs".into(), json!({ "version": ECS_VERSION }));
    doc.insert(
        "event".into(),
        json!({
            "kind": "alert",
            "category": ["network", "intrusion_detection"],
            "type": ["info"],
            "module": "probe",
            "dataset": "probe.findings",
            "severity": severity(f.level),
            "start": format_rfc3339_ms(f.first_seen_ns),
            "end": format_rfc3339_ms(f.last_seen_ns),
        }),
    );
    doc.insert("rule".into(), json!({ "name": f.kind.as_str() }));
    doc.insert("message".into(), json!(f.explanation));
    if let Some(src) = ip(f.src.as_deref()) {
        doc.insert("source".into(), json!({ "ip": src }));
    }
    let mut destination = Map::new();
    if let Some(dst) = ip(f.dst.as_deref()) {
        destination.insert("ip".into(), dst);
    }
    if let Some(port) = f.port {
        destination.insert("port".into(), json!(port));
    }
    if !destination.is_empty() {
        doc.insert("destination".into(), Value::Object(destination));
    }
    if let Some(proto) = f.proto {
        doc.insert("network".into(), json!({ "transport": proto.as_str() }));
    }
    doc.insert(
        "observer".into(),
        json!({
            "type": "sensor",
            "product": "probe",
            "version": env!("CARGO_PKG_VERSION"),
            "ingress": { "interface": { "name": iface } },
        }),
    );
    doc.insert(
        "probe".into(),
        json!({
            "id": f.id,
            "status": f.status.as_str(),
            "kind": f.kind.as_str(),
            "level": f.level.to_string(),
            "src": f.src,
            "dst": f.dst,
            "tool": f.tool,
            "count": f.count,
            "evidence": f.evidence,
        }),
    );
    Value::Object(doc).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        contact::Proto,
        findings::{Kind, Status},
    };

    #[test]
    fn a_finding_in_ecs_names_its_fields_as_ecs_does_and_keeps_the_rest_under_probe() {
        let f = Finding {
            ts_ns: 1_714_564_800_000_000_000,
            id: 7,
            status: Status::New,
            kind: Kind::TrojanProbe,
            level: Level::Hostile,
            src: Some("198.18.0.66".into()),
            dst: Some("many".into()),
            proto: Some(Proto::Tcp),
            port: Some(31_337),
            tool: None,
            count: 2,
            first_seen_ns: 1_714_564_799_000_000_000,
            last_seen_ns: 1_714_564_800_000_000_000,
            evidence: json!({"faq": "1.4"}),
            explanation: "198.18.0.66 tried 31337/tcp.".into(),
        };
        let v: Value = serde_json::from_str(&to_ecs_line(&f, "eth0")).unwrap();
        assert_eq!(
            v,
            json!({
                "@timestamp": "2024-05-01T12:00:00.000Z",
                "ecs": {"version": "8.11.0"},
                "event": {
                    "kind": "alert",
                    "category": ["network", "intrusion_detection"],
                    "type": ["info"],
                    "module": "probe",
                    "dataset": "probe.findings",
                    "severity": 4,
                    "start": "2024-05-01T11:59:59.000Z",
                    "end": "2024-05-01T12:00:00.000Z",
                },
                "rule": {"name": "trojan_probe"},
                "message": "198.18.0.66 tried 31337/tcp.",
                "source": {"ip": "198.18.0.66"},
                "destination": {"port": 31337},
                "network": {"transport": "tcp"},
                "observer": {
                    "type": "sensor",
                    "product": "probe",
                    "version": env!("CARGO_PKG_VERSION"),
                    "ingress": {"interface": {"name": "eth0"}},
                },
                "probe": {
                    "id": 7,
                    "status": "new",
                    "kind": "trojan_probe",
                    "level": "hostile",
                    "src": "198.18.0.66",
                    "dst": "many",
                    "tool": null,
                    "count": 2,
                    "evidence": {"faq": "1.4"},
                },
            })
        );
    }
}
