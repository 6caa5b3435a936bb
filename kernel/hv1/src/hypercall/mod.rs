//! The hypercall interface: from the registers of a `VMMCALL` exit to a
//! decoded call, and from the handler's result back to register updates.
//!
//! TLFS md `hypercall-interface.md`; TLFS 6.0b §3.
//!
//! # Flow on the kernel fast path
//!
//! 1. [`decode`] checks the caller ([`Caller`]), reads the hypercall input
//!    value and the parameters for the caller's [`CallingConvention`], and
//!    validates them against the per-call [`table`] and the partition's
//!    [`HypercallPolicy`]. It returns a [`Hypercall`] or a [`Reject`]: a
//!    [`Fault`] to inject, or an [`HvStatus`](tlfs::HvStatus) to return at
//!    once (write it back with [`Writeback::status`]).
//! 2. The handler reads its parameters with [`Hypercall::read_input`] and
//!    friends (memory or register input alike) through a [`GuestMemory`].
//!    A failed access becomes a [`ParamFailure`]: a status, or a memory
//!    intercept to forward.
//! 3. [`Hypercall::complete`] turns the status and the number of rep
//!    elements the handler finished into a [`Writeback`]: the result value,
//!    or — for an unfinished rep call — the advanced input value with RIP
//!    left on the hypercall instruction (TLFS md § Hypercall Continuation).
//!    [`Writeback::apply`] writes it into [`HypercallRegisters`].
//!
//! # Statuses and where they come from
//!
//! | condition | result | source |
//! | --- | --- | --- |
//! | CPL > 0, real mode, virtual-8086 mode | #UD | TLFS md § Legal Hypercall Environments; 6.0b §3.5 |
//! | code (bits 15:0) unknown or not advertised | `HV_STATUS_INVALID_HYPERCALL_CODE` | § Common Hypercall Status Codes; 6.0b §3.12 |
//! | advertised, privilege not granted | `HV_STATUS_ACCESS_DENIED` | § Ordering of Error Conditions; the call's Return Values |
//! | RsvdZ bit set in the input value | `HV_STATUS_INVALID_HYPERCALL_INPUT` | § Common Hypercall Status Codes |
//! | variable header size on a call without one | `HV_STATUS_INVALID_HYPERCALL_INPUT` | § Variable Sized Hypercall Input Headers |
//! | simple call with rep count or rep start ≠ 0 | `HV_STATUS_INVALID_HYPERCALL_INPUT` | § Hypercall Inputs; § Common Hypercall Status Codes |
//! | rep call with rep count 0, or rep start ≥ rep count | `HV_STATUS_INVALID_HYPERCALL_INPUT` | same |
//! | fast input of 17–112 bytes, XMM input not advertised | #UD | § XMM Fast Hypercall Input |
//! | fast call with output, XMM output not advertised or not x64 | #UD | § XMM Fast Hypercall Output |
//! | fast input > 112 bytes, or fast output not fitting | `HV_STATUS_INVALID_HYPERCALL_INPUT` | **Choice** (the TLFS names no status) |
//! | input/output GPA not 8-byte aligned | `HV_STATUS_INVALID_ALIGNMENT` | § Common Hypercall Status Codes; § Alignment Requirements |
//! | input/output list crosses a page boundary | `HV_STATUS_INVALID_ALIGNMENT` | same ("parameter lists span pages") |
//! | input and output lists overlap | `HV_STATUS_INVALID_ALIGNMENT` | **Choice** (§ Alignment Requirements forbids it, names no status) |
//! | GPA outside the partition's GPA space | `HV_STATUS_INVALID_ALIGNMENT` | § Common Hypercall Status Codes |
//! | GPA inside the space, unmapped or without access | memory intercept | § Alignment Requirements; 6.0b §3.6 |

mod call;
mod caller;
mod completion;
mod decode;
mod fast_output;
mod layout;
mod memory;
mod policy;
mod registers;
pub mod table;

pub use call::{Hypercall, Input, Output, XmmBlock};
pub use caller::{Caller, CallingConvention, CpuMode, Fault};
pub use completion::Writeback;
pub use decode::{Reject, decode};
pub use fast_output::FastOutputWrites;
pub use memory::{Access, GpaError, GuestMemory, ParamError, ParamFailure};
pub use policy::{HypercallPolicy, HypercallSet};
pub use registers::{HypercallRegisters, XMM_INPUT_REGISTERS, XmmRegisters};
pub use table::CallSpec;
