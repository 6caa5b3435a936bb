//! Interrupts for the guests that test an interrupt controller: gates for
//! vectors 32-255 whose handler records what came (per-vector counts, the
//! order, the interrupted RIP, the TSC when the handler ran) and, if asked,
//! ends the interrupt at the local APIC (EOI) before returning. Exceptions
//! keep the catcher of [`crate::exception`].
//!
//! A guest calls [`install`] once, then enables interrupts with [`sti`]
//! when it wants them. Handlers run with interrupts off (interrupt gates)
//! and never nest. [`install_nmi`] records NMIs the same way (vector 2,
//! never ended at the APIC); [`resend_nmi_from_handler`] makes the next
//! NMI's handler ask for another one, through the x2APIC ICR, and note how
//! many NMIs had come by the time that write returned.
#![allow(unsafe_code)]

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

global_asm!(
    include_str!("stubs.s"),
    handler_tsc = sym HANDLER_TSC,
    record = sym record,
    options(att_syntax)
);

unsafe extern "C" {
    /// The first stub (vector 32); each is 16 bytes.
    safe static tessera_guest_interrupt_stubs: [u8; 16 * 224];
    /// The NMI stub.
    safe static tessera_guest_nmi_stub: [u8; 16];
}

/// The NMI vector.
pub const NMI_VECTOR: u8 = 2;
/// x2APIC ICR: delivery mode NMI (100b in bits 10:8), shorthand self.
const ICR_SELF_NMI: u64 = 0b100 << 8 | 1 << 18;
/// The next NMI's handler sends another NMI (see the module docs).
static NMI_RESEND: AtomicU8 = AtomicU8::new(0);
/// NMIs counted when that handler's ICR write returned (`u32::MAX`: none).
static NMIS_AT_RESEND: AtomicU32 = AtomicU32::new(u32::MAX);

/// The first vector with a gate here.
pub const FIRST_VECTOR: u8 = 32;

/// How the handler ends each interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eoi {
    /// It does not: the guest writes EOI itself (the vector stays in
    /// service, for nesting tests).
    Manual,
    /// WRMSR of the x2APIC EOI register (MSR `0x80B`) with 0.
    X2apicMsr,
    /// A 32-bit write of 0 at this virtual address (the xAPIC page's EOI
    /// register, `APIC_BASE + 0xB0`, mapped by the guest).
    XapicMmio(u64),
}

static COUNTS: [AtomicU32; 256] = [const { AtomicU32::new(0) }; 256];
/// The vectors in the order they came (the first `ORDER_SLOTS`).
const ORDER_SLOTS: usize = 32;
static ORDER: [AtomicU8; ORDER_SLOTS] = [const { AtomicU8::new(0) }; ORDER_SLOTS];
static TAKEN: AtomicU32 = AtomicU32::new(0);
static LAST_RIP: AtomicU64 = AtomicU64::new(0);
static LAST_TSC: AtomicU64 = AtomicU64::new(0);
/// Written by the stub's first instructions.
static HANDLER_TSC: AtomicU64 = AtomicU64::new(0);
/// 0 manual, 1 x2APIC MSR, 2 xAPIC page at `EOI_ADDRESS`.
static EOI_MODE: AtomicU8 = AtomicU8::new(0);
static EOI_ADDRESS: AtomicU64 = AtomicU64::new(0);

extern "C" fn record(vector: u64, rip: u64) {
    let vector = vector as u8;
    COUNTS[usize::from(vector)].fetch_add(1, Ordering::Relaxed);
    let taken = TAKEN.fetch_add(1, Ordering::Relaxed) as usize;
    if let Some(slot) = ORDER.get(taken) {
        slot.store(vector, Ordering::Relaxed);
    }
    LAST_RIP.store(rip, Ordering::Relaxed);
    LAST_TSC.store(HANDLER_TSC.load(Ordering::Relaxed), Ordering::Relaxed);
    if vector == NMI_VECTOR {
        if NMI_RESEND.swap(0, Ordering::Relaxed) != 0 {
            wrmsr_unguarded(0x830, ICR_SELF_NMI);
            let seen = COUNTS[usize::from(NMI_VECTOR)].load(Ordering::Relaxed);
            NMIS_AT_RESEND.store(seen, Ordering::Relaxed);
        }
        return;
    }
    match EOI_MODE.load(Ordering::Relaxed) {
        1 => wrmsr_unguarded(0x80B, 0),
        2 => {
            let address = EOI_ADDRESS.load(Ordering::Relaxed) as *mut u32;
            // The guest mapped the xAPIC page there (`set_eoi`).
            // SAFETY: a 32-bit store to the mapped EOI register.
            unsafe { address.write_volatile(0) };
        }
        _ => {}
    }
}

