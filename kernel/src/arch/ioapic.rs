//! The I/O APIC, for the one device interrupt the kernel takes itself: the
//! serial port's receive interrupt (`console_input.rs`). Reached through
//! the physical map, like the local APIC (Intel 82093AA datasheet: the
//! register select at offset 0x00, the window at 0x10, redirection entry
//! `n` in registers `0x10 + 2n` and `0x11 + 2n`).
use crate::memory;

const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const REDIRECTION_BASE: u32 = 0x10;

/// Redirection entry bits (low dword).
const ACTIVE_LOW: u32 = 1 << 13;
const LEVEL_TRIGGERED: u32 = 1 << 15;

/// Where an ISA interrupt arrives, from the ACPI MADT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsaRoute {
    /// The physical address of the I/O APIC that takes it.
    pub ioapic: u64,
    /// Its input pin on that I/O APIC.
    pub pin: u32,
    pub active_low: bool,
    pub level: bool,
}

/// Sends the interrupt `route` describes to the local APIC `apic_id` as
/// `vector` (fixed delivery, physical destination), unmasked.
pub fn route(route: IsaRoute, vector: u8, apic_id: u32) {
    let mut low = u32::from(vector);
    if route.active_low {
        low |= ACTIVE_LOW;
    }
    if route.level {
        low |= LEVEL_TRIGGERED;
    }
    let entry = REDIRECTION_BASE + 2 * route.pin;
    // The destination first, so the entry is never live with a stale one.
    write(route.ioapic, entry + 1, apic_id << 24);
    write(route.ioapic, entry, low);
}

fn write(ioapic: u64, register: u32, value: u32) {
    let select = memory::physical_to_virtual(ioapic + IOREGSEL).as_mut_ptr::<u32>();
    let window = memory::physical_to_virtual(ioapic + IOWIN).as_mut_ptr::<u32>();
    // The first 4 GiB, the I/O APIC's page among them, are always in the
    // physical map, and only the boot CPU programs the I/O APIC, once.
    // SAFETY: two aligned 32-bit MMIO registers, mapped, used by one CPU.
    unsafe {
        select.write_volatile(register);
        window.write_volatile(value);
    }
}
