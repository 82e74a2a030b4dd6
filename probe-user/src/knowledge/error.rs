//! What can go wrong when loading a knowledge file.

use std::{io, path::PathBuf};

/// A knowledge file could not be used. Nothing from it has been loaded.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    /// The file could not be read at all.
    #[error("cannot read knowledge file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}:{line}: not valid TOML: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A field is missing, unknown, of the wrong type, or has a value that makes no sense.
    /// `field` names the entry and the field, e.g. `port[3].level` (entries count from 1).
    #[error("{}:{line}: {field}: {message}", path.display())]
    Field {
        path: PathBuf,
        line: usize,
        field: String,
        message: String,
    },
}

impl KnowledgeError {
    /// The 1-based line the problem is on, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Read { .. } => None,
            Self::Syntax { line, .. } | Self::Field { line, .. } => Some(*line),
        }
    }

    /// The field at fault (`port[3].level`), when the problem is with one field.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Field { field, .. } => Some(field),
            _ => None,
        }
    }
}
