//! Lets probe-user name this crate as a build dependency, so cargo rebuilds the daemon when the
//! XDP program's library side changes; the program itself is the `probe` binary target.
#![no_std]
