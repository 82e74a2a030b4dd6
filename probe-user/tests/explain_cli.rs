//! `probe explain` as a user runs it: the built binary, its text and its JSON.

use std::{io::Write as _, process::Command};

use serde_json::Value;

/// A services file with a few names, so answers do not depend on the machine's /etc/services.
fn services_file() -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "http\t\t80/tcp\t\twww\nkrb524\t\t4445/tcp").unwrap();
    f
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn probe(args: &[&str]) -> Out {
    let services = services_file();
    let out = Command::new(env!("CARGO_BIN_EXE_probe"))
        .arg("explain")
        .args(args)
        .arg("--services")
        .arg(services.path())
        .output()
        .expect("run probe");
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = probe(&all);
    assert!(out.ok, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// The first lines of a text answer, which hold the facts; the explanation follows.
fn head(text: &str, lines: usize) -> Vec<&str> {
    text.lines().take(lines).collect()
}

#[test]
fn back_orifice() {
    let out = probe(&["31337"]);
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(
        head(&out.stdout, 8),
        [
            "31337/tcp+udp: Back Orifice",
            "  level     hostile",
            "  category  trojan",
            "  meaning   Back Orifice's port, and \"elite\" in hacker spelling; a scan for backdoored machines.",
            "  range     registered (1024-49151)",
            "  basis     faq",
            "  reference FAQ 1.1, 1.4, 1.12",
            "",
        ]
    );
    assert!(out.stdout.contains("Check that nothing listens on 31337."));
    assert!(out.stdout.lines().all(|l| l.len() <= 110), "{}", out.stdout);
    assert_eq!(out.stderr, "");

    let v = json(&["31337"]);
    let answers = v.as_array().unwrap();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["proto"], "tcp");
    assert_eq!(answers[1]["proto"], "udp");
    for a in answers {
        assert_eq!(a["port"], 31337);
        assert_eq!(a["direction"], "destination");
        assert_eq!(a["name"], "Back Orifice");
        assert_eq!(a["level"], "hostile");
        assert_eq!(a["category"], "trojan");
        assert_eq!(a["class"], "registered");
        assert_eq!(a["faq"], "1.1, 1.4, 1.12");
        assert_eq!(a["basis"], "faq");
        assert_eq!(a["entry"], "31337");
        assert_eq!(a["caveats"], serde_json::json!([]));
    }
}

#[test]
fn game_server_as_a_source() {
    let out = probe(&["27015/udp", "--source"]);
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(
        head(&out.stdout, 7),
        [
            "27015/udp as a source port: Half-Life server",
            "  level     benign",
            "  category  game",
            "  meaning   A Half-Life / Team Fortress Classic server answering a player.",
            "  range     registered (1024-49151)",
            "  basis     faq",
            "  reference FAQ 1.10",
        ]
    );
    let v = json(&["27015/udp", "--source"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["direction"], "source");
    assert_eq!(v[0]["name"], "Half-Life server");
    // As a destination the same port means something else.
    assert_eq!(json(&["27015/udp"])[0]["name"], "Half-Life");
}

#[test]
fn icmp_fragmentation_needed() {
    let out = probe(&["icmp", "3", "4"]);
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(
        head(&out.stdout, 5),
        [
            "ICMP type 3 code 4: Fragmentation Needed",
            "  level     notable",
            "  category  error",
            "  meaning   A packet was too big and marked don't-fragment; path MTU discovery needs this message.",
            "  reference FAQ 2, 8",
        ]
    );
    assert!(out.stdout.contains("fix the firewall"));
    let v = json(&["icmp", "3", "4"]);
    assert_eq!(v[0]["family"], "v4");
    assert_eq!(v[0]["type"], 3);
    assert_eq!(v[0]["code"], 4);
    assert_eq!(v[0]["exact"], true);
    assert_eq!(v[0]["name"], "Fragmentation Needed");
}

#[test]
fn icmp_type_alone_and_icmpv6() {
    let out = probe(&["icmp", "3"]);
    assert!(out.ok);
    assert!(
        out.stdout
            .starts_with("ICMP type 3: Destination Unreachable\n")
    );
    assert!(out.stdout.contains("Lost from the FAQ: "));
    let v = json(&["icmp", "3"]);
    assert_eq!(v[0]["code"], Value::Null);
    let v = json(&["icmp6", "2"]);
    assert_eq!(v[0]["family"], "v6");
    assert_eq!(v[0]["name"], "Packet Too Big");
    assert_eq!(v[0]["basis"], "general");
    let out = probe(&["icmp6", "2"]);
    assert!(
        out.stdout
            .contains("  reference FAQ 2, 8; written from general knowledge, not the FAQ's text\n")
    );
}

#[test]
fn port_beyond_the_tables() {
    // In neither table, not in the services file: the range class answers. (4444, the port
    // this test used before, is in the modern table now.)
    let out = probe(&["4446"]);
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(
        head(&out.stdout, 7),
        [
            "4446/tcp+udp: Registered port",
            "  level     benign",
            "  category  unknown",
            "  meaning   A port in the registered range with no meaning the probe knows of.",
            "  range     registered (1024-49151)",
            "  basis     range",
            "  reference the port's range class (FAQ 1)",
        ]
    );
    assert!(
        out.stdout
            .contains("Caveat: In practice systems start giving out temporary client ports at")
    );

    // In the services file for TCP only: TCP says its name, UDP its range class.
    let out = probe(&["4445"]);
    assert!(
        out.stdout.starts_with("4445/tcp: krb524\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("\n4445/udp: Registered port\n"));
    let v = json(&["4445/tcp"]);
    assert_eq!(v[0]["basis"], "services");
    assert_eq!(v[0]["faq"], Value::Null);
}

#[test]
fn a_modern_port_gives_todays_meaning() {
    let out = probe(&["3389"]);
    assert!(out.ok, "{}", out.stderr);
    // TCP from the modern table; UDP 3389 is in no table and not in the services file.
    assert_eq!(
        head(&out.stdout, 8),
        [
            "3389/tcp: Remote Desktop (RDP)",
            "  level     suspicious",
            "  category  remote-access",
            "  meaning   Windows Remote Desktop: scanned for password guessing and for unpatched flaws like BlueKeep.",
            "  range     registered (1024-49151)",
            "  basis     modern",
            "  reference CISA alert AA19-168A (BlueKeep, CVE-2019-0708); CISA #StopRansomware Guide; SANS ISC port report 3389",
            "",
        ]
    );
    assert!(out.stdout.contains("\n3389/udp: Registered port\n"));
    assert!(out.stdout.lines().all(|l| l.len() <= 130), "{}", out.stdout);

    let v = json(&["3389/tcp"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["basis"], "modern");
    assert_eq!(v[0]["faq"], Value::Null);
    assert_eq!(
        v[0]["source"],
        "CISA alert AA19-168A (BlueKeep, CVE-2019-0708); CISA #StopRansomware Guide; SANS ISC port report 3389"
    );
}

#[test]
fn a_port_in_both_tables_shows_the_faqs_answer_and_todays() {
    let out = probe(&["23/tcp"]);
    assert!(out.ok, "{}", out.stderr);
    let heads: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| {
            l.starts_with("23/") || l.starts_with("  basis") || l.starts_with("  reference")
        })
        .collect();
    // Today's answer first (the one detectors use: same level, modern wins), then the FAQ's.
    assert_eq!(
        heads,
        [
            "23/tcp: Telnet",
            "  basis     modern",
            "  reference SANS ISC port report 23; Antonakakis et al., Understanding the Mirai Botnet (USENIX Security 2017)",
            "23/tcp, also: Telnet",
            "  basis     faq",
            "  reference FAQ 1.1",
        ]
    );
    assert!(out.stdout.contains("The Mirai botnet"));
    assert!(out.stdout.contains("replace it with SSH and block port 23"));

    // Without a protocol: both TCP answers, then UDP's range class.
    let v = json(&["23"]);
    let got: Vec<(&str, &str, &str)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["proto"].as_str().unwrap(),
                a["basis"].as_str().unwrap(),
                a["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("tcp", "modern", "Telnet"),
            ("tcp", "faq", "Telnet"),
            ("udp", "range", "Unassigned well-known port"),
        ]
    );

    // Where the levels differ the higher answers: SSH is suspicious today (password guessing
    // bots), notable in the FAQ.
    let v = json(&["22/tcp"]);
    assert_eq!(v[0]["basis"], "modern");
    assert_eq!(v[0]["level"], "suspicious");
    assert_eq!(v[1]["basis"], "faq");
    assert_eq!(v[1]["level"], "notable");
}

#[test]
fn list_by_basis_shows_the_modern_table() {
    let out = probe(&["--list", "--basis", "modern"]);
    assert!(out.ok, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "ENTRY                  DIRECTION    LEVEL       CATEGORY       BASIS     NAME: MEANING"
    );
    assert_eq!(lines.len(), 1 + 45, "{}", out.stdout);
    assert!(lines[1..].iter().all(|l| l.contains(" modern ")));
    assert!(lines.contains(
        &"3389/tcp               destination  suspicious  remote-access  modern    Remote Desktop (RDP): \
          Windows Remote Desktop: scanned for password guessing and for unpatched flaws like BlueKeep."
    ));

    let v = json(&["--list", "--basis", "modern"]);
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), 45);
    assert!(
        all.iter()
            .all(|e| e["kind"] == "port" && e["basis"] == "modern" && e["source"].is_string())
    );
    // Filters combine: the industrial ports of today's table.
    let v = json(&["--list", "--basis", "modern", "--category", "industrial"]);
    let ports: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ports"].as_str().unwrap())
        .collect();
    assert_eq!(
        ports,
        [
            "102", "502", "20000", "44818", "47808", "1883", "8883", "5683"
        ]
    );
    // The FAQ's own table is faq and general.
    let faq = json(&["--list", "--basis", "faq"]);
    assert!(
        faq.as_array()
            .unwrap()
            .iter()
            .all(|e| e["basis"] == "faq" && e["source"].is_null())
    );
}

#[test]
fn protocols_that_differ_are_shown_apart() {
    let out = probe(&["53"]);
    assert!(out.stdout.starts_with("53/tcp: DNS (TCP, zone transfer)\n"));
    assert!(out.stdout.contains("\n53/udp: DNS\n"));
}

#[test]
fn addresses_topics_and_bytes() {
    // Addresses outside the lab range, only explained offline (nothing is sent): built from
    // octets so they stand in this one place.
    let link_local = dotted([169, 254, 3, 4]);
    let private = dotted([10, 9, 8, 7]);
    let public = dotted([8, 8, 8, 8]);
    let out = probe(&[&link_local]);
    assert!(out.stdout.starts_with(&format!(
        "{link_local} (in {}/16): Link-local ({}.x.x)\n",
        dotted([169, 254, 0, 0]),
        "169.254"
    )));
    let v = json(&[&private]);
    assert_eq!(v[0]["kind"], "address");
    assert_eq!(v[0]["key"], format!("{}/8", dotted([10, 0, 0, 0])));
    assert_eq!(json(&[&public]), serde_json::json!([]));
    let out = probe(&[&public]);
    assert_eq!(
        out.stdout,
        format!(
            "{public}: an ordinary IPv4 address; no special block in the probe's knowledge covers it.\n"
        )
    );

    let out = probe(&["topic", "smurf"]);
    assert!(
        out.stdout
            .starts_with("topic smurf: Smurf attack\n  level     hostile\n")
    );
    assert_eq!(json(&["decoy-scan"])[0]["name"], "Decoy scan");

    let v = json(&["bytes", "OPNG"]);
    assert_eq!(v[0]["name"], "PowWow");
}

#[test]
fn list_filters_by_category_and_level() {
    let out = probe(&["--list", "--category", "trojan", "--level", "hostile"]);
    assert!(out.ok, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("ENTRY"));
    // The meaning starts with the name, which is not said twice.
    let back_orifice = lines
        .iter()
        .find(|l| l.starts_with("31337/tcp+udp"))
        .unwrap();
    assert_eq!(
        back_orifice
            .split_whitespace()
            .skip(5)
            .collect::<Vec<_>>()
            .join(" "),
        "Back Orifice's port, and \"elite\" in hacker spelling; a scan for backdoored machines."
    );
    assert!(lines.iter().any(|l| l.starts_with("topic subseven")));
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.contains(" hostile ") && l.contains(" trojan "))
    );

    let v = json(&["--list", "--category", "game"]);
    let all = v.as_array().unwrap();
    // 11 game ports as destination, 10 as source (27910 counts once each), plus the Quake range.
    assert_eq!(all.len(), 23);
    assert!(
        all.iter()
            .all(|e| e["category"] == "game" && e["kind"] == "port")
    );
    assert!(
        all.iter()
            .any(|e| e["ports"] == "27910-27961" && e["direction"] == "either")
    );

    let v = json(&["--list"]);
    let all = v.as_array().unwrap();
    assert!(all.len() > 190, "{}", all.len());
    for kind in ["port", "icmp", "class", "address", "signature", "topic"] {
        assert!(all.iter().any(|e| e["kind"] == kind), "{kind}");
    }
}

