//! The ACPI tables of a partition, built from its configuration: what a
//! guest such as Linux reads to find its processors, interrupt
//! controllers, serial port, and how to power off.
//!
//! The platform is hardware-reduced ACPI (ACPI 6.5 §4.1): no fixed
//! hardware beyond what the FADT's sleep and reset registers name. The
//! tables, in one blob built for a guest-physical base address
//! ([`build`]):
//!
//! | table | what | where |
//! | --- | --- | --- |
//! | RSDP (§5.2.5.3) | revision 2, both checksums, the XSDT's address | the base (16-byte aligned, so a guest that scans `0xE0000`-`0xFFFFF` finds it when the base lies there) |
//! | XSDT (§5.2.8) | the FADT and the MADT | next, each table 16-byte aligned |
//! | FADT (§5.2.9) | hardware-reduced; `X_DSDT`; sleep control/status and reset registers ([`fadt`]) | |
//! | MADT (§5.2.12) | a local APIC (or x2APIC) per VP, the I/O APIC at `0xFEC00000` (GSI base 0), overrides for ISA IRQ 0 → GSI 2 and the SCI, LINT1 as NMI ([`madt`]) | |
//! | DSDT (§5.2.11.1) | COM1 (`PNP0501`, ports `0x3F8`-`0x3FF`, IRQ 4), the CMOS clock if asked for (`PNP0B00`, ports `0x70`-`0x71`), a processor device per VP, `\_S5`, and the VMBus device if asked for ([`dsdt`]) | |
//!
//! Every table's checksum makes it sum to zero; the tests check each
//! layout field by field and decode the DSDT's AML.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod aml;
pub mod dsdt;
pub mod fadt;
pub mod header;
pub mod madt;
pub mod power;
pub mod resources;

use alloc::vec::Vec;
use core::fmt;

use zerocopy::IntoBytes;

use crate::header::{Rsdp, SdtHeader, seal};

/// The most VPs the tables describe (the processor devices' names hold
/// three hex digits).
pub const MAX_VPS: u32 = 0x1000;
/// Each table starts on this alignment within the blob.
pub const TABLE_ALIGN: usize = 16;

/// What the tables describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The partition's VPs: VP `i` has APIC ID and processor UID `i`.
    pub vps: u32,
    /// The VMBus device (`_HID "VMBUS"`) with this ISA IRQ in its `_CRS`,
    /// for a partition whose manifest enables VMBus; `None` (the default)
    /// leaves it out, so no guest is offered a VMBus it does not have.
    pub vmbus_irq: Option<u8>,
    /// The CMOS real-time clock on ports `0x70`-`0x71` (the `platform`
    /// component's, for a partition that routes those ports to it): the
    /// DSDT declares it (`PNP0B00`) and the FADT names its century
    /// register; without it the FADT says there is none.
    pub rtc: bool,
}

/// Why the tables cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// No VPs, or more than [`MAX_VPS`].
    VpCount { vps: u32 },
    /// The base is not 16-byte aligned (the RSDP must be, §5.2.5.1), or
    /// the tables would wrap around the address space.
    BadBase { base: u64 },
    /// The DSDT could not be encoded.
    Aml(aml::AmlError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VpCount { vps } => {
                write!(f, "the ACPI tables describe 1 to {MAX_VPS} VPs, not {vps}")
            }
            Self::BadBase { base } => write!(
                f,
                "the ACPI tables cannot start at {base:#x}: the RSDP needs a 16-byte aligned address"
            ),
            Self::Aml(e) => write!(f, "the DSDT: {e}"),
        }
    }
}

impl core::error::Error for Error {}

impl From<aml::AmlError> for Error {
    fn from(e: aml::AmlError) -> Self {
        Self::Aml(e)
    }
}

/// The tables, laid out for guest-physical address `base`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables {
    /// Where the blob goes; the RSDP is its first byte.
    pub base: u64,
    /// The RSDP, then the XSDT, FADT, MADT and DSDT.
    pub bytes: Vec<u8>,
}

impl Tables {
    /// The RSDP's guest-physical address (`acpi_rsdp_addr` for Linux).
    #[must_use]
    pub const fn rsdp(&self) -> u64 {
        self.base
    }
}

/// Builds the tables of `config` for guest-physical address `base`.
///
/// # Errors
///
/// [`Error::VpCount`], [`Error::BadBase`], or [`Error::Aml`] (not for any
/// configuration within the limits).
pub fn build(config: &Config, base: u64) -> Result<Tables, Error> {
    if config.vps == 0 || config.vps > MAX_VPS {
        return Err(Error::VpCount { vps: config.vps });
    }
    if !base.is_multiple_of(TABLE_ALIGN as u64) {
        return Err(Error::BadBase { base });
    }
    let dsdt = dsdt::build(config.vps, config.vmbus_irq, config.rtc)?;
    let madt = madt::build(config.vps, fadt::SCI_IRQ);

    // Offsets: RSDP, XSDT (two entries), FADT, MADT, DSDT.
    let xsdt_len = size_of::<SdtHeader>() + 2 * 8;
    let xsdt_at = align(size_of::<Rsdp>());
    let fadt_at = align(xsdt_at + xsdt_len);
    let madt_at = align(fadt_at + size_of::<fadt::Fadt>());
    let dsdt_at = align(madt_at + madt.len());
    let end = dsdt_at + dsdt.len();
    let address = |offset: usize| {
        base.checked_add(offset as u64)
            .ok_or(Error::BadBase { base })
    };
    address(end)?;

    let mut fadt = fadt::Fadt::new(address(dsdt_at)?, config.rtc)
        .as_bytes()
        .to_vec();
    seal(&mut fadt);
    let mut xsdt = SdtHeader::new(*b"XSDT", 1).as_bytes().to_vec();
    xsdt.extend_from_slice(&address(fadt_at)?.to_le_bytes());
    xsdt.extend_from_slice(&address(madt_at)?.to_le_bytes());
    seal(&mut xsdt);

    let mut bytes = alloc::vec![0u8; end];
    let rsdp = Rsdp::new(address(xsdt_at)?);
    for (at, table) in [
        (0, rsdp.as_bytes()),
        (xsdt_at, &xsdt[..]),
        (fadt_at, &fadt[..]),
        (madt_at, &madt[..]),
        (dsdt_at, &dsdt[..]),
    ] {
        bytes[at..at + table.len()].copy_from_slice(table);
    }
    Ok(Tables { base, bytes })
}

const fn align(offset: usize) -> usize {
    offset.next_multiple_of(TABLE_ALIGN)
}