/// WRMSR without the exception catcher: a handler may run inside a guarded
/// instruction's window, whose recovery point it must not replace.
fn wrmsr_unguarded(msr: u32, value: u64) {
    // SAFETY: the guest's own APIC register; an interrupt handler's EOI.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32,
             options(nostack, preserves_flags));
    }
}

/// Gates for vectors 32-255 in the guest's IDT (the exception gates stay).
pub fn install() {
    let base = (&raw const tessera_guest_interrupt_stubs) as u64;
    crate::exception::install_interrupt_gates(|vector| {
        base + u64::from(vector - FIRST_VECTOR) * 16
    });
}

/// The NMI gate (vector 2) to the recording handler (after [`install`]).
pub fn install_nmi() {
    crate::exception::install_nmi_gate((&raw const tessera_guest_nmi_stub) as u64);
}

/// The next NMI's handler sends this CPU another NMI through the x2APIC
/// ICR (so the guest must be in x2APIC mode) and notes [`nmis_at_resend`].
pub fn resend_nmi_from_handler() {
    NMIS_AT_RESEND.store(u32::MAX, Ordering::Relaxed);
    NMI_RESEND.store(1, Ordering::Relaxed);
}

/// NMIs counted when the handler's own NMI request returned (`None` if no
/// handler sent one since [`resend_nmi_from_handler`]).
pub fn nmis_at_resend() -> Option<u32> {
    let seen = NMIS_AT_RESEND.load(Ordering::Relaxed);
    (seen != u32::MAX).then_some(seen)
}

/// How the handler ends interrupts from now on.
pub fn set_eoi(eoi: Eoi) {
    let (mode, address) = match eoi {
        Eoi::Manual => (0, 0),
        Eoi::X2apicMsr => (1, 0),
        Eoi::XapicMmio(address) => (2, address),
    };
    EOI_ADDRESS.store(address, Ordering::Relaxed);
    EOI_MODE.store(mode, Ordering::Relaxed);
}

// `sti`, `cli` and `sti; hlt` are compiler barriers (no `nomem`): the
// handlers write the records while interrupts are on, so no load of them
// may move across these.

/// Interrupts on (`sti`).
pub fn sti() {
    // SAFETY: the gates are installed (`install`); handlers return.
    unsafe { asm!("sti", options(nostack)) };
}

/// Interrupts off (`cli`).
pub fn cli() {
    // SAFETY: masks interrupts.
    unsafe { asm!("cli", options(nostack)) };
}

/// `sti; nop; cli`: interrupts on for the one instruction after STI, so
/// a pending interrupt is taken exactly there. (A `pause` in STI's shadow
/// would not do under QEMU 7.2's TCG: its PAUSE helper leaves the shadow
/// set, and the interrupt then waits behind the CLI.)
pub fn window() {
    // SAFETY: as for `sti`.
    unsafe { asm!("sti", "nop", "cli", options(nostack)) };
}

/// `sti; hlt`: waits for an interrupt with no window between enabling
/// interrupts and halting (the STI shadow covers the HLT).
pub fn sti_hlt() {
    // SAFETY: as for `sti`; HLT returns after the interrupt's handler.
    unsafe { asm!("sti", "hlt", options(nostack)) };
}

/// How many times `vector` came.
#[must_use]
pub fn count(vector: u8) -> u32 {
    COUNTS[usize::from(vector)].load(Ordering::Relaxed)
}

/// How many interrupts came, of any vector.
#[must_use]
pub fn total() -> u32 {
    TAKEN.load(Ordering::Relaxed)
}

/// The vector of the `index`th interrupt (from 0), among the first 32.
#[must_use]
pub fn nth(index: usize) -> Option<u8> {
    let taken = TAKEN.load(Ordering::Relaxed) as usize;
    (index < taken.min(ORDER_SLOTS)).then(|| ORDER[index].load(Ordering::Relaxed))
}

/// The RIP the last interrupt interrupted.
#[must_use]
pub fn last_rip() -> u64 {
    LAST_RIP.load(Ordering::Relaxed)
}

