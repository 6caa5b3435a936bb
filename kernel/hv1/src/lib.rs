//! Pure Hv#1 logic for Tessera's kernel fast paths: decoding and completing
//! hypercalls, and the hypervisor CPUID leaves of a partition.
//!
//! Nothing here touches hardware. The kernel hands in the register values it
//! saved at the `VMMCALL` exit, a [`GuestMemory`](hypercall::GuestMemory)
//! for the partition, and the partition's [`Hv1Config`];
//! it gets back a decoded call (or the fault / status to raise), register
//! updates to apply, and CPUID leaf values. Every item speaks the types of
//! the [`tlfs`] crate.
//!
//! # Sources
//!
//! Citations follow the `tlfs` crate's convention: *TLFS md* `<file>` §
//! heading for Microsoft's Markdown edition (`reference/tlfs/`), *TLFS
//! 6.0b* §n.m for the v6.0b text, and *Requirements* § heading for
//! "Requirements for Implementing the Microsoft Hypervisor Interface"
//! (2012). Where the text leaves a choice open, the item says **Choice:**
//! and why.
//!
//! # Modules
//!
//! | module | concept |
//! | --- | --- |
//! | [`hypercall`] | the hypercall interface: caller checks, register conventions, the per-call table, decoding, parameter access, result write-back |
//! | [`cpuid`](mod@cpuid) | the partition's Hv#1 configuration, the CPUID leaves `0x40000000`–`0x40000006` it produces, and its validation against the Requirements |
//!
//! # Where the texts disagree or are silent
//!
//! - **Page-crossing status.** TLFS md `hypercall-interface.md` § Common
//!   Hypercall Status Codes, TLFS 6.0b §3.12 and Appendix B all give
//!   `HV_STATUS_INVALID_ALIGNMENT` for "parameter lists span pages" (not
//!   `HV_STATUS_INVALID_PARAMETER`); so does a GPA outside the GPA space.
//!   Overlapping input and output lists are forbidden (§ Alignment
//!   Requirements) with no status named; this crate uses the same one.
//! - **Input value layout.** The Markdown edition has Is Nested at bit 31
//!   and a 10-bit variable header size; TLFS 6.0b has bit 26 and 9 bits.
//!   The `tlfs` crate (and so this one) follows the Markdown edition.
//! - **Which calls may be fast.** The TLFS defines the fast conventions by
//!   size ("two or fewer input parameters and no output parameters"; "input
//!   parameter block up to 112 bytes"), and 6.0b's per-call Fast column did
//!   not survive in the text. This crate derives it from the sizes: up to 16
//!   bytes in RDX/R8, 17–112 bytes in XMM (#UD if not advertised), more is
//!   `HV_STATUS_INVALID_HYPERCALL_INPUT` (no status is named), and any fast
//!   output needs the XMM output feature and a 64-bit caller.
//! - **`HV_VP_SET` as a variable header.** The `…Ex` pages show
//!   `ProcessorSet` as one variable-sized field. Its `Format` and
//!   `ValidBanksMask` are fixed, so the fixed header is 32 bytes and
//!   `BankContents[]` is the variable header.
//! - **Unimplemented calls.** The Requirements paper (§ Hypercall Interface)
//!   asks for "HV_STATUS_NOT_IMPLEMENTED", a status no TLFS edition defines;
//!   its own sample code page returns 2, `HV_STATUS_INVALID_HYPERCALL_CODE`,
//!   which is what this crate returns.
//! - **Spinlock retry count.** `0xFFFFFFFF` means "never to retry" (the
//!   Requirements and the Markdown's commented-out table) or "never notify"
//!   (rendered table), and `vp-properties.md` says 0 means "should not
//!   notify". This crate only passes the configured value through.
//! - **Continuation on x64.** § Volatile Registers says RAX "is always
//!   overwritten" with the result; a continued rep call has no result yet,
//!   so only RCX (x64) or EDX:EAX (x86) changes.
//! - **Privilege bits.** The Requirements name EBX bits 3
//!   (`AdjustMessageBuffers`) and 13 (`ConfigureProfiler`) and forbid them;
//!   the Markdown edition marks them reserved. TLFS 6.0b's bit 12
//!   `AccessDebugRegs` is reserved in both other texts, and is treated as
//!   reserved.

#![no_std]
#![forbid(unsafe_code)]

pub mod cpuid;
pub mod hypercall;

pub use cpuid::{Hv1Config, cpuid};
pub use hypercall::{Hypercall, HypercallPolicy, Reject, decode};
