//! Showing an error with its causes, once each.
//!
//! Every error type here says what failed in its own message and keeps the cause as its
//! `source`, never both: a message that also printed its source would show the cause twice
//! wherever the whole chain is shown (`probe: {e:#}` at the command line, [`Chain`] in the
//! log).

use std::{error::Error, fmt};

/// An error and every cause behind it, `what failed: why: why deeper`.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::Chain;

    #[derive(Debug, thiserror::Error)]
    #[error("opening the thing")]
    struct Outer(#[source] io::Error);

    #[test]
    fn a_chain_shows_each_cause_once_in_order() {
        let e = Outer(io::Error::new(io::ErrorKind::NotFound, "no such file"));
        assert_eq!(Chain(&e).to_string(), "opening the thing: no such file");
        assert_eq!(
            format!("{:#}", anyhow::Error::new(e)),
            "opening the thing: no such file"
        );
    }
}
