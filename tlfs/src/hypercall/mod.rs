//! The hypercall interface: call codes, the 64-bit hypercall input and result
//! values, and the input blocks of the hypercalls that Tessera handles on its
//! fast paths.
//!
//! TLFS md `hypercall-interface.md`, `hypercalls/overview.md`; TLFS 6.0b §3
//! and §17 (Appendix A).

mod code;
mod control;
pub mod params;

pub use code::{HypercallClass, HypercallCode};
pub use control::{HypercallInputValue, HypercallResultValue};

/// Largest input parameter block of an XMM fast hypercall, in bytes (RDX,
/// R8 and XMM0–XMM5).
///
/// TLFS md `hypercall-interface.md` § XMM Fast Hypercall Input (x86/x64).
pub const HV_XMM_FAST_HYPERCALL_MAX_INPUT_BYTES: usize = 112;

/// Hypercall input and output parameter blocks must be 8-byte aligned (and
/// sized to a multiple of 8 bytes).
///
/// TLFS md `hypercall-interface.md` (introduction and § Alignment
/// Requirements).
pub const HV_HYPERCALL_PARAMETER_ALIGNMENT: u64 = 8;

/// Hypercall codes above this are *extended* hypercalls.
///
/// TLFS md `hypercall-interface.md` § Extended Hypercall Interface ("call
/// codes above 0x8000").
pub const HV_EXTENDED_HYPERCALL_BASE: u16 = 0x8000;
