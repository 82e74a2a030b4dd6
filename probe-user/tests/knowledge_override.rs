//! Users' knowledge files: good ones add and override entries; bad ones are refused whole, with
//! the file, line and field at fault.

use std::{io::Write as _, net::IpAddr, path::Path};

use probe_user::knowledge::{
    Basis, Category, Direction, IcmpFamily, Knowledge, KnowledgeError, Level, Proto, Services,
};

fn base() -> Knowledge {
    Knowledge::new(Services::empty())
}

fn load(text: &str) -> Result<Knowledge, KnowledgeError> {
    base().with_overrides(Path::new("mine.toml"), text)
}

fn write_temp(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

/// A good override file; `LAB_NET` stands for a /24 inside the built-in 192.168/16 block
/// (filled in by `good`, so that no address outside the lab range is written as a literal).
const GOOD: &str = r#"
# A lab network's own knowledge.

[[port]]
port = 4446
proto = "tcp"
direction = "destination"
name = "Lab shell"
category = "backdoor"
level = "hostile"
meaning = "Our red team's listener; anything else here is an intruder."
explanation = "The red team parks reverse shells on 4446/tcp during exercises."

[[port]]
port = 137
proto = "udp"
direction = "either"
level = "notable"

[[port]]
ports = "40000-40100"
proto = "udp"
direction = "destination"
name = "Media relay"
category = "streaming"
level = "benign"
meaning = "The conference system's media relay."

[[icmp]]
family = "v4"
type = 8
level = "notable"
meaning = "A ping; nothing here should be pinging us."

[[icmp]]
family = "v6"
type = 200
name = "Private experiment"
category = "diagnostic"
level = "benign"
meaning = "Our ICMPv6 experiment."

[[topic]]
id = "lab-exercise"
name = "Lab exercise"
category = "attack"
level = "hostile"
meaning = "Red-team exercises run on Tuesdays."

[[address]]
cidr = "LAB_NET"
name = "Lab net"
category = "address"
level = "benign"
meaning = "The lab's own subnet."

[[signature]]
bytes = "HELO lab"
name = "Lab beacon"
category = "diagnostic"
level = "benign"
meaning = "Our monitoring beacon."

[[class]]
class = "dynamic"
direction = "destination"
level = "notable"

[[caveat]]
ports = "40000-40100"
text = "The media relay owns these ports in the lab."
"#;

#[test]
fn good_file_adds_and_overrides() {
    let f = write_temp(&good());
    let k = Knowledge::new(Services::empty())
        .with_overrides_file(f.path())
        .unwrap();

    // A new entry for a port no built-in table covers.
    let m = k.port(4446, Proto::Tcp, Direction::Destination);
    assert_eq!(
        (m.name.as_str(), m.category, m.level, m.basis),
        (
            "Lab shell",
            Category::Backdoor,
            Level::Hostile,
            Basis::Override
        )
    );
    assert_eq!(
        m.explanation,
        "The red team parks reverse shells on 4446/tcp during exercises."
    );
    assert_eq!(m.faq, None);
    // Other protocol unaffected.
    assert_eq!(
        k.port(4446, Proto::Udp, Direction::Destination).name,
        "Registered port"
    );

    // A partial override of a built-in entry keeps what it does not change.
    let m = k.port(137, Proto::Udp, Direction::Source);
    assert_eq!(
        (m.name.as_str(), m.level, m.basis),
        ("NetBIOS name service", Level::Notable, Basis::Override)
    );
    assert_eq!(m.faq.as_deref(), Some("1.1, 10"));

    // New range; explanation defaults to the meaning; caveat attached to range answers only.
    let m = k.port(40050, Proto::Udp, Direction::Destination);
    assert_eq!(
        (m.name.as_str(), m.category),
        ("Media relay", Category::Streaming)
    );
    assert_eq!(m.explanation, m.meaning);
    let caveats = k.port(40050, Proto::Tcp, Direction::Destination).caveats;
    assert_eq!(caveats[0], "The media relay owns these ports in the lab.");

    // ICMP: partial override and a new type.
    let m = k.icmp_type(IcmpFamily::V4, 8);
    assert_eq!(
        (m.name.as_str(), m.level, m.basis),
        ("Echo Request", Level::Notable, Basis::Override)
    );
    assert_eq!(m.meaning, "A ping; nothing here should be pinging us.");
    let m = k.icmp(IcmpFamily::V6, 200, 3);
    assert_eq!((m.name.as_str(), m.exact), ("Private experiment", false));

    // Topic, address, signature.
    assert_eq!(k.topic("lab-exercise").unwrap().level, Level::Hostile);
    let a = k.address(IpAddr::from([192, 168, 77, 9])).unwrap();
    assert_eq!(a.name, "Lab net"); // the /24 beats the built-in /16
    assert_eq!(
        k.address(IpAddr::from([192, 168, 1, 9])).unwrap().name,
        "Private (192.168.x.x)"
    );
    assert_eq!(k.first_bytes(b"HELO lab 1").unwrap().name, "Lab beacon");

    // A range class text replaced.
    let m = k.port(50001, Proto::Tcp, Direction::Destination);
    assert_eq!(
        (m.name.as_str(), m.level, m.basis),
        ("Dynamic port", Level::Notable, Basis::Range)
    );
}

#[test]
fn new_entries_win_over_builtin_ones_that_cover_the_same_port() {
    let k = load(
        "[[port]]\nport = 31337\nproto = \"tcp\"\ndirection = \"destination\"\nname = \"Lab game\"\n\
         category = \"game\"\nlevel = \"benign\"\nmeaning = \"Our own game server.\"\n",
    )
    .unwrap();
    assert_eq!(
        k.port(31337, Proto::Tcp, Direction::Destination).name,
        "Lab game"
    );
    assert_eq!(
        k.port(31337, Proto::Udp, Direction::Destination).name,
        "Back Orifice"
    );
}

#[test]
fn load_without_a_file_is_the_builtin_knowledge() {
    let k = Knowledge::load(None).unwrap();
    assert_eq!(
        k.port(31337, Proto::Udp, Direction::Destination).name,
        "Back Orifice"
    );
    let f = write_temp(&good());
    let k = Knowledge::load(Some(f.path())).unwrap();
    assert_eq!(
        k.port(4446, Proto::Tcp, Direction::Destination).name,
        "Lab shell"
    );
}

/// Each kind of bad file, with the exact line and field reported.
#[test]
fn bad_files_name_line_and_field() {
    #[rustfmt::skip]
    let cases: &[(&str, usize, Option<&str>, &str)] = &[
        // TOML syntax.
        ("[[port]]\nport = 4446\nname = \"unterminated\n", 3, None, "not valid TOML"),
        // A kind of entry that does not exist.
        ("[[prot]]\nport = 1\n", 1, Some("prot"), "unknown kind of entry; expected one of: [[port]], [[icmp]], [[class]], [[caveat]], [[address]], [[signature]], [[topic]]"),
        // A table instead of an array of tables.
        ("[port]\nport = 1\n", 1, Some("port"), "write each entry as a [[port]] table"),
        // Unknown field (a typo).
        ("[[port]]\nport = 4446\nproto = \"tcp\"\ndirection = \"destination\"\nnmae = \"x\"\n", 5, Some("port[1].nmae"), "unknown field; expected one of: port, ports, proto, direction, name, category, level, faq, source, basis, meaning, explanation, lost"),
        // Wrong type.
        ("[[port]]\nport = \"4446\"\nproto = \"tcp\"\ndirection = \"destination\"\n", 2, Some("port[1].port"), "expected a whole number from 0 to 65535, found string"),
        // Out of range.
        ("[[port]]\nport = 70000\nproto = \"tcp\"\ndirection = \"destination\"\n", 2, Some("port[1].port"), "70000 is out of range 0 to 65535"),
        // Range backwards.
        ("[[port]]\nports = \"5000-4000\"\nproto = \"tcp\"\ndirection = \"destination\"\n", 2, Some("port[1].ports"), "range 5000-4000 runs backwards; write the lower port first"),
        // Both port and ports.
        ("[[port]]\nport = 1\nports = \"1-2\"\nproto = \"tcp\"\ndirection = \"source\"\n", 3, Some("port[1].ports"), "give either `port` (one number) or `ports` (\"LO-HI\"), not both"),
        // No port at all.
        ("\n[[port]]\nproto = \"tcp\"\ndirection = \"source\"\n", 2, Some("port[1].port"), "missing; give `port = N` for one port or `ports = \"LO-HI\"` for a range"),
        // Missing key field.
        ("[[port]]\nport = 4446\ndirection = \"destination\"\n", 1, Some("port[1].proto"), "missing; write tcp, udp or both"),
        // Bad words.
        ("[[port]]\nport = 4446\nproto = \"sctp\"\ndirection = \"destination\"\n", 3, Some("port[1].proto"), "unknown protocol \"sctp\"; expected one of: tcp, udp, both"),
        ("[[port]]\nport = 4446\nproto = \"tcp\"\ndirection = \"inbound\"\n", 4, Some("port[1].direction"), "unknown direction \"inbound\"; expected one of: destination, source, either"),
        ("[[port]]\nport = 4446\nproto = \"tcp\"\ndirection = \"destination\"\nname = \"x\"\ncategory = \"trojan\"\nlevel = \"hostle\"\nmeaning = \"m\"\n", 7, Some("port[1].level"), "unknown level \"hostle\"; expected one of: benign, notable, suspicious, hostile"),
        ("[[port]]\nport = 4446\nproto = \"tcp\"\ndirection = \"destination\"\nname = \"x\"\ncategory = \"virus\"\nlevel = \"hostile\"\nmeaning = \"m\"\n", 6, Some("port[1].category"), "unknown category \"virus\"; expected one of: service, mail, file-sharing, remote-access, management, rpc, proxy, trojan, backdoor, game, chat, streaming, adware, remap, dynamic, diagnostic, scan, attack, routing, error, address, web, database, industrial, unknown"),
        // A new entry without the fields it needs (reported at its header, second entry).
        ("[[port]]\nport = 137\nproto = \"udp\"\ndirection = \"either\"\nlevel = \"notable\"\n\n[[port]]\nport = 4446\nproto = \"tcp\"\ndirection = \"destination\"\nname = \"x\"\ncategory = \"trojan\"\nlevel = \"hostile\"\n", 7, Some("port[2].meaning"), "missing; an entry that replaces no built-in one needs name, category, level and meaning"),
        // Multi-line meaning.
        ("[[port]]\nport = 137\nproto = \"udp\"\ndirection = \"either\"\nmeaning = \"\"\"one\ntwo\"\"\"\n", 5, Some("port[1].meaning"), "must be a single line; put detail in `explanation`"),
        // Empty text.
        ("[[port]]\nport = 137\nproto = \"udp\"\ndirection = \"either\"\nname = \"  \"\n", 5, Some("port[1].name"), "is empty; write some text or leave the field out"),
        // The same entry twice.
        ("[[port]]\nport = 137\nproto = \"udp\"\ndirection = \"either\"\n\n[[port]]\nport = 137\nproto = \"udp\"\ndirection = \"either\"\n", 6, Some("port[2]"), "same port, proto and direction as the entry on line 1; merge the two"),
        // ICMP.
        ("[[icmp]]\nfamily = \"v4\"\ntype = 300\n", 3, Some("icmp[1].type"), "300 is out of range 0 to 255"),
        ("[[icmp]]\nfamily = \"v5\"\ntype = 3\n", 2, Some("icmp[1].family"), "unknown ICMP family \"v5\"; expected one of: v4, v6"),
        ("[[icmp]]\nfamily = \"v4\"\n", 1, Some("icmp[1].type"), "missing; write the ICMP type number"),
        // Address.
        ("[[address]]\ncidr = \"198.19.1.0/15\"\n", 2, Some("address[1].cidr"), "198.19.1.0/15 has bits set after the prefix; the network is 198.18.0.0/15"),
        // Topic id.
        ("[[topic]]\nid = \"My Topic\"\n", 2, Some("topic[1].id"), "use only lowercase letters, digits and '-'"),
        // Signature.
        ("[[signature]]\nbytes = 5\n", 2, Some("signature[1].bytes"), "expected a string, found integer"),
        // Range class.
        ("[[class]]\nclass = \"private\"\ndirection = \"source\"\n", 2, Some("class[1].class"), "unknown range class \"private\"; expected one of: well-known, registered, dynamic"),
        // Caveat.
        ("[[caveat]]\nports = \"1-2\"\n", 1, Some("caveat[1].text"), "missing; write the caveat as one line"),
    ];
    for &(text, line, field, message) in cases {
        let Err(err) = load(text) else {
            panic!("accepted:\n{text}");
        };
        assert_eq!(err.line(), Some(line), "{err}\nfor:\n{text}");
        assert_eq!(err.field(), field, "{err}\nfor:\n{text}");
        let shown = err.to_string();
        assert!(shown.starts_with(&format!("mine.toml:{line}: ")), "{shown}");
        assert!(shown.contains(message), "{shown}\nwanted: {message}");
        assert!(!shown.contains('\n'), "error spans lines: {shown}");
    }
}

#[test]
fn field_errors_read_as_one_line() {
    let err =
        load("[[port]]\nport = 4446\nproto = \"tcp\"\ndirection = \"destination\"\nnmae = \"x\"\n")
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "mine.toml:5: port[1].nmae: unknown field; expected one of: port, ports, proto, direction, \
         name, category, level, faq, source, basis, meaning, explanation, lost"
    );
}

