//! `/metrics` scraped by a real Prometheus server (Debian's `prometheus`, installed by
//! `cargo xtask setup`), and the alerting rules shipped in deploy/prometheus checked and tested
//! by `promtool`.
//!
//! The daemon serves its metrics on 127.0.0.1:9464 in the sensor's network namespace; a
//! Prometheus started in the same namespace scrapes it every second, and the values read back
//! through Prometheus's HTTP API are the ones `probe query --json` gives for the traffic sent.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    thread,
    time::{Duration, Instant},
};

use probe_integration::{Daemon, Lab, SENSOR_V4, Scratch, require_root};
use serde_json::Value;

/// `promtool`, or a failure saying how to get it.
fn promtool() -> &'static str {
    let found = Command::new("promtool").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "promtool not found: `cargo xtask setup` installs Debian's prometheus package"
    );
    "promtool"
}

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("deploy")
        .join("prometheus")
}

#[test]
fn the_shipped_alerting_rules_pass_promtools_check_and_their_tests() {
    let promtool = promtool();
    let check = Command::new(promtool)
        .args(["check", "rules", "probe-rules.yml"])
        .current_dir(deploy())
        .output()
        .expect("running promtool check rules");
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{check:?}");
    assert!(said.contains("SUCCESS: 3 rules found"), "{said}");
    let test = Command::new(promtool)
        .args(["test", "rules", "probe-rules.test.yml"])
        .current_dir(deploy())
        .output()
        .expect("running promtool test rules");
    assert!(test.status.success(), "{test:?}");
    assert!(
        String::from_utf8_lossy(&test.stdout).contains("SUCCESS"),
        "{test:?}"
    );
}

/// A real Prometheus in the sensor's namespace, scraping the daemon every second.
fn start_prometheus(lab: &Lab, files: &Scratch) -> probe_integration::Background {
    let config = files.path("prometheus.yml");
    fs::write(
        &config,
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: probe\n    \
         static_configs:\n      - targets: ['127.0.0.1:9464']\n",
    )
    .expect("writing the Prometheus config");
    let config = config.to_str().expect("UTF-8").to_owned();
    let storage = files.path("tsdb");
    let storage = storage.to_str().expect("UTF-8").to_owned();

    lab.spawn_in_sensor(&[
        "prometheus",
        &format!("--config.file={config}"),
        &format!("--storage.tsdb.path={storage}"),
        "--web.listen-address=127.0.0.1:9090",
        "--log.level=error",
    ])
}

/// One instant value from Prometheus's HTTP API (`None` while it has none).
fn prometheus_value(lab: &Lab, query: &str) -> Option<f64> {
    let out = lab.sensor_unchecked(&[
        "curl",
        "-s",
        "--max-time",
        "5",
        "-G",
        "http://127.0.0.1:9090/api/v1/query",
        "--data-urlencode",
        &format!("query={query}"),
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    let result = v["data"]["result"].as_array()?;
    let [one] = result.as_slice() else {
        return None;
    };
    one["value"][1].as_str()?.parse().ok()
}

/// Waits up to 30 s for Prometheus to hold `want` for `query`; returns what it last held.
fn settled_value(lab: &Lab, query: &str, want: f64) -> Option<f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = prometheus_value(lab, query);
        if got == Some(want) || Instant::now() > deadline {
            return got;
        }
        thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_real_prometheus_scrapes_the_counts_that_were_sent() {
    require_root!();
    let promtool = promtool();
    let lab = Lab::new();
    let files = Scratch::new();
    let probe = Daemon::start(&lab);

    lab.attacker(&["hping3", "-S", "-p", "31337", "-c", "1", SENSOR_V4]);
    lab.attacker(&["ping", "-c", "3", "-i", "0.2", SENSOR_V4]);
    probe.wait_for_log("trojan_probe", Duration::from_secs(10));
    let stats = probe.settled_stats();

    // The exposition itself: what promtool accepts as the text format, with the series sent.
    let text = probe_integration::scrape_metrics(&lab);
    let exposition = files.path("metrics.txt");
    fs::write(&exposition, &text).expect("writing the exposition");
    let checked = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{promtool} check metrics < '{}'",
            exposition.display()
        ))
        .output()
        .expect("running promtool check metrics");
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool check metrics: {checked:?}\n{text}"
    );
    let iface = lab.sensor_if();
    assert!(
        text.contains(&format!(
            "probe_port_packets_total{{iface=\"{iface}\",proto=\"tcp\",direction=\"destination\",port=\"31337\"}} 1\n"
        )),
        "{text}"
    );
    let missing = lab.sensor_unchecked(&[
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://127.0.0.1:9464/nothing",
    ]);
    assert_eq!(String::from_utf8_lossy(&missing.stdout), "404");

    let server = start_prometheus(&lab, &files);
    let at = |labels: &str| format!("{{iface=\"{iface}\"{labels}}}");
    #[expect(clippy::cast_precision_loss, reason = "small counts")]
    let expected = [
        (
            "probe_packets_total".to_owned() + &at(""),
            stats.packets as f64,
        ),
        ("probe_bytes_total".to_owned() + &at(""), stats.bytes as f64),
        (
            "probe_ip_packets_total".to_owned() + &at(",version=\"4\""),
            stats.ipv4 as f64,
        ),
        (
            "probe_port_packets_total".to_owned()
                + &at(",proto=\"tcp\",direction=\"destination\",port=\"31337\""),
            1.0,
        ),
        (
            "probe_port_connection_attempts_total".to_owned() + &at(",port=\"31337\""),
            1.0,
        ),
        (
            "probe_icmp_messages_total".to_owned() + &at(",family=\"icmp\",type=\"8\",code=\"0\""),
            3.0,
        ),
        (
            "probe_findings_total".to_owned() + &at(",kind=\"trojan_probe\",level=\"hostile\""),
            1.0,
        ),
        ("up{job=\"probe\"}".to_owned(), 1.0),
    ];
    for (query, want) in &expected {
        assert_eq!(
            settled_value(&lab, query, *want),
            Some(*want),
            "Prometheus's value of {query}"
        );
    }
    // Nothing more arrived meanwhile: the daemon's own count is still the one Prometheus has.
    assert_eq!(probe.stats().packets, stats.packets);
    server.interrupt();
}
