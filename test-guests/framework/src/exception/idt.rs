//! The IDT: one gate per architectural exception, each leading to a stub
//! in `stubs.s`.
#![allow(unsafe_code)]

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU64, Ordering};

use super::{CAUGHT_ERROR, CAUGHT_VECTOR, RECOVERY_RIP, RECOVERY_RSP};

global_asm!(
    include_str!("stubs.s"),
    recovery_rip = sym RECOVERY_RIP,
    recovery_rsp = sym RECOVERY_RSP,
    caught_vector = sym CAUGHT_VECTOR,
    caught_error = sym CAUGHT_ERROR,
    unexpected = sym super::unexpected::report,
    options(att_syntax)
);

/// The architecture's exceptions; interrupts stay off in the guests that
/// do not [install](crate::interrupt::install) gates for them.
const VECTORS: usize = 32;
/// Every vector.
const ALL_VECTORS: usize = 256;

/// Two words per 64-bit interrupt gate. Atomics so it can be filled
/// without `static mut`; the CPU only reads it.
#[repr(C, align(16))]
struct Idt([AtomicU64; 2 * ALL_VECTORS]);
static IDT: Idt = Idt([const { AtomicU64::new(0) }; 2 * ALL_VECTORS]);

unsafe extern "C" {
    /// The stubs' addresses, defined in `stubs.s`.
    safe static tessera_guest_exception_stubs: [u64; VECTORS];
}

/// Present, DPL 0, 64-bit interrupt gate (interrupts stay off in handlers).
const GATE_ATTRIBUTES: u64 = 0x8E;

/// Fills the IDT with the stubs and loads it. [`run`](crate::run) does this
/// first thing.
pub fn install() {
    for (vector, &handler) in tessera_guest_exception_stubs.iter().enumerate() {
        set_gate(vector, handler);
    }
    load(&raw const IDT as u64, (2 * VECTORS * 8 - 1) as u16);
}

fn set_gate(vector: usize, handler: u64) {
    let selector = u64::from(crate::cpu::code_selector());
    let low = (handler & 0xFFFF)
        | (selector << 16)
        | (GATE_ATTRIBUTES << 40)
        | (((handler >> 16) & 0xFFFF) << 48);
    IDT.0[2 * vector].store(low, Ordering::Relaxed);
    IDT.0[2 * vector + 1].store(handler >> 32, Ordering::Relaxed);
}

/// The NMI gate (vector 2) to `handler`, in place of the exception
/// catcher's.
pub(crate) fn install_nmi_gate(handler: u64) {
    set_gate(2, handler);
}

/// Gates for vectors 32-255 to the handlers `handler(vector)` gives, and
/// the IDT's limit raised to cover them.
pub(crate) fn install_interrupt_gates(handler: impl Fn(u8) -> u64) {
    for vector in VECTORS..ALL_VECTORS {
        set_gate(vector, handler(vector as u8));
    }
    load(&raw const IDT as u64, (2 * ALL_VECTORS * 8 - 1) as u16);
}

/// Loads an IDT with limit 0: the next exception cannot be delivered, nor
/// can the #GP and #DF that follow, so the CPU shuts down (a triple fault).
pub fn make_every_exception_fatal() {
    load(0, 0);
}

fn load(base: u64, limit: u16) {
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let pointer = Pointer { limit, base };
    // The table is either the static IDT, whose gates point at the stubs,
    // or empty (the caller wants exceptions to be fatal); neither lets an
    // exception run arbitrary code.
    // SAFETY: `lidt` only reads the 10-byte pointer, and the table is sound.
    unsafe {
        asm!("lidt [{}]", in(reg) &raw const pointer, options(readonly, nostack, preserves_flags));
    }
}
