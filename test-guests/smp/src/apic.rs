//! The APIC registers the smp guest uses, through the page (xAPIC mode)
//! or the MSRs (x2APIC mode).

use crate::hw;

pub const TPR: u64 = 0x80;
pub const LDR: u64 = 0xD0;
pub const DFR: u64 = 0xE0;
pub const SVR: u64 = 0xF0;
const ICR_LOW: u64 = 0x300;
const ICR_HIGH: u64 = 0x310;

/// ICR delivery modes (bits 10:8) and fields.
pub const FIXED: u32 = 0;
pub const LOWEST: u32 = 1 << 8;
pub const NMI: u32 = 4 << 8;
pub const INIT: u32 = 5 << 8;
pub const STARTUP: u32 = 6 << 8;
pub const LOGICAL: u32 = 1 << 11;
pub const ASSERT: u32 = 1 << 14;
pub const SELF: u32 = 1 << 18;
pub const ALL_INCLUDING_SELF: u32 = 2 << 18;
pub const ALL_EXCLUDING_SELF: u32 = 3 << 18;

/// Register `offset` (xAPIC page offset; MSR `0x800 + offset / 16`).
pub fn read(offset: u64, x2apic: bool) -> u32 {
    if x2apic {
        hw::rdmsr(0x800 + (offset / 16) as u32) as u32
    } else {
        hw::apic_read(offset)
    }
}

/// Writes register `offset`.
pub fn write(offset: u64, value: u32, x2apic: bool) {
    if x2apic {
        hw::wrmsr(0x800 + (offset / 16) as u32, u64::from(value));
    } else {
        hw::apic_write(offset, value);
    }
}

/// Sends the IPI `low` (vector, mode, shorthand) to `destination` (an
/// 8-bit xAPIC or 32-bit x2APIC destination).
pub fn send(low: u32, destination: u32, x2apic: bool) {
    if x2apic {
        hw::wrmsr(0x830, u64::from(destination) << 32 | u64::from(low));
    } else {
        hw::apic_write(ICR_HIGH, destination << 24);
        hw::apic_write(ICR_LOW, low);
    }
}
