//! `pc-platform`: the system test of the `platform` component (issue 13
//! items 3 and 5) from inside a partition whose manifest routes the I/O
//! APIC page, the 8259 and ELCR ports and `fw_cfg` to it, and gives
//! `devices` the line of pin 4 (`boot/deployments/vm-platform.toml`):
//!
//! - `fw_cfg`: the signature `QEMU`, the CPU count and the RAM size the
//!   manifest gives the partition;
//! - the 8259 pair initialised (ICW1-4) and masked (OCW1) as Linux does,
//!   and the ELCR's writable bits;
//! - the I/O APIC's version, and COM1 through pin 4: transmit-empty
//!   interrupts driving output byte by byte, received data (in loopback),
//!   nothing from a masked pin, and a level-triggered pin whose remote IRR
//!   stays set until the EOI (and delivers again when the line is still
//!   asserted at the EOI).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

mod com1;
mod legacy;
mod virtual_wire;

use tessera_guest_framework::paging::DeviceWindow;
use tessera_guest_framework::{Suite, interrupt};

tessera_guest_framework::entry!(main);

/// What `vm-platform.toml` gives the partition: one VP, 16 MiB.
pub const MANIFEST_CPUS: u16 = 1;
pub const MANIFEST_RAM: u64 = 16 << 20;

fn main(suite: &mut Suite) {
    interrupt::install();
    legacy::fw_cfg(suite);
    legacy::pics(suite);
    let ioapic = DeviceWindow::map(com1::IOAPIC, 0x1000);
    let apic = DeviceWindow::map(com1::LAPIC, 0x1000);
    let (Ok(ioapic), Ok(apic)) = (ioapic, apic) else {
        suite.check("map the I/O APIC and local APIC pages", || {
            tessera_guest_framework::fail!("the pages could not be mapped")
        });
        return;
    };
    com1::run(suite, &ioapic, &apic);
    virtual_wire::run(suite, &apic);
}
