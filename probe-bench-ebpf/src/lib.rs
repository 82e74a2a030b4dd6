//! Lets probe-bench name this crate as a build dependency, so cargo rebuilds the benchmark when
//! this crate changes; the programs themselves are the `probe-bench` binary target.
#![no_std]
