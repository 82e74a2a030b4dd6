//! What ports and ICMP messages mean. The range classes come first; the FAQ tables build on them.

mod range;

pub use range::RangeClass;
