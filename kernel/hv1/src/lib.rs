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
//! | [`dispatch`](mod@dispatch) | the kernel's `VMMCALL` entry: decode, run the calls the kernel completes (flushes, long spin wait, extended capabilities), and say what to do |
//! | [`synthetic_msr`] | the synthetic MSR state machine: guest OS ID, hypercall page, VP index, VP runtime, reference counter, reset, VP assist page, crash MSRs |
//! | [`time`] | the reference TSC page's values and update protocol, the TSC/APIC frequency MSRs, the invariant-TSC control |
//! | [`cpuid`](mod@cpuid) | the partition's Hv#1 configuration (also from QEMU-style feature names), the CPUID leaves `0x40000000`–`0x40000006` it produces, and its validation against the Requirements and against what Tessera implements |
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
//! - **Reference TSC MSR privilege.** TLFS 6.0b Appendix C gates
//!   `HV_X64_MSR_REFERENCE_TSC` by AccessPartitionReferenceCounter; TLFS md
//!   `timers.md` by AccessPartitionReferenceTsc. [`synthetic_msr`] follows
//!   the Markdown edition (and does not implement the page).
//! - **VP assist page privilege.** Only Appendix C names one
//!   ("AccessApicMsrs", i.e. AccessIntrCtrlRegs); [`synthetic_msr`] uses it.
//! - **Locked hypercall MSR vs. a zero guest OS ID.** A zero ID disables
//!   the hypercall page; a Locked MSR is "immutable". The lock wins, and a
//!   write to a locked MSR is ignored rather than #GP (no text names a
//!   fault).
//! - **`HV_X64_MSR_RESET` layout.** No edition gives one: bit 0 set
//!   requests the reset, the other bits are ignored, reads return 0.
//! - **Hypercalls before the hypercall page.** A `VMMCALL` while the page
//!   is disabled is #UD (§ Legal Hypercall Environments: "any other means …
//!   might result in … #UD"); see [`dispatch`](mod@dispatch).
//! - **Invariant-TSC control.** Neither edition documents
//!   `HV_X64_MSR_TSC_INVARIANT_CONTROL` (`0x40000118`) or its privilege,
//!   EAX bit 15; both mark the bit reserved. [`time::tsc_invariant`]
//!   follows Linux's `hyperv-tlfs.h` and the guests that use it, and the
//!   `tlfs` crate names the bit `AccessTscInvariantControls`.
//! - **Cluster IPI statuses.** The Markdown pages have no Return Values;
//!   TLFS 6.0b gives `HV_STATUS_INVALID_PARAMETER` for "invalid or
//!   reserved" fields, which [`dispatch::cluster_ipi`] uses for bad
//!   vectors, reserved `TargetVtl` bits, the padding and bad VP sets (Linux's
//!   KVM answers `HV_STATUS_INVALID_HYPERCALL_INPUT` instead).
//! - **Privilege bits.** The Requirements name EBX bits 3
//!   (`AdjustMessageBuffers`) and 13 (`ConfigureProfiler`) and forbid them;
//!   the Markdown edition marks them reserved. TLFS 6.0b's bit 12
//!   `AccessDebugRegs` is reserved in both other texts, and is treated as
//!   reserved.

#![no_std]
#![forbid(unsafe_code)]

pub mod cpuid;
pub mod dispatch;
pub mod hypercall;
pub mod synthetic_msr;
pub mod time;

pub use cpuid::{Hv1Config, cpuid};
pub use dispatch::{DispatchPolicy, Outcome, dispatch};
pub use hypercall::{Hypercall, HypercallPolicy, Reject, decode};
pub use synthetic_msr::{MsrPolicy, PartitionMsrs, VpMsrs, is_synthetic};
