//! The Microsoft Hypervisor Top Level Functional Specification ("TLFS", the
//! `Hv#1` interface) as Rust types.
//!
//! This crate is the one vocabulary that every other Tessera crate speaks: the
//! kernel, the SynIC and VMBus components, and the test guests. It holds
//! numbers, layouts and bit positions only — no behaviour beyond conversions
//! and accessors.
//!
//! # Sources
//!
//! Every item cites where it comes from, using these abbreviations:
//!
//! - **TLFS md** `<file>`: Microsoft's Markdown edition of the TLFS
//!   (`reference/tlfs/` in the shared reference folder), cited by file and
//!   heading, e.g. *TLFS md `timers.md` § Synthetic Timer Configuration
//!   Register*.
//! - **TLFS 6.0b** `§n.m`: the plain text of "Hypervisor Top Level Functional
//!   Specification v6.0b" (`reference/tlfs-v6.0b.txt`), cited by section
//!   number; its appendices A (hypercall codes), B (status codes) and C
//!   (synthetic MSRs) are the most complete lists.
//!
//! Where the two disagree, the item's documentation says which one it
//! follows and why. Where a value or layout is *not* in either source, the
//! item says so explicitly ("**Not in the reference**") and names where it
//! was taken from; such items should be re-checked against Microsoft's
//! headers before a guest-visible behaviour depends on them.
//!
//! # Naming
//!
//! - Module-level constants keep the TLFS `#define` spelling
//!   (`HV_X64_MSR_HYPERCALL`, `HV_MESSAGE_SIZE`).
//! - Types are the TLFS type name in Rust case (`HV_MESSAGE_HEADER` →
//!   [`HvMessageHeader`](message::HvMessageHeader)).
//! - TLFS enumerations are *open* newtypes (see `tessera_open_enum::open_enum!`):
//!   an unknown value from a guest is representable and never makes a parse
//!   fail. Their constants are the TLFS name without the type prefix, in
//!   SCREAMING case (`HvCallPostMessage` → `HypercallCode::POST_MESSAGE`,
//!   `HV_STATUS_SUCCESS` → `HvStatus::SUCCESS`), and `name()` returns the
//!   exact TLFS spelling.
//! - Bit fields use [`bitfield_struct`]; field names are the TLFS field names
//!   in snake case. Reserved bits have no accessor; where the TLFS marks them
//!   RsvdZ the type also offers a `RESERVED_MASK`.
//!
//! # Modules
//!
//! | module | concept |
//! | --- | --- |
//! | [`types`] | scalar types shared by everything else (partition ID, VP index, GPA page number, VTL) |
//! | [`cpuid`] | the hypervisor CPUID leaves `0x40000000`–`0x4000000A` |
//! | [`privilege`] | `HV_PARTITION_PRIVILEGE_MASK` (CPUID `0x40000003` EAX:EBX) |
//! | [`msr`] | synthetic MSR numbers and the layouts of the non-SynIC, non-timer ones |
//! | [`hypercall`] | call codes, the hypercall input/result values, fast-path input blocks |
//! | [`status`] | `HV_STATUS` |
//! | [`message`] | `HV_MESSAGE`, its header and type, the SynIC message page |
//! | [`synic`] | SynIC registers, SINT index, event flags and the event flags page, ports and connections |
//! | [`port`] | `HV_PORT_INFO`, `HV_CONNECTION_INFO` and the inputs of the port and connection calls |
//! | [`timer`] | synthetic timer registers and the timer expiration message |
//! | [`reference_tsc`] | the reference TSC page |
//! | [`vp_assist`] | the VP assist page |
//! | [`intercept`] | x64 intercept message layouts |
//! | [`register`] | `HV_REGISTER_NAME` |
//!
//! All structures that the TLFS sizes carry compile-time size (and, for the
//! important fields, offset) assertions next to their definition.

#![no_std]
#![forbid(unsafe_code)]

pub mod cpuid;
pub mod hypercall;
pub mod intercept;
pub mod message;
pub mod msr;
pub mod port;
pub mod privilege;
pub mod reference_tsc;
pub mod register;
pub mod status;
pub mod synic;
pub mod timer;
pub mod types;
pub mod vp_assist;

pub use hypercall::{HypercallCode, HypercallInputValue, HypercallResultValue};
pub use message::{HvMessage, HvMessageType};
pub use register::HvRegisterName;
pub use status::HvStatus;
