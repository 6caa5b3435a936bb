//! Issuing hypercalls: through the hypercall page (a `call` to it, TLFS md
//! `hypercall-interface.md` § Establishing the Hypercall Interface
//! (x86/x64): "invoking a hypercall simply involves a call to the start of
//! the page"), or with `vmmcall` directly. x64 register convention (§
//! Hypercall Register Conventions (x86/x64)): RCX the hypercall input value,
//! RDX the input GPA or first fast parameter, R8 the output GPA or second
//! fast parameter; RAX the hypercall result value (§ Hypercall Outputs).
#![allow(unsafe_code)]

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use tessera_guest_framework::Caught;
use tlfs::{HvStatus, HypercallCode, HypercallInputValue, HypercallResultValue};

use crate::trap::{guarded, guarded_asm};

/// The virtual address `call` jumps to: the guest's mapping of the
/// hypercall page.
static PAGE: AtomicU64 = AtomicU64::new(0);

/// Sets the address [`via_page`] calls.
pub fn set_page(virtual_address: u64) {
    PAGE.store(virtual_address, Ordering::SeqCst);
}

/// The registers a hypercall leaves that the checks look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Returned {
    /// RAX: the hypercall result value.
    pub rax: u64,
    /// RCX afterwards (rep calls may update the rep start index in it).
    pub rcx: u64,
}

impl Returned {
    #[must_use]
    pub fn result(&self) -> HypercallResultValue {
        HypercallResultValue::from_bits(self.rax)
    }

    #[must_use]
    pub fn status(&self) -> HvStatus {
        self.result().result()
    }

    #[must_use]
    pub fn reps_completed(&self) -> u16 {
        self.result().reps_completed()
    }
}

/// An `HV_STATUS` as `0x3 HV_STATUS_INVALID_HYPERCALL_INPUT`.
#[derive(Clone, Copy)]
pub struct Status(pub HvStatus);

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.name() {
            Some(name) => write!(f, "{:#x} {name}", self.0.0),
            None => write!(f, "{:#x} (unnamed)", self.0.0),
        }
    }
}

/// A hypercall input value: `code`, fast or not, with the rep count,
/// rep start and variable header size given.
#[must_use]
pub fn control(code: HypercallCode, fast: bool) -> HypercallInputValue {
    HypercallInputValue::new()
        .with_call_code(code)
        .with_fast(fast)
}

/// Calls the hypercall page with `control` in RCX, `input` in RDX and
/// `output` in R8.
pub fn via_page(control: u64, input: u64, output: u64) -> Result<Returned, Caught> {
    guarded(|| {
        let (rax, rcx): (u64, u64);
        // The hypercall page is code the hypervisor placed at a
        // page the guest mapped; it performs the hypercall and returns
        // (near return) with the stack as it was. Per TLFS md
        // `hypercall-interface.md` § Volatile Registers it changes RAX and
        // (rep calls) RCX only, but this block assumes every caller-saved
        // register is clobbered, and the hypervisor may write guest memory
        // (output parameters): no `nomem`. A fault in the page resumes
        // after the call (see `trap`).
        // SAFETY: by the argument just above.
        unsafe {
            guarded_asm!(
                "call qword ptr [rip + {page}]";
                page = sym PAGE,
                inout("rcx") control => rcx,
                inout("rdx") input => _,
                inout("r8") output => _,
                out("rax") rax,
                clobber_abi("sysv64"),
            );
        }
        Returned { rax, rcx }
    })
}

/// The same call with `vmmcall` executed here, not in the hypercall page.
pub fn via_vmmcall(control: u64, input: u64, output: u64) -> Result<Returned, Caught> {
    guarded(|| {
        let (rax, rcx): (u64, u64);
        // SAFETY: as for `via_page`, with the instruction inline; #UD
        // resumes after it.
        unsafe {
            guarded_asm!(
                "vmmcall";
                inout("rcx") control => rcx,
                inout("rdx") input => _,
                inout("r8") output => _,
                out("rax") rax,
                clobber_abi("sysv64"),
            );
        }
        Returned { rax, rcx }
    })
}

/// A fast call through the page with `xmm0` in the low quadword of XMM0
/// (the third quadword of the XMM fast input block, TLFS md
/// `hypercall-interface.md` § XMM Fast Hypercall Input (x86/x64)). SSE must
/// be enabled (CR4.OSFXSR) by the caller.
pub fn via_page_xmm(control: u64, rdx: u64, r8: u64, xmm0: u64) -> Result<Returned, Caught> {
    guarded(|| {
        let (rax, rcx): (u64, u64);
        // As for `via_page`. `movq xmm0, rax` is spelled in bytes
        // because the target has SSE off for compiled code; the compiler
        // never uses XMM registers, so clobbering XMM0 harms nothing.
        // SAFETY: by the argument just above.
        unsafe {
            guarded_asm!(
                // movq xmm0, rax
                ".byte 0x66, 0x48, 0x0f, 0x6e, 0xc0",
                "call qword ptr [rip + {page}]";
                page = sym PAGE,
                inout("rcx") control => rcx,
                inout("rdx") rdx => _,
                inout("r8") r8 => _,
                inout("rax") xmm0 => rax,
                clobber_abi("sysv64"),
            );
        }
        Returned { rax, rcx }
    })
}

