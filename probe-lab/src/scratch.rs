//! A private directory for a test's files (captures, settings), removed on drop.

use std::{
    fs,
    path::{Path, PathBuf},
};

/// A directory under the system's temporary directory, unique to this test, removed (with
/// everything in it) when dropped, also when the test fails.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// Creates the directory.
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("probe-it-{}-files", crate::lab::unique_id()));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        Self { dir }
    }

    /// `name` inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
