//! The system's service names (`/etc/services`): the fallback for ports the FAQ does not cover.
//! They say what a port is registered for, nothing about why someone is knocking on it.

use std::{
    collections::HashMap,
    io,
    path::{Path, PathBuf},
};

use super::types::Proto;

/// Where the system keeps its service names.
pub const SYSTEM_SERVICES: &str = "/etc/services";

/// Service names by port and protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Services {
    names: HashMap<(u16, Proto), String>,
    origin: Option<PathBuf>,
}

impl Services {
    /// No names at all: every uncovered port falls back to its range class.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parse the text of a services file. Lines that do not read as `name port/proto` are
    /// skipped; the first name given for a port and protocol wins.
    pub fn parse(text: &str) -> Self {
        let mut names = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            let mut words = line.split_whitespace();
            let (Some(name), Some(port_proto)) = (words.next(), words.next()) else {
                continue;
            };
            let Some((port, proto)) = port_proto.split_once('/') else {
                continue;
            };
            let proto = match proto.to_ascii_lowercase().as_str() {
                "tcp" => Proto::Tcp,
                "udp" => Proto::Udp,
                _ => continue,
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            names
                .entry((port, proto))
                .or_insert_with(|| name.to_owned());
        }
        Self {
            names,
            origin: None,
        }
    }

    /// Read and parse a services file.
    pub fn read(path: &Path) -> io::Result<Self> {
        let text = crate::textfile::read(path, crate::textfile::MAX_SERVICES_BYTES)?;
        Ok(Self {
            origin: Some(path.to_path_buf()),
            ..Self::parse(&text)
        })
    }

    /// The system's file, or no names if it cannot be read.
    pub fn system() -> Self {
        Self::read(Path::new(SYSTEM_SERVICES)).unwrap_or_default()
    }

    /// The name registered for a port and protocol.
    pub fn name(&self, port: u16, proto: Proto) -> Option<&str> {
        self.names.get(&(port, proto)).map(String::as_str)
    }

    /// The file the names came from, if they came from a file.
    pub fn origin(&self) -> Option<&Path> {
        self.origin.as_deref()
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debian_style_lines() {
        let s = Services::parse(
            "# comment\n\
             tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer\n\
             domain\t\t53/tcp\n\
             domain\t\t53/udp\n\
             kerberos\t88/tcp\t\tkerberos5 krb5\n\
             duplicate\t88/tcp\n\
             broken line\n\
             weird\t\t99/sctp\n\
             toobig\t\t70000/tcp\n",
        );
        assert_eq!(s.name(1, Proto::Tcp), Some("tcpmux"));
        assert_eq!(s.name(1, Proto::Udp), None);
        assert_eq!(s.name(53, Proto::Udp), Some("domain"));
        assert_eq!(s.name(88, Proto::Tcp), Some("kerberos"));
        assert_eq!(s.name(99, Proto::Tcp), None);
        assert_eq!(s.len(), 4);
    }
}
