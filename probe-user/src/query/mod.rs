//! The query protocol between `probe query` (or any program) and the daemon. docs/protocol.md
//! describes it for other implementers.

pub mod answer;
pub mod client;
pub mod frame;
pub mod protocol;
pub mod server;
