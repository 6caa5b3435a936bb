//! The differentiated system description table (ACPI 6.5 §5.2.11.1): the
//! partition's devices in AML.
//!
//! ```text
//! Scope (\_SB) {
//!     Device (COM1) {                       // the 16550 `devices` serves
//!         Name (_HID, EisaId ("PNP0501"))
//!         Name (_UID, 1)
//!         Name (_CRS, ResourceTemplate () {
//!             IO (Decode16, 0x3F8, 0x3F8, 0x00, 0x08)
//!             IRQNoFlags () {4}
//!         })
//!     }
//!     Device (RTC_) {                       // only with `rtc`: platform's CMOS clock
//!         Name (_HID, EisaId ("PNP0B00"))
//!         Name (_CRS, ResourceTemplate () { IO (Decode16, 0x70, 0x70, 0x00, 0x02) })
//!     }
//!     Device (C000) {                       // one per VP (§8.4)
//!         Name (_HID, "ACPI0007")
//!         Name (_UID, 0)                    // = the MADT's processor UID
//!     }
//!     ...
//!     Device (VMBS) {                       // only with `vmbus`
//!         Name (_HID, "VMBUS")
//!         Name (_UID, 0)
//!         Name (_CRS, ResourceTemplate () { IRQNoFlags () {IRQ} })
//!     }
//! }
//! Name (\_S5, Package () { 5, 5 })          // soft off: SLP_TYPa, SLP_TYPb
//! ```

use alloc::vec::Vec;

use zerocopy::IntoBytes;

use crate::aml::{AmlError, Data, NameSeg, Terms, eisa_id};
use crate::header::{SdtHeader, seal};
use crate::power::S5_SLEEP_TYPE;
use crate::resources;

/// Revision 2: integers are 64 bits wide (§5.2.11.1).
pub const REVISION: u8 = 2;

/// COM1: ports and ISA IRQ.
pub const COM1_PORT: u16 = 0x3F8;
pub const COM1_PORTS: u8 = 8;
pub const COM1_IRQ: u8 = 4;
/// The 16550's PNP ID.
pub const COM1_HID: u32 = match eisa_id("PNP0501") {
    Some(id) => id,
    None => panic!("PNP0501 is an EISA ID"),
};

/// The CMOS real-time clock: its ports and PNP ID (the AT clock). No
/// IRQ: the `platform` component's clock raises none.
pub const RTC_PORT: u16 = 0x70;
pub const RTC_PORTS: u8 = 2;
pub const RTC_HID: u32 = match eisa_id("PNP0B00") {
    Some(id) => id,
    None => panic!("PNP0B00 is an EISA ID"),
};

/// The processor device `_HID` (§8.4, "Declaring Processors").
pub const PROCESSOR_HID: &str = "ACPI0007";
/// The VMBus device's `_HID`, the one Linux's `hv_vmbus` matches.
pub const VMBUS_HID: &str = "VMBUS";

const SB: NameSeg = NameSeg::new("_SB");
const HID: NameSeg = NameSeg::new("_HID");
const UID: NameSeg = NameSeg::new("_UID");
const CRS: NameSeg = NameSeg::new("_CRS");
const S5: NameSeg = NameSeg::new("_S5");
const COM1: NameSeg = NameSeg::new("COM1");
const VMBS: NameSeg = NameSeg::new("VMBS");
const RTC: NameSeg = NameSeg::new("RTC_");

/// The DSDT of a partition with `vps` VPs (at most 4096: the processor
/// devices are named `C000` to `CFFF`), the VMBus device when
/// `vmbus_irq` is given, and the CMOS clock when `rtc` holds.
pub fn build(vps: u32, vmbus_irq: Option<u8>, rtc: bool) -> Result<Vec<u8>, AmlError> {
    let mut system_bus = Terms::new();

    let mut com1 = Terms::new();
    com1.name(HID, &Data::Integer(u64::from(COM1_HID)))?
        .name(UID, &Data::Integer(1))?
        .name(
            CRS,
            &Data::Buffer(resources::template(&[
                &resources::io_port(COM1_PORT, 0, COM1_PORTS),
                &resources::irq(COM1_IRQ, None),
            ])),
        )?;
    system_bus.device(COM1, &com1)?;

    if rtc {
        let mut clock = Terms::new();
        clock.name(HID, &Data::Integer(u64::from(RTC_HID)))?.name(
            CRS,
            &Data::Buffer(resources::template(&[&resources::io_port(
                RTC_PORT, 0, RTC_PORTS,
            )])),
        )?;
        system_bus.device(RTC, &clock)?;
    }

    for vp in 0..vps.min(0x1000) {
        let mut processor = Terms::new();
        processor
            .name(HID, &Data::String(PROCESSOR_HID))?
            .name(UID, &Data::Integer(u64::from(vp)))?;
        system_bus.device(processor_name(vp), &processor)?;
    }

    if let Some(irq) = vmbus_irq {
        let mut vmbus = Terms::new();
        vmbus
            .name(HID, &Data::String(VMBUS_HID))?
            .name(UID, &Data::Integer(0))?
            .name(
                CRS,
                &Data::Buffer(resources::template(&[&resources::irq(irq, None)])),
            )?;
        system_bus.device(VMBS, &vmbus)?;
    }

    let mut root = Terms::new();
    root.scope(true, &[SB], &system_bus)?;
    let sleep_type = u64::from(S5_SLEEP_TYPE);
    root.name(
        S5,
        &Data::Package(alloc::vec![
            Data::Integer(sleep_type),
            Data::Integer(sleep_type)
        ]),
    )?;

    let mut table = SdtHeader::new(*b"DSDT", REVISION).as_bytes().to_vec();
    table.extend_from_slice(root.bytes());
    seal(&mut table);
    Ok(table)
}

/// `Cxxx`: VP `vp` (below 0x1000) in three upper-case hex digits.
#[must_use]
pub fn processor_name(vp: u32) -> NameSeg {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let digit = |shift: u32| HEX[((vp >> shift) & 0xF) as usize];
    NameSeg::from_bytes(&[b'C', digit(8), digit(4), digit(0)]).unwrap_or(NameSeg::new("C___"))
}
