//! The ACPI device a guest finds VMBus by.
//!
//! Linux's `hv_vmbus` is an ACPI driver for `_HID` `"VMBUS"` (or `"VMBus"`,
//! `vmbus_acpi_device_ids`). Its probe (`vmbus_acpi_add`) walks the
//! device's `_CRS` and fails if there is none, so the device needs one,
//! even though x86 Linux uses nothing in it: MMIO windows come from an
//! ancestor's `_CRS` (none is needed for the ICs, which have no MMIO), and
//! "The IRQ information is needed only on ARM64 … IRQ information is
//! present on x86/x64 in the non-extended format but it is not used by
//! Linux" — the VMBus interrupt is the SINT's vector, from the SynIC.
//!
//! The device goes into the DSDT only for a partition whose manifest
//! enables VMBus: the "Requirements for Implementing the Microsoft
//! Hypervisor Interface" keep Windows guests from being offered Tessera's
//! VMBus by default. The tables are built by `tessera-acpi-tables`
//! (branch `linux-boot`: `dsdt::build(vps, vmbus_irq)` writes
//! `Device (\_SB.VMBS) { _HID "VMBUS", _UID 0, _CRS { IRQNoFlags {irq} } }`);
//! this module only says what to put there.

/// What the DSDT's VMBus device holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcpiDevice {
    /// `_HID`.
    pub hid: &'static str,
    /// `_UID`.
    pub uid: u32,
    /// The ISA IRQ in `_CRS` (an `IRQNoFlags` descriptor).
    pub isa_irq: u8,
}

/// The VMBus device.
///
/// **Choice:** IRQ 5, which no other device of a Tessera partition uses
/// (COM1 is 4, the SCI 9, the PIT 0), so the descriptor Linux ignores
/// claims nothing that matters.
pub const VMBUS_DEVICE: AcpiDevice = AcpiDevice {
    hid: "VMBUS",
    uid: 0,
    isa_irq: 5,
};

/// The device for a partition's DSDT: `Some` only when its manifest
/// enables VMBus.
#[must_use]
pub const fn acpi_device(vmbus_enabled: bool) -> Option<AcpiDevice> {
    if vmbus_enabled { Some(VMBUS_DEVICE) } else { None }
}
