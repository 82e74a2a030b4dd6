//! A finding as one line for people.

use std::fmt::Write as _;

use super::Finding;

impl Finding {
    /// A line for people: level, kind, who, the count, and the first sentence of the
    /// explanation.
    pub fn summary(&self) -> String {
        let mut s = format!("{} {}", self.level, self.kind);
        match (&self.src, &self.dst) {
            (Some(src), Some(dst)) => {
                let _ = write!(s, " {src} -> {dst}");
            }
            (Some(src), None) => {
                let _ = write!(s, " from {src}");
            }
            (None, Some(dst)) => {
                let _ = write!(s, " to {dst}");
            }
            (None, None) => {}
        }
        if let Some(port) = self.port {
            match self.proto {
                Some(p) => {
                    let _ = write!(s, " port {port}/{}", p.as_str());
                }
                None => {
                    let _ = write!(s, " port {port}");
                }
            }
        }
        if let Some(tool) = &self.tool {
            let _ = write!(s, " [{tool}]");
        }
        let _ = write!(
            s,
            " (x{}, {}, #{}): {}",
            self.count,
            self.status.as_str(),
            self.id,
            first_sentence(&self.explanation)
        );
        s
    }
}

/// The explanation up to and including its first full stop followed by a space or the end.
fn first_sentence(text: &str) -> &str {
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'.' && bytes.get(i + 1).is_none_or(|n| *n == b' ' || *n == b'\n') {
            return &text[..=i];
        }
    }
    text
}
