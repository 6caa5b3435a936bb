//! The multiple APIC description table (ACPI 6.5 §5.2.12): one local APIC
//! per VP, the I/O APIC, the ISA interrupt source overrides, and LINT1 as
//! the local APICs' NMI input.
//!
//! VP `i` has APIC ID `i` (what CPUID leaf 1 EBX\[31:24\] says) and ACPI
//! processor UID `i` (what the DSDT's processor device `_UID` says). An ID
//! below 255 gets a processor local APIC structure (§5.2.12.2); 255 and
//! above, which an 8-bit field cannot hold, a processor local x2APIC
//! structure (§5.2.12.12), with the NMI input to match (§5.2.12.13).

use alloc::vec::Vec;

use crate::header::{SdtHeader, seal};
use zerocopy::IntoBytes;

/// The MADT revision of ACPI 6.5 (Table 5.19). From revision 5 on, Linux
/// reads the "online capable" flag; every VP here is simply enabled.
pub const REVISION: u8 = 5;

/// Where each local APIC's registers are (the architectural default).
pub const LOCAL_APIC_ADDRESS: u32 = 0xFEE0_0000;
/// The I/O APIC's registers, ID and first GSI.
pub const IO_APIC_ADDRESS: u32 = 0xFEC0_0000;
/// The ID QEMU's PC gives its I/O APIC (a 4-bit field of the I/O APIC's ID
/// register; IDs of I/O APICs and local APICs are separate name spaces).
pub const IO_APIC_ID: u8 = 0;
pub const IO_APIC_GSI_BASE: u32 = 0;

/// ISA IRQ 0 (the PIT) arrives on GSI 2, as on every PC (§5.2.12.5).
pub const TIMER_IRQ: u8 = 0;
pub const TIMER_GSI: u32 = 2;

/// The local APICs' input that carries NMI.
pub const NMI_LINT: u8 = 1;

/// Structure types (Table 5.21).
mod kind {
    pub const LOCAL_APIC: u8 = 0;
    pub const IO_APIC: u8 = 1;
    pub const INTERRUPT_SOURCE_OVERRIDE: u8 = 2;
    pub const LOCAL_APIC_NMI: u8 = 4;
    pub const LOCAL_X2APIC: u8 = 9;
    pub const LOCAL_X2APIC_NMI: u8 = 0xA;
}

/// Local APIC flags (Table 5.23): bit 0 enabled.
const ENABLED: u32 = 1;

/// MPS INTI flags (Table 5.26): polarity bits 1:0, trigger mode bits 3:2.
pub mod inti {
    pub const CONFORMING: u16 = 0;
    pub const ACTIVE_HIGH: u16 = 0b01;
    pub const ACTIVE_LOW: u16 = 0b11;
    pub const EDGE: u16 = 0b01 << 2;
    pub const LEVEL: u16 = 0b11 << 2;
}

/// The largest APIC ID an 8-bit local APIC structure holds (255 means "all"
/// in an NMI structure).
const MAX_XAPIC_ID: u32 = 254;

/// The MADT for `vps` VPs, whose SCI is ISA IRQ `sci_irq` (level-triggered,
/// active high, as the PC's SCI is wired to the I/O APIC).
#[must_use]
pub fn build(vps: u32, sci_irq: u8) -> Vec<u8> {
    let mut table = Vec::new();
    table.extend_from_slice(SdtHeader::new(*b"APIC", REVISION).as_bytes());
    table.extend_from_slice(&LOCAL_APIC_ADDRESS.to_le_bytes());
    // Flags: no PCAT_COMPAT. A hardware-reduced platform has no 8259s for
    // the OS to mask (Linux uses none there).
    table.extend_from_slice(&0u32.to_le_bytes());

    for vp in 0..vps {
        if vp <= MAX_XAPIC_ID {
            // §5.2.12.2: type, length, ACPI processor UID, APIC ID, flags.
            table.extend_from_slice(&[kind::LOCAL_APIC, 8, vp as u8, vp as u8]);
            table.extend_from_slice(&ENABLED.to_le_bytes());
        } else {
            // §5.2.12.12: type, length, reserved, x2APIC ID, flags, UID.
            table.extend_from_slice(&[kind::LOCAL_X2APIC, 16, 0, 0]);
            table.extend_from_slice(&vp.to_le_bytes());
            table.extend_from_slice(&ENABLED.to_le_bytes());
            table.extend_from_slice(&vp.to_le_bytes());
        }
    }

    // §5.2.12.3: type, length, I/O APIC ID, reserved, address, GSI base.
    table.extend_from_slice(&[kind::IO_APIC, 12, IO_APIC_ID, 0]);
    table.extend_from_slice(&IO_APIC_ADDRESS.to_le_bytes());
    table.extend_from_slice(&IO_APIC_GSI_BASE.to_le_bytes());

    override_irq(&mut table, TIMER_IRQ, TIMER_GSI, inti::CONFORMING);
    override_irq(
        &mut table,
        sci_irq,
        u32::from(sci_irq),
        inti::LEVEL | inti::ACTIVE_HIGH,
    );

    // §5.2.12.7: type, length, UID 0xFF (all processors), flags, LINT#.
    table.extend_from_slice(&[kind::LOCAL_APIC_NMI, 6, 0xFF]);
    table.extend_from_slice(&inti::CONFORMING.to_le_bytes());
    table.push(NMI_LINT);
    if vps > MAX_XAPIC_ID + 1 {
        // §5.2.12.13: type, length, flags, UID 0xFFFFFFFF (all), LINT#,
        // reserved.
        table.extend_from_slice(&[kind::LOCAL_X2APIC_NMI, 12]);
        table.extend_from_slice(&inti::CONFORMING.to_le_bytes());
        table.extend_from_slice(&u32::MAX.to_le_bytes());
        table.extend_from_slice(&[NMI_LINT, 0, 0, 0]);
    }
    seal(&mut table);
    table
}

/// §5.2.12.5: type, length, bus 0 (ISA), source IRQ, GSI, flags.
fn override_irq(table: &mut Vec<u8>, irq: u8, gsi: u32, flags: u16) {
    table.extend_from_slice(&[kind::INTERRUPT_SOURCE_OVERRIDE, 10, 0, irq]);
    table.extend_from_slice(&gsi.to_le_bytes());
    table.extend_from_slice(&flags.to_le_bytes());
}
