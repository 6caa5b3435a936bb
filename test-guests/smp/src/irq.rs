//! What each VP received: per VP and vector (NMI as vector 2), recorded
//! by the handler of `hw::install_idt`, which ends each maskable
//! interrupt at the APIC in the partition's current mode.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::hw::{self, MAX_VPS};

static RECEIVED: [[AtomicU32; 256]; MAX_VPS] =
    [const { [const { AtomicU32::new(0) }; 256] }; MAX_VPS];
/// Whether the VPs are in x2APIC mode (EOI through MSR 0x80B).
static X2APIC: AtomicBool = AtomicBool::new(false);

/// Called by the interrupt stubs with the vector and the stack pointer.
pub extern "C" fn record(vector: u64, rsp: u64) {
    let vector = (vector & 0xFF) as usize;
    let vp = hw::vp_of_stack(rsp);
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
