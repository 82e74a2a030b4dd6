//! A name and its meaning in one line of text, without saying the name twice: many meanings
//! begin with the name they belong to ("Telnet: a remote Unix login", "NetBus trojan's default
//! port"), and `Telnet: Telnet: ...` reads as a stutter.

use std::borrow::Cow;

/// `name: meaning`, or the meaning alone when it already starts with the name (ignoring case),
/// followed by its end or by anything but a letter or digit: "NetBus" starts "NetBus trojan's
/// ...", "Net" does not start "NetBus ...".
pub fn named<'a>(name: &str, meaning: &'a str) -> Cow<'a, str> {
    if name.is_empty() || starts_with_name(meaning, name) {
        Cow::Borrowed(meaning)
    } else if meaning.is_empty() {
        Cow::Owned(name.to_owned())
    } else {
        Cow::Owned(format!("{name}: {meaning}"))
    }
}

fn starts_with_name(meaning: &str, name: &str) -> bool {
    let mut rest = meaning.chars();
    for n in name.chars() {
        match rest.next() {
            Some(m) if m.to_lowercase().eq(n.to_lowercase()) => {}
            _ => return false,
        }
    }
    rest.next().is_none_or(|next| !next.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_written_once() {
        for (name, meaning, line) in [
            (
                "Telnet",
                "Telnet: a remote Unix login",
                "Telnet: a remote Unix login",
            ),
            (
                "NetBus",
                "NetBus trojan's default port",
                "NetBus trojan's default port",
            ),
            (
                "Back Orifice",
                "Back Orifice's port, and \"elite\" in hacker spelling",
                "Back Orifice's port, and \"elite\" in hacker spelling",
            ),
            ("SSH", "Secure shell.", "SSH: Secure shell."),
            (
                "ssh",
                "SSH, scanned for passwords.",
                "SSH, scanned for passwords.",
            ),
            (
                "Unreal",
                "Unreal / Klingon Honor Guard",
                "Unreal / Klingon Honor Guard",
            ),
            (
                "Net",
                "NetBus trojan's default port",
                "Net: NetBus trojan's default port",
            ),
            (
                "Remote Desktop (RDP)",
                "Windows Remote Desktop: scanned.",
                "Remote Desktop (RDP): Windows Remote Desktop: scanned.",
            ),
            ("Telnet", "Telnet", "Telnet"),
            ("Telnet", "Tel", "Telnet: Tel"),
            (
                "Ölfeld",
                "ölfeld: a name with an umlaut",
                "ölfeld: a name with an umlaut",
            ),
            ("", "A meaning without a name.", "A meaning without a name."),
            ("A name without a meaning", "", "A name without a meaning"),
        ] {
            assert_eq!(named(name, meaning), line, "{name:?} + {meaning:?}");
        }
    }
}