#[test]
fn unreadable_file_is_an_error_naming_it() {
    let err = Knowledge::load(Some(Path::new("/nonexistent/knowledge.toml"))).unwrap_err();
    assert!(matches!(err, KnowledgeError::Read { .. }));
    // The cause is the source, shown once where the chain is shown.
    assert_eq!(
        err.to_string(),
        "cannot read knowledge file /nonexistent/knowledge.toml"
    );
    assert_eq!(
        probe_user::error::Chain(&err).to_string(),
        "cannot read knowledge file /nonexistent/knowledge.toml: No such file or directory (os error 2)"
    );
    assert_eq!(err.line(), None);
}

#[test]
fn a_device_or_a_fifo_is_refused_at_once_without_reading() {
    let err = Knowledge::load(Some(Path::new("/dev/zero"))).unwrap_err();
    assert_eq!(
        probe_user::error::Chain(&err).to_string(),
        "cannot read knowledge file /dev/zero: it is a character device, not a regular file"
    );
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("knowledge.toml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let err = Knowledge::load(Some(&fifo)).unwrap_err();
    assert_eq!(
        probe_user::error::Chain(&err).to_string(),
        format!(
            "cannot read knowledge file {}: it is a FIFO, not a regular file",
            fifo.display()
        )
    );
}

#[test]
fn a_knowledge_file_over_four_mebibytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.toml");
    std::fs::write(&path, "#".repeat(4 * 1024 * 1024 + 1)).unwrap();
    let err = Knowledge::load(Some(&path)).unwrap_err();
    assert_eq!(
        probe_user::error::Chain(&err).to_string(),
        format!(
            "cannot read knowledge file {}: it is larger than the 4194304 bytes a file of this kind may hold",
            path.display()
        )
    );
}

