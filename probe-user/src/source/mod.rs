//! Where the pipeline's inputs come from: the kernel live ([`ring`]: first-contact events from
//! the ring buffer), or a capture file offline ([`capture`]: frames through the shared parser
//! and the kernel's first-contact rule, run on the host).

pub mod capture;
pub mod clock;
pub mod ring;
