//! Text for people, made safe to print: a control character (from a knowledge file, a
//! daemon's answer, or anything that came off the wire) is written as an escape such as
//! `\u{1b}`, so it can neither move a terminal's cursor, recolour it, or rewrite a log line
//! (a carriage return), nor pass for a line of its own. JSON output stays JSON-escaped and is
//! not touched here.

use std::borrow::Cow;

/// `text` with every control character escaped, newlines included: for one line.
pub fn line(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

/// `text` with every control character but the newline escaped: for output of many lines.
pub fn lines(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n')
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    // The C0 and C1 controls and DEL: what a terminal or a log reader acts on, not shows.
    if !text.chars().any(|c| c.is_control() && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && !keep(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_the_rest_kept() {
        assert!(matches!(line("Telnet: a login"), Cow::Borrowed(_)));
        assert_eq!(line("a\rb\u{1b}[31mc\u{7f}"), "a\\u{d}b\\u{1b}[31mc\\u{7f}");
        assert_eq!(line("two\nlines"), "two\\u{a}lines");
        assert_eq!(lines("two\nlines\r"), "two\nlines\\u{d}");
        // C1 controls too (CSI as one character), and text beyond ASCII stays as it is.
        assert_eq!(line("\u{9b}2J héllo"), "\\u{9b}2J héllo");
    }
}
