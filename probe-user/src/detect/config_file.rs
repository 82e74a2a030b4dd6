//! The detectors' settings file (`--detectors FILE`, TOML; docs/findings.md lists the keys).

use std::path::{Path, PathBuf};

use super::Config;

/// A detector settings file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("reading the detector settings {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Where in the file, and what is wrong there.
    #[error("{path}{place}: {message}")]
    Invalid {
        path: PathBuf,
        /// `:LINE`, or empty when the parser could not say.
        place: String,
        message: String,
    },
}

impl Config {
    /// The settings in `path`, or the defaults when there is none. Keys the file does not name
    /// keep their defaults; an unknown key is an error naming its line.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigFileError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = crate::textfile::read(path, crate::textfile::MAX_DETECTORS_BYTES).map_err(
            |source| ConfigFileError::Read {
                path: path.to_owned(),
                source,
            },
        )?;
        toml::from_str::<Self>(&text).map_err(|e| ConfigFileError::Invalid {
            path: path.to_owned(),
            place: e
                .span()
                .map(|span| {
                    format!(
                        ":{}",
                        text[..span.start.min(text.len())].lines().count().max(1)
                    )
                })
                .unwrap_or_default(),
            message: e.message().to_owned(),
        })
    }
}
