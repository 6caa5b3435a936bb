//! Resource descriptors for `_CRS` buffers (ACPI 6.5 §6.4, "Resource Data
//! Types for ACPI"): the small I/O port and IRQ descriptors and the end
//! tag, which is all a legacy serial port needs.

use alloc::vec::Vec;

/// Small resource item tags: byte 0 is `type << 3 | length` (§6.4.2).
const IO_PORT_TAG: u8 = 0x08 << 3 | 7;
const IRQ_TAG: u8 = 0x04 << 3 | 2;
const IRQ_WITH_FLAGS_TAG: u8 = 0x04 << 3 | 3;
const END_TAG: u8 = 0x0F << 3 | 1;

/// An I/O port descriptor (§6.4.2.5): `length` ports from `base`, decoded
/// on all 16 address lines, at a fixed base (minimum = maximum).
#[must_use]
pub fn io_port(base: u16, alignment: u8, length: u8) -> [u8; 8] {
    let [lo, hi] = base.to_le_bytes();
    // Information byte bit 0: the device decodes 16 address bits.
    [IO_PORT_TAG, 1, lo, hi, lo, hi, alignment, length]
}

/// How an IRQ is signalled (§6.4.2.1, IRQ information byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqFlags {
    /// Edge-triggered (else level).
    pub edge: bool,
    /// Active low (else high).
    pub active_low: bool,
    /// Shared with other devices.
    pub shared: bool,
}

impl IrqFlags {
    /// The information byte: bit 0 edge, bit 3 active low, bit 4 shared.
    #[must_use]
    pub const fn byte(self) -> u8 {
        (self.edge as u8) | (self.active_low as u8) << 3 | (self.shared as u8) << 4
    }
}

/// An IRQ descriptor (§6.4.2.1) for ISA IRQ `irq` (0-15; other values
/// give an empty mask). Without `flags` it is the two-byte form, which
/// means edge-triggered, active high, exclusive (ASL `IRQNoFlags`).
#[must_use]
pub fn irq(irq: u8, flags: Option<IrqFlags>) -> Vec<u8> {
    let mask = 1u16.checked_shl(u32::from(irq)).unwrap_or(0);
    let [lo, hi] = mask.to_le_bytes();
    match flags {
        None => alloc::vec![IRQ_TAG, lo, hi],
        Some(flags) => alloc::vec![IRQ_WITH_FLAGS_TAG, lo, hi, flags.byte()],
    }
}

/// A resource template: the descriptors, then the end tag (§6.4.2.9),
/// whose checksum byte 0 means "treat the template as checksummed".
#[must_use]
pub fn template(descriptors: &[&[u8]]) -> Vec<u8> {
    let mut out: Vec<u8> = descriptors.concat();
    out.extend_from_slice(&[END_TAG, 0]);
    out
}
