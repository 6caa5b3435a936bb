//! A second layer of exception catching, on top of the framework's.
//!
//! The framework guards only the instructions its `cpu` module offers
//! (`rdmsr`, `wrmsr`, `ud2`, `int3`), and returns to a recovery point on the
//! stack the instruction ran on. This guest also needs to survive faults in
//! code it does not control (the hypervisor's hypercall page, reached with
//! `call`), in `vmmcall`, in stores to overlay pages, and in ring 3, where
//! the exception arrives on another stack. So it installs its own IDT:
//!
//! - the framework's 32 gates are copied, and #UD, #GP and #PF are replaced
//!   by stubs that check *this* module's recovery point first. If it is not
//!   armed, the stub jumps to the framework's stub for the vector with the
//!   frame untouched, so the framework's guards and its report of an
//!   unexpected exception keep working;
//! - if it is armed, the stub records the vector, error code, RIP and CS of
//!   the fault and `iretq`s to the recovery point with the RSP, CS and SS
//!   saved when it was armed (interrupts off), whatever ring and stack the
//!   fault came from;
//! - vector 0x40 counts self-IPIs and sends EOI through `HV_X64_MSR_EOI`,
//!   vector 0x41 counts too but ends the interrupt the lazy way (TLFS md
//!   `virtual-interrupts.md` § EOI Assist: clear "No EOI required" in the
//!   VP assist page at [`LAZY_ASSIST`], and write the EOI MSR only if it
//!   was clear), counting the EOIs it skipped; vector 0xFF (the APIC's
//!   spurious vector here) just returns.
//!
//! [`guarded_asm!`] arms the recovery point around an `asm!` block;
//! [`guarded`] turns what the stubs recorded into `Err(Caught)`.
#![allow(unsafe_code)]

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU64, Ordering};

use tessera_guest_framework::Caught;

/// Where the guarded block resumes after an exception (0: not armed).
pub(crate) static RECOVERY_RIP: AtomicU64 = AtomicU64::new(0);
/// The stack pointer the guarded block resumes with.
pub(crate) static RECOVERY_RSP: AtomicU64 = AtomicU64::new(0);
static CAUGHT_VECTOR: AtomicU64 = AtomicU64::new(NOTHING_CAUGHT);
static CAUGHT_ERROR: AtomicU64 = AtomicU64::new(NO_ERROR_CODE);
static CAUGHT_RIP: AtomicU64 = AtomicU64::new(0);
static CAUGHT_CS: AtomicU64 = AtomicU64::new(0);
/// The selectors the recovery point runs with (the loader's, at CPL 0).
static KERNEL_CS: AtomicU64 = AtomicU64::new(0);
static KERNEL_SS: AtomicU64 = AtomicU64::new(0);
/// The framework's handler of each architectural exception.
static ORIGINAL: [AtomicU64; 32] = [const { AtomicU64::new(0) }; 32];
/// Self-IPIs taken on [`IPI_VECTOR`].
pub(crate) static IPI_COUNT: AtomicU64 = AtomicU64::new(0);
/// Interrupts taken on [`LAZY_VECTOR`].
pub(crate) static LAZY_COUNT: AtomicU64 = AtomicU64::new(0);
/// Of those, the ones whose EOI the host let the guest skip.
pub(crate) static LAZY_SKIPPED: AtomicU64 = AtomicU64::new(0);
/// The address of the VP assist page's EOI Assist field (0: none, every
/// EOI goes to the MSR).
pub(crate) static LAZY_ASSIST: AtomicU64 = AtomicU64::new(0);

const NOTHING_CAUGHT: u64 = u64::MAX;
const NO_ERROR_CODE: u64 = u64::MAX;

/// The vector the self-IPI check sends.
pub const IPI_VECTOR: u8 = 0x40;
/// The vector whose handler ends it with a lazy EOI.
pub const LAZY_VECTOR: u8 = 0x41;
/// The spurious-interrupt vector programmed into the APIC's SVR.
pub const SPURIOUS_VECTOR: u8 = 0xFF;

/// 256 gates of 16 bytes. Atomics: the CPU reads it behind the compiler.
#[repr(C, align(16))]
struct Idt([AtomicU64; 512]);
static IDT: Idt = Idt([const { AtomicU64::new(0) }; 512]);