/// A file whose early entries are fine and a later one is bad changes nothing: there is no
/// knowledge object at all, and loading the good part alone still works.
#[test]
fn nothing_is_half_loaded() {
    let good = "[[port]]\nport = 4446\nproto = \"tcp\"\ndirection = \"destination\"\nname = \"Lab shell\"\ncategory = \"backdoor\"\nlevel = \"hostile\"\nmeaning = \"m\"\n\n[[port]]\nport = 137\nproto = \"udp\"\ndirection = \"either\"\nlevel = \"hostile\"\n";
    let bad = format!("{good}\n[[port]]\nport = 4445\nproto = \"tcp\"\ndirection = \"nowhere\"\n");
    let f = write_temp(&bad);
    assert!(Knowledge::load(Some(f.path())).is_err());

    // The built-in tables are shared; a failed load must not have touched them.
    let k = base();
    assert_eq!(
        k.port(4446, Proto::Tcp, Direction::Destination).name,
        "Registered port"
    );
    assert_eq!(
        k.port(137, Proto::Udp, Direction::Destination).level,
        Level::Benign
    );

    let k = load(good).unwrap();
    assert_eq!(
        k.port(137, Proto::Udp, Direction::Destination).level,
        Level::Hostile
    );
}

/// An entry copied from the built-in file, `basis` and all, is accepted and reported as the
/// user's.
#[test]
fn copied_builtin_entry_is_accepted() {
    let k = load(
        r#"
[[port]]
port = 31337
proto = "both"
direction = "destination"
name = "Back Orifice"
category = "trojan"
level = "suspicious"
faq = "1.1, 1.4, 1.12"
basis = "faq"
meaning = "Still Back Orifice, but we see so much of it that it is merely suspicious."
explanation = "Local note."
"#,
    )
    .unwrap();
    let m = k.port(31337, Proto::Udp, Direction::Destination);
    assert_eq!(
        (m.level, m.basis, m.explanation.as_str()),
        (Level::Suspicious, Basis::Override, "Local note.")
    );
}

/// [`GOOD`] with its lab network filled in.
fn good() -> String {
    GOOD.replace(
        "LAB_NET",
        &format!("{}/24", std::net::Ipv4Addr::new(192, 168, 77, 0)),
    )
}