/// The registers [`register_probe`] loads before the call, in the order
/// of [`PROBED_REGISTERS`]; RCX and RDX are the call's own inputs.
pub const PROBE_PATTERNS: [u64; 13] = [
    0x5EED_0000_0000_00B0, // RBX
    0x5EED_0000_0000_00B1, // RBP
    0x5EED_0000_0000_00B2, // RSI
    0x5EED_0000_0000_00B3, // RDI
    0x5EED_0000_0000_0008, // R8
    0x5EED_0000_0000_0009, // R9
    0x5EED_0000_0000_0010, // R10
    0x5EED_0000_0000_0011, // R11
    0x5EED_0000_0000_0012, // R12
    0x5EED_0000_0000_0013, // R13
    0x5EED_0000_0000_0014, // R14
    0x5EED_0000_0000_0015, // R15
    0,                     // RCX: replaced by the input value
];

/// The names of the probed registers, [`PROBE_PATTERNS`] order, then RDX.
pub const PROBED_REGISTERS: [&str; 14] = [
    "RBX", "RBP", "RSI", "RDI", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15", "RCX", "RDX",
];

static OBSERVED: [AtomicU64; 14] = [const { AtomicU64::new(0) }; 14];

/// A fast call through the page with every other general register loaded
/// with a pattern; returns the result and every register (in
/// [`PROBED_REGISTERS`] order) as the call left it.
pub fn register_probe(control: u64, rdx: u64) -> Result<(Returned, [u64; 14]), Caught> {
    let rax = guarded(|| {
        let rax: u64;
        // As for `via_page`. RBX and RBP cannot be operands: they
        // are saved on the stack before the recovery point is armed and
        // restored after it, so a fault in the page still restores them.
        // Every other register the block loads is declared clobbered.
        // SAFETY: by the argument just above.
        unsafe {
            core::arch::asm!(
                "push rbx",
                "push rbp",
                "mov rbx, {p0}",
                "mov rbp, {p1}",
                "mov rsi, {p2}",
                "mov rdi, {p3}",
                "mov r8, {p4}",
                "mov r9, {p5}",
                "mov r10, {p6}",
                "mov r11, {p7}",
                "mov r12, {p8}",
                "mov r13, {p9}",
                "mov r14, {p10}",
                "mov r15, {p11}",
                "lea rax, [rip + 3f]",
                "mov qword ptr [rip + {recovery_rip}], rax",
                "mov qword ptr [rip + {recovery_rsp}], rsp",
                "call qword ptr [rip + {page}]",
                "3:",
                "mov qword ptr [rip + {recovery_rip}], 0",
                "mov qword ptr [rip + {observed} + 0 * 8], rbx",
                "mov qword ptr [rip + {observed} + 1 * 8], rbp",
                "mov qword ptr [rip + {observed} + 2 * 8], rsi",
                "mov qword ptr [rip + {observed} + 3 * 8], rdi",
                "mov qword ptr [rip + {observed} + 4 * 8], r8",
                "mov qword ptr [rip + {observed} + 5 * 8], r9",
                "mov qword ptr [rip + {observed} + 6 * 8], r10",
                "mov qword ptr [rip + {observed} + 7 * 8], r11",
                "mov qword ptr [rip + {observed} + 8 * 8], r12",
                "mov qword ptr [rip + {observed} + 9 * 8], r13",
                "mov qword ptr [rip + {observed} + 10 * 8], r14",
                "mov qword ptr [rip + {observed} + 11 * 8], r15",
                "mov qword ptr [rip + {observed} + 12 * 8], rcx",
                "mov qword ptr [rip + {observed} + 13 * 8], rdx",
                "pop rbp",
                "pop rbx",
                p0 = const PROBE_PATTERNS[0],
                p1 = const PROBE_PATTERNS[1],
                p2 = const PROBE_PATTERNS[2],
                p3 = const PROBE_PATTERNS[3],
                p4 = const PROBE_PATTERNS[4],
                p5 = const PROBE_PATTERNS[5],
                p6 = const PROBE_PATTERNS[6],
                p7 = const PROBE_PATTERNS[7],
                p8 = const PROBE_PATTERNS[8],
                p9 = const PROBE_PATTERNS[9],
                p10 = const PROBE_PATTERNS[10],
                p11 = const PROBE_PATTERNS[11],
                recovery_rip = sym crate::trap::RECOVERY_RIP,
                recovery_rsp = sym crate::trap::RECOVERY_RSP,
                page = sym PAGE,
                observed = sym OBSERVED,
                inout("rcx") control => _,
                inout("rdx") rdx => _,
                out("rax") rax,
                out("rsi") _,
                out("rdi") _,
                out("r8") _,
                out("r9") _,
                out("r10") _,
                out("r11") _,
                out("r12") _,
                out("r13") _,
                out("r14") _,
                out("r15") _,
            );
        }
        rax
    })?;
    let observed = core::array::from_fn(|i| OBSERVED[i].load(Ordering::SeqCst));
    // RCX is read back from the observed copy: the call's input value.
    Ok((
        Returned {
            rax,
            rcx: observed[12],
        },
        observed,
    ))
}

pub use tessera_guest_framework::cpu::{enable_sse, restore_cr4};