global_asm!(
    r#"
    .section .text.hv_conformance_trap, "ax"

    .balign 16
hv_conformance_trap_ud:
    cmp qword ptr [rip + {recovery_rip}], 0
    jne 2f
    jmp qword ptr [rip + {original} + 6 * 8]
2:  push -1
    push 6
    jmp hv_conformance_trap_recover

    .balign 16
hv_conformance_trap_gp:
    cmp qword ptr [rip + {recovery_rip}], 0
    jne 2f
    jmp qword ptr [rip + {original} + 13 * 8]
2:  push 13
    jmp hv_conformance_trap_recover

    .balign 16
hv_conformance_trap_pf:
    cmp qword ptr [rip + {recovery_rip}], 0
    jne 2f
    jmp qword ptr [rip + {original} + 14 * 8]
2:  push 14
    jmp hv_conformance_trap_recover

    # 0(%rsp) RAX, 8 vector, 16 error code, 24 RIP, 32 CS, 40 RFLAGS,
    # 48 RSP, 56 SS once RAX is saved.
hv_conformance_trap_recover:
    push rax
    mov rax, [rsp + 8]
    mov [rip + {caught_vector}], rax
    mov rax, [rsp + 16]
    mov [rip + {caught_error}], rax
    mov rax, [rsp + 24]
    mov [rip + {caught_rip}], rax
    mov rax, [rsp + 32]
    mov [rip + {caught_cs}], rax
    mov rax, [rip + {recovery_rip}]
    mov [rsp + 24], rax
    mov rax, [rip + {kernel_cs}]
    mov [rsp + 32], rax
    and qword ptr [rsp + 40], ~0x200
    mov rax, [rip + {recovery_rsp}]
    mov [rsp + 48], rax
    mov rax, [rip + {kernel_ss}]
    mov [rsp + 56], rax
    mov qword ptr [rip + {recovery_rip}], 0
    pop rax
    add rsp, 16
    iretq

    .balign 16
hv_conformance_trap_ipi:
    push rax
    push rcx
    push rdx
    lock inc qword ptr [rip + {ipi_count}]
    mov ecx, {msr_eoi}
    xor eax, eax
    xor edx, edx
    wrmsr
    pop rdx
    pop rcx
    pop rax
    iretq

    .balign 16
hv_conformance_trap_lazy:
    push rax
    push rcx
    push rdx
    lock inc qword ptr [rip + {lazy_count}]
    mov rax, qword ptr [rip + {lazy_assist}]
    test rax, rax
    jz 2f
    btr dword ptr [rax], 0
    jnc 2f
    lock inc qword ptr [rip + {lazy_skipped}]
    jmp 3f
2:  mov ecx, {msr_eoi}
    xor eax, eax
    xor edx, edx
    wrmsr
3:  pop rdx
    pop rcx
    pop rax
    iretq

    .balign 16
hv_conformance_trap_spurious:
    iretq

    .section .rodata.hv_conformance_trap, "a"
    .balign 8
    .globl hv_conformance_trap_handlers
hv_conformance_trap_handlers:
    .quad hv_conformance_trap_ud
    .quad hv_conformance_trap_gp
    .quad hv_conformance_trap_pf
    .quad hv_conformance_trap_ipi
    .quad hv_conformance_trap_lazy
    .quad hv_conformance_trap_spurious
    .text
"#,
    recovery_rip = sym RECOVERY_RIP,
    recovery_rsp = sym RECOVERY_RSP,
    original = sym ORIGINAL,
    caught_vector = sym CAUGHT_VECTOR,
    caught_error = sym CAUGHT_ERROR,
    caught_rip = sym CAUGHT_RIP,
    caught_cs = sym CAUGHT_CS,
    kernel_cs = sym KERNEL_CS,
    kernel_ss = sym KERNEL_SS,
    ipi_count = sym IPI_COUNT,
    lazy_count = sym LAZY_COUNT,
    lazy_skipped = sym LAZY_SKIPPED,
    lazy_assist = sym LAZY_ASSIST,
    msr_eoi = const tlfs::msr::HV_X64_MSR_EOI,
);

unsafe extern "C" {
    /// #UD, #GP, #PF, the two IPI and the spurious handlers, from the
    /// block above.
    safe static hv_conformance_trap_handlers: [u64; 6];
}

/// Present 64-bit interrupt gate, DPL 0.
const GATE_ATTRIBUTES: u64 = 0x8E;

fn gate(handler: u64, selector: u64) -> (u64, u64) {
    let low = (handler & 0xFFFF)
        | (selector << 16)
        | (GATE_ATTRIBUTES << 40)
        | (((handler >> 16) & 0xFFFF) << 48);
    (low, handler >> 32)
}

fn gate_handler(low: u64, high: u64) -> u64 {
    (low & 0xFFFF) | ((low >> 48) << 16) | (high << 32)
}