#[test]
fn knowledge_file_extends_explain() {
    // A port no built-in table has (4444 is the modern table's now): the entry is new.
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        f,
        "[[port]]\nport = 4446\nproto = \"tcp\"\ndirection = \"destination\"\nname = \"Lab shell\"\n\
         category = \"backdoor\"\nlevel = \"hostile\"\nmeaning = \"Our red team's listener.\""
    )
    .unwrap();
    let path = f.path().to_str().unwrap();
    let out = probe(&["4446/tcp", "--knowledge", path]);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("4446/tcp: Lab shell\n  level     hostile\n")
    );
    assert!(out.stdout.contains("  reference your knowledge file\n"));
}

#[test]
fn control_characters_from_a_knowledge_file_are_shown_escaped() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    // TOML escapes: the file carries a real ESC sequence and a carriage return.
    writeln!(
        f,
        "[[port]]\nport = 4444\nproto = \"tcp\"\ndirection = \"destination\"\n\
         name = \"Lab\\u001b[2Jshell\"\ncategory = \"backdoor\"\nlevel = \"hostile\"\n\
         meaning = \"Fake line\\r[INFO ] all is well\""
    )
    .unwrap();
    let path = f.path().to_str().unwrap();
    let out = probe(&["4444/tcp", "--knowledge", path]);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("4444/tcp: Lab\\u{1b}[2Jshell\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Fake line\\u{d}[INFO ] all is well"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(['\u{1b}', '\r']));
}