/// The TSC when the last interrupt's handler started.
#[must_use]
pub fn last_tsc() -> u64 {
    LAST_TSC.load(Ordering::Relaxed)
}

/// Forgets everything recorded (counts, order, RIP, TSC); call it with
/// interrupts off.
pub fn reset() {
    for counter in &COUNTS {
        counter.store(0, Ordering::Relaxed);
    }
    TAKEN.store(0, Ordering::Relaxed);
    LAST_RIP.store(0, Ordering::Relaxed);
    LAST_TSC.store(0, Ordering::Relaxed);
}

/// WRMSR of `value` to `msr`, returning the address of the instruction
/// after it: an interrupt the write raises for this CPU and that is
/// delivered before that instruction interrupts exactly there
/// ([`last_rip`]). The caller knows the write cannot fault.
pub fn wrmsr_marking_next(msr: u32, value: u64) -> u64 {
    let next: u64;
    // An APIC register write the caller chose; the `nop` after it
    // is the instruction whose address is returned.
    // SAFETY: by the argument just above.
    unsafe {
        asm!(
            "lea {next}, [rip + 2f]",
            "wrmsr",
            "2:",
            "nop",
            next = out(reg) next,
            in("ecx") msr,
            in("eax") value as u32,
            in("edx") (value >> 32) as u32,
            options(nostack),
        );
    }
    next
}

/// A 32-bit store of `value` at `address` (an xAPIC register the guest
/// mapped), returning the address of the instruction after the store, as
/// [`wrmsr_marking_next`] does.
pub fn write32_marking_next(address: u64, value: u32) -> u64 {
    let next: u64;
    // SAFETY: a store to the mapped APIC page the caller names.
    unsafe {
        asm!(
            "lea {next}, [rip + 2f]",
            "mov dword ptr [{address}], {value:e}",
            "2:",
            "nop",
            next = out(reg) next,
            address = in(reg) address,
            value = in(reg) value,
            options(nostack),
        );
    }
    next
}

/// WRMSR of `value` to `msr`, returning the TSC read right before it (for
/// [`last_tsc`] differences: the instructions from the write to the
/// handler under `-icount`). Never inlined: every call's WRMSR is then the
/// same instruction, as a guest's IPI routine is — inlined into an
/// unrolled measurement loop, each measurement was the first exit at its
/// RIP and so always measured the kernel's cold instruction fetch.
#[inline(never)]
pub fn wrmsr_after_rdtsc(msr: u32, value: u64) -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: as for `wrmsr_marking_next`; RDTSC changes no memory.
    unsafe {
        asm!(
            "rdtsc",
            "mov {low:e}, eax",
            "mov {high:e}, edx",
            "mov eax, {value_low:e}",
            "mov edx, {value_high:e}",
            "wrmsr",
            low = out(reg) low,
            high = out(reg) high,
            value_low = in(reg) value as u32,
            value_high = in(reg) (value >> 32) as u32,
            in("ecx") msr,
            out("eax") _,
            out("edx") _,
            options(nostack),
        );
    }
    u64::from(high) << 32 | u64::from(low)
}

/// `MOV CR8, value`: the task priority class (TPR bits 7:4).
pub fn set_cr8(value: u64) {
    // SAFETY: CR8 masks interrupts by priority; no memory access.
    unsafe { asm!("mov cr8, {}", in(reg) value, options(nomem, nostack, preserves_flags)) };
}

/// `MOV value, CR8`.
#[must_use]
pub fn cr8() -> u64 {
    let value: u64;
    // SAFETY: reads CR8.
    unsafe { asm!("mov {}, cr8", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// Turns the bootstrap VP's local APIC on in x2APIC mode, software enabled
/// with spurious vector 0xFF (IA32_APIC_BASE: global enable, x2APIC mode,
/// BSP; SVR bit 8), for the guests whose interrupts come through it.
pub fn x2apic_on() -> Result<(), crate::Caught> {
    const IA32_APIC_BASE: u32 = 0x1B;
    const APIC_PAGE: u64 = 0xFEE0_0000;
    const BASE_EN_EXTD_BSP: u64 = 1 << 11 | 1 << 10 | 1 << 8;
    const X2APIC_SVR: u32 = 0x80F;
    crate::cpu::wrmsr(IA32_APIC_BASE, APIC_PAGE | BASE_EN_EXTD_BSP)?;
    crate::cpu::wrmsr(X2APIC_SVR, 0x1FF)
}
