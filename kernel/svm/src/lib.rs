//! AMD SVM (AMD-V) as Rust types: the virtual machine control block (VMCB),
//! its intercept vectors, exit codes and exit information, event
//! injection, and the MSR and I/O permission maps.
//!
//! This crate holds layouts, bit positions and encodings only — no
//! hardware access and no `unsafe`. The kernel builds a [`Vmcb`] per
//! virtual processor, copies the permission maps' bytes into physically
//! contiguous frames, and hands their physical addresses to `VMRUN`.
//!
//! # Sources
//!
//! Items cite where the fact lives in the **AMD64 Architecture Programmer's
//! Manual, Volume 2: System Programming** (publication 24593, "APM"):
//! *Table B-1* (VMCB control area), *Table B-2* (VMCB state save area),
//! *§15.x* (the SVM chapter), *Appendix C* (exit codes). Section numbers
//! are those of recent editions as the author remembers them; they could
//! not be checked against the text, so treat them as pointers, not proof.
//!
//! **The APM text itself was not available** to the author (it is in
//! neither the shared reference folder nor the searchable corpora). Every
//! value here was therefore confirmed from implementations that transcribe
//! the manual, and an item is only stated without qualification when at
//! least two of them agree:
//!
//! - **Linux**: `arch/x86/include/asm/svm.h` (VMCB structures, intercept
//!   bit numbers, `int_ctl` bits, IOIO and event-injection masks),
//!   `arch/x86/include/uapi/asm/svm.h` (exit codes), `arch/x86/kvm/svm/svm.h`
//!   (clean bits), `arch/x86/include/asm/kvm_host.h` (nested page fault
//!   error code bits).
//! - **Xen**: `xen/arch/x86/include/asm/hvm/svm/vmcb.h` (copyright Advanced
//!   Micro Devices): the VMCB with offsets in comments, intercepts, exit
//!   codes, `intinfo_t`, `vintr_t`, `ioio_info_t`, clean bits, TLB control.
//! - **QEMU**: `target/i386/svm.h` and `target/i386/tcg/system/svm_helper.c`
//!   (the VMCB, event-injection checks, the IOPM and MSRPM lookups that TCG
//!   performs).
//! - **Measured**: `svm-on-qemu.md` in the shared folder (QEMU 7.2 TCG).
//!
//! Where only one of these gives a fact, or none does and the value comes
//! from memory of the manual, the item says so with **Unconfirmed**. The
//! crate's tests assert the values the sources agree on.
//!
//! # Modules
//!
//! | module | concept |
//! | --- | --- |
//! | [`vmcb`] | [`Vmcb`]: the 4 KiB control block = control area + save area |
//! | [`control_area`] | the control area (Table B-1, `000h`–`3FFh`) |
//! | [`save_area`] | the state save area (Table B-2, `400h`–`FFFh`) |
//! | [`segment`] | a save-area segment register and its attribute bits |
//! | [`intercept`] | the intercept vectors: named intercepts → (word, bit) |
//! | [`exception`] | exception vectors, and which push an error code |
//! | [`exit_code`] | `EXITCODE` (Appendix C) |
//! | [`event`] | `EVENTINJ` / `EXITINTINFO` encoding, with validation |
//! | [`ioio`] | `EXITINFO1` of an IOIO intercept |
//! | [`npf`] | `EXITINFO1` of a nested page fault |
//! | [`interrupt`] | the virtual interrupt control (`060h`) and interrupt state (`068h`) words |
//! | [`controls`] | nested paging control (`090h`), virtualization extensions (`0B8h`), TLB control |
//! | [`clean`] | the VMCB clean bits (`0C0h`) |
//! | [`msrpm`] | the MSR permission map (8 KiB) |
//! | [`iopm`] | the I/O permission map (12 KiB) |
//!
//! Every structure the APM sizes carries a compile-time size assertion,
//! and every VMCB field a compile-time offset assertion, next to its
//! definition.

#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

mod macros;

pub mod clean;
pub mod control_area;
pub mod controls;
pub mod event;
pub mod exception;
pub mod exit_code;
pub mod intercept;
pub mod interrupt;
pub mod ioio;
pub mod iopm;
pub mod msrpm;
pub mod npf;
pub mod save_area;
pub mod segment;
pub mod vmcb;

pub use event::{Event, EventInjection, EventInjectionError};
pub use exception::ExceptionVector;
pub use exit_code::ExitCode;
pub use intercept::{Intercept, InterceptVector, RegIndex};
pub use iopm::IoPermissionMap;
pub use msrpm::{MsrAccess, MsrInterception, MsrPermissionMap};
pub use vmcb::Vmcb;
