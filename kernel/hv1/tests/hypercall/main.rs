//! Host tests of hypercall decoding and completion against the TLFS text.

mod boundaries;
mod common;
mod completion;
mod conventions;
mod params;
mod status;
mod xmm;