#[test]
fn bad_knowledge_file_is_one_clear_line() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        f,
        "[[port]]\nport = 4444\nproto = \"tcp\"\ndirection = \"destination\"\nlevel = \"hostle\""
    )
    .unwrap();
    let path = f.path().to_str().unwrap();
    let out = probe(&["4444", "--knowledge", path]);
    assert!(!out.ok);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!(
            "probe: {path}:5: port[1].level: unknown level \"hostle\"; expected one of: benign, notable, suspicious, hostile\n"
        )
    );
}

#[test]
fn bad_input_is_one_clear_line() {
    #[rustfmt::skip]
    let cases: &[(&[&str], &str)] = &[
        (&[], "probe: nothing to explain; write e.g. 31337, 27015/udp, icmp 3 4, icmp6 128, 2001:db8::1, topic smurf, tool zmap or bytes OPNG, or use --list\n"),
        (&["70000"], "probe: 70000 is not a port: ports run from 0 to 65535\n"),
        (&["80/sctp"], "probe: unknown protocol \"sctp\" in \"80/sctp\"; write PORT/tcp or PORT/udp\n"),
        (&["icmp"], "probe: icmp needs a TYPE and optionally a CODE (e.g. `probe explain icmp 3 4`)\n"),
        (&["icmp", "3", "x"], "probe: icmp CODE must be a number from 0 to 255, not \"x\" (e.g. `probe explain icmp 3 4`)\n"),
        (&["icmp", "3", "--source"], "probe: --source applies only to a port (e.g. `probe explain 27015/udp --source`)\n"),
        (&["--list", "80"], "probe: --list takes no TARGET; drop either the TARGET or --list\n"),
        (&["80", "--level", "hostile"], "probe: --category, --level and --basis only filter --list; add --list or drop them\n"),
        (&["80", "--basis", "modern"], "probe: --category, --level and --basis only filter --list; add --list or drop them\n"),
        (&["--list", "--basis", "today"], "probe: --basis: unknown basis \"today\"; expected one of: faq, general, modern, override, services, range, unknown\n"),
        (&["--list", "--basis", "range"], "probe: --basis: no table entry has basis range (it marks fallback answers); entries are faq, general, modern or override\n"),
        (&["--list", "--level", "evil"], "probe: --level: unknown level \"evil\"; expected one of: benign, notable, suspicious, hostile\n"),
        (&["no-such-topic"], "probe: \"no-such-topic\" is not a port, ICMP message, address or known topic; topics are: decoy-scan, trojan-probes, subseven, nat-dns, dialup-remnants, irc-proxy-checks, remapped-ports, unknown-protocol, source-routing, private-addresses, directed-broadcast, link-local, tracking-owner, slow-connections, icmp-filters, split-dns, traceroute, sscan, proxy-scanners, smurf, fraggle, ip-id, ttl, netbios\n"),
    ];
    for &(args, want) in cases {
        let out = probe(args);
        assert!(!out.ok, "{args:?} succeeded");
        assert_eq!(out.stdout, "", "{args:?}");
        assert_eq!(out.stderr, want, "{args:?}");
    }
}

/// `a.b.c.d` from its octets.
fn dotted(o: [u8; 4]) -> String {
    std::net::Ipv4Addr::from(o).to_string()
}

#[test]
fn each_recognised_scanner_is_explained_with_its_mark_and_source() {
    for (tool, mark, source) in [
        ("zmap", "54321", "packet.c"),
        ("masscan", "exclusive or", "templ-pkt.c"),
        ("mirai", "destination address", "USENIX Security 2017"),
        ("nmap", "1,024", "synscan"),
    ] {
        let out = probe(&["tool", tool]);
        assert!(out.ok, "{}", out.stderr);
        assert!(
            out.stdout.starts_with(&format!("tool {tool}\n\n")),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(mark) && out.stdout.contains(source),
            "{tool}: {}",
            out.stdout
        );
        let v = json(&["tool", tool]);
        assert_eq!(v[0]["tool"], tool);
    }
    let out = probe(&["tool", "zgrab"]);
    assert!(!out.ok);
    assert_eq!(
        out.stderr,
        "probe: \"zgrab\" is not a tool the probe recognises; tools are: zmap, masscan, mirai, nmap\n"
    );
}
