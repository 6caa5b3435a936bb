//! What each VP received: per VP and vector (NMI as vector 2), recorded
//! by the handler of `hw::install_idt`, which ends each maskable
//! interrupt at the APIC in the partition's current mode.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::hw::{self, MAX_VPS};

static RECEIVED: [[AtomicU32; 256]; MAX_VPS] =
    [const { [const { AtomicU32::new(0) }; 256] }; MAX_VPS];
/// Whether the VPs are in x2APIC mode (EOI through MSR 0x80B).
static X2APIC: AtomicBool = AtomicBool::new(false);

/// Per VP: the TSC when its handler last ran (read 13 instructions after
/// the gate's first: the stub's pushes and the call), for the bench.
static HANDLER_TSC: [AtomicU64; MAX_VPS] = [const { AtomicU64::new(0) }; MAX_VPS];

/// Called by the interrupt stubs with the vector and the stack pointer.
pub extern "C" fn record(vector: u64, rsp: u64) {
    let now = tessera_guest_framework::cpu::rdtsc();
    let vector = (vector & 0xFF) as usize;
    let vp = hw::vp_of_stack(rsp);
    HANDLER_TSC[vp].store(now, Ordering::SeqCst);
    RECEIVED[vp][vector].fetch_add(1, Ordering::SeqCst);
    if vector == 2 || vector == 0xFF {
        return;
    }
    if X2APIC.load(Ordering::SeqCst) {
        hw::wrmsr(0x80B, 0);
    } else {
        hw::apic_write(0xB0, 0);
    }
}

/// How the handler ends interrupts from now on.
pub fn set_x2apic(on: bool) {
    X2APIC.store(on, Ordering::SeqCst);
}

/// Whether the VPs are in x2APIC mode.
pub fn x2apic() -> bool {
    X2APIC.load(Ordering::SeqCst)
}

/// How often VP `vp` took `vector`.
pub fn received(vp: usize, vector: u8) -> u32 {
    RECEIVED[vp][usize::from(vector)].load(Ordering::SeqCst)
}

/// [`received`] for every VP.
pub fn snapshot(vector: u8) -> [u32; MAX_VPS] {
    core::array::from_fn(|vp| received(vp, vector))
}

/// The TSC when VP `vp`'s handler last ran.
pub fn handler_tsc(vp: usize) -> u64 {
    HANDLER_TSC[vp].load(Ordering::SeqCst)
}
