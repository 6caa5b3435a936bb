//! One operation, chosen by weight, and what the guest expects of it.
mod devices;
mod hypercalls;
mod instructions;
mod msrs;

use tessera_fuzz::Draw;
use tessera_fuzz::guest::stopped;
use tessera_guest_framework::{Caught, println};

use crate::Fuzz;

/// Operations by kind, and their weights.
const KINDS: [(&str, u32); 12] = [
    ("hypercall", 30),
    ("synthetic MSR", 14),
    ("architectural MSR", 8),
    ("CPUID", 5),
    ("prefixed instruction", 10),
    ("exception", 6),
    ("port", 6),
    ("MMIO", 6),
    ("overlay page access", 5),
    ("access beyond RAM", 1),
    ("hot-plug", 1),
    ("audit", 1),
];

pub fn one(fuzz: &mut Fuzz, draw: &mut Draw) {
    let weights: [u32; KINDS.len()] = core::array::from_fn(|i| KINDS[i].1);
    let kind = draw.weighted(&weights);
    if fuzz.trace {
        println!(
            "fuzz-guest: operation {}: {}",
            fuzz.operation, KINDS[kind].0
        );
    }
    match kind {
        0 => hypercalls::one(fuzz, draw),
        1 => msrs::synthetic(fuzz, draw),
        2 => msrs::architectural(fuzz, draw),
        3 => instructions::cpuid(fuzz, draw),
        4 => instructions::prefixed(fuzz, draw),
        5 => instructions::exception(fuzz, draw),
        6 => devices::port(fuzz, draw),
        7 => devices::mmio(fuzz, draw),
        8 => devices::overlay_access(fuzz, draw),
        9 => devices::beyond_ram(fuzz),
        10 => devices::hotplug(fuzz, draw),
        _ => devices::audit(fuzz),
    }
}

/// Whether `caught` is the host resuming the guest after stopping it.
pub fn stopped_by_host(caught: &Caught) -> bool {
    matches!(
        caught.vector,
        stopped::BY_EXIT | stopped::RESET | stopped::CRASH
    )
}

/// Counts a resumed stop and reads back what a reset changed.
pub fn note_stop(fuzz: &mut Fuzz, caught: &Caught) {
    fuzz.stops += 1;
    if caught.vector == stopped::RESET {
        fuzz.check_overlays("a reset");
    }
}