/// Copies the framework's IDT (which must be loaded) into this module's,
/// puts the stubs in, and loads it. Call once, first thing.
pub fn install() {
    let (framework_idt, limit) = sidt();
    let framework_gates = ((usize::from(limit) + 1) / 16).min(32);
    let selector = u64::from(tessera_guest_framework::cpu::code_selector());
    for (vector, original) in ORIGINAL.iter().enumerate().take(framework_gates) {
        let address = framework_idt + 16 * vector as u64;
        // SAFETY: the framework's IDT is 32 loaded gates in its static,
        // read here as plain memory through the identity map.
        let (low, high) = unsafe {
            (
                core::ptr::with_exposed_provenance::<u64>(address as usize).read_volatile(),
                core::ptr::with_exposed_provenance::<u64>(address as usize + 8).read_volatile(),
            )
        };
        original.store(gate_handler(low, high), Ordering::SeqCst);
        IDT.0[2 * vector].store(low, Ordering::Relaxed);
        IDT.0[2 * vector + 1].store(high, Ordering::Relaxed);
    }
    let [ud, gp, pf, ipi, lazy, spurious] = hv_conformance_trap_handlers;
    for (vector, handler) in [
        (6, ud),
        (13, gp),
        (14, pf),
        (usize::from(IPI_VECTOR), ipi),
        (usize::from(LAZY_VECTOR), lazy),
        (usize::from(SPURIOUS_VECTOR), spurious),
    ] {
        let (low, high) = gate(handler, selector);
        IDT.0[2 * vector].store(low, Ordering::Relaxed);
        IDT.0[2 * vector + 1].store(high, Ordering::Relaxed);
    }
    KERNEL_CS.store(selector, Ordering::SeqCst);
    KERNEL_SS.store(u64::from(stack_selector()), Ordering::SeqCst);
    lidt(&raw const IDT as u64, (IDT.0.len() * 8 - 1) as u16);
}

fn sidt() -> (u64, u16) {
    let mut raw = [0u8; 10];
    // SAFETY: `sidt` stores 10 bytes into `raw`.
    unsafe { asm!("sidt [{}]", in(reg) raw.as_mut_ptr(), options(nostack, preserves_flags)) };
    let limit = u16::from_le_bytes([raw[0], raw[1]]);
    let mut base = [0u8; 8];
    base.copy_from_slice(&raw[2..]);
    (u64::from_le_bytes(base), limit)
}

fn lidt(base: u64, limit: u16) {
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let pointer = Pointer { limit, base };
    // The table is this module's static IDT, whose gates lead to the
    // framework's stubs or to the stubs above; both handle every vector they
    // get without harming the interrupted code.
    // SAFETY: by the argument just above.
    unsafe {
        asm!("lidt [{}]", in(reg) &raw const pointer, options(readonly, nostack, preserves_flags));
    }
}

fn stack_selector() -> u16 {
    let selector: u16;
    // SAFETY: reading SS has no effect.
    unsafe { asm!("mov {0:x}, ss", out(reg) selector, options(nomem, nostack, preserves_flags)) };
    selector
}

/// Where and at which privilege the last caught exception happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultSite {
    pub rip: u64,
    pub cs: u16,
}

impl FaultSite {
    #[must_use]
    pub fn cpl(self) -> u8 {
        (self.cs & 3) as u8
    }
}

/// The RIP and CS of the last exception this module caught.
#[must_use]
pub fn last_fault_site() -> FaultSite {
    FaultSite {
        rip: CAUGHT_RIP.load(Ordering::SeqCst),
        cs: CAUGHT_CS.load(Ordering::SeqCst) as u16,
    }
}

/// Runs `operation`, whose `asm!` blocks are built with [`guarded_asm!`],
/// and returns its value or the exception it raised.
pub fn guarded<T>(operation: impl FnOnce() -> T) -> Result<T, Caught> {
    CAUGHT_VECTOR.store(NOTHING_CAUGHT, Ordering::SeqCst);
    let value = operation();
    match CAUGHT_VECTOR.load(Ordering::SeqCst) {
        NOTHING_CAUGHT => Ok(value),
        vector => {
            let error = CAUGHT_ERROR.load(Ordering::SeqCst);
            Err(Caught {
                vector: vector as u8,
                error_code: (error != NO_ERROR_CODE).then_some(error),
            })
        }
    }
}

/// `asm!` with this module's recovery point armed around `$instructions`:
/// on #UD, #GP or #PF anywhere in between (also in code they call, also at
/// CPL 3) execution resumes after them with the stack pointer the block
/// started with and interrupts off. R11 holds the recovery address and is
/// clobbered; the instructions must not use R11 as an input, nor label `3`.
macro_rules! guarded_asm {
    ($($instructions:literal),+ ; $($operands:tt)*) => {
        core::arch::asm!(
            "lea r11, [rip + 3f]",
            "mov qword ptr [rip + {recovery_rip}], r11",
            "mov qword ptr [rip + {recovery_rsp}], rsp",
            $($instructions),+,
            "3:",
            "mov qword ptr [rip + {recovery_rip}], 0",
            recovery_rip = sym $crate::trap::RECOVERY_RIP,
            recovery_rsp = sym $crate::trap::RECOVERY_RSP,
            out("r11") _,
            $($operands)*
        )
    };
}
pub(crate) use guarded_asm;
