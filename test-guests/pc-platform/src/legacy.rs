//! QEMU's `fw_cfg` and the 8259 pair with its ELCR, as firmware and Linux
//! probe them.

use tessera_guest_framework::port::{inb, inw, outb, outw};
use tessera_guest_framework::{Suite, ensure_eq};

const FW_CFG_SELECTOR: u16 = 0x510;
const FW_CFG_DATA: u16 = 0x511;

/// The `len` bytes of `fw_cfg` item `key`, little-endian, as a number.
fn item(key: u16, len: u32) -> u64 {
    outw(FW_CFG_SELECTOR, key);
    (0..len).fold(0, |value, i| value | u64::from(inb(FW_CFG_DATA)) << (8 * i))
}

pub fn fw_cfg(suite: &mut Suite) {
    suite.check(
        "fw_cfg: signature QEMU, the traditional interface, and the manifest's CPUs and RAM",
        || {
            ensure_eq!(
                item(0x0000, 4),
                u64::from(u32::from_le_bytes(*b"QEMU")),
                "signature"
            );
            ensure_eq!(
                item(0x0001, 4) & 1,
                1,
                "feature bitmap: traditional interface"
            );
            ensure_eq!(
                item(0x0005, 2),
                u64::from(crate::MANIFEST_CPUS),
                "FW_CFG_NB_CPUS"
            );
            ensure_eq!(item(0x0003, 8), crate::MANIFEST_RAM, "FW_CFG_RAM_SIZE");
            // A selector write rewinds: the signature again from its start.
            ensure_eq!(
                item(0x0000, 1),
                u64::from(b'Q'),
                "signature after a re-select"
            );
            Ok(())
        },
    );
}

pub fn pics(suite: &mut Suite) {
    suite.check(
        "8259 pair: ICW1-4 as Linux sends them, OCW1 masks read back, OCW3 reads IRR and ISR",
        || {
            // init_8259A: mask all, ICW1 (edge, cascade, ICW4), ICW2 base,
            // ICW3 (slave on IR2 / slave ID 2), ICW4 (8086 mode).
            outb(0x21, 0xFF);
            outb(0xA1, 0xFF);
            ensure_eq!(inb(0x21), 0xFF, "master mask (Linux's probe)");
            for (command, data, base, cascade) in
                [(0x20, 0x21, 0x30, 0x04), (0xA0, 0xA1, 0x38, 0x02)]
            {
                outb(command, 0x11);
                outb(data, base);
                outb(data, cascade);
                outb(data, 0x01);
            }
            // After ICW4 the masks are cleared; OCW1 sets new ones.
            ensure_eq!(inb(0x21), 0x00, "master mask after initialisation");
            outb(0x21, 0xFB);
            outb(0xA1, 0xFF);
            ensure_eq!(inb(0x21), 0xFB, "master OCW1");
            ensure_eq!(inb(0xA1), 0xFF, "slave OCW1");
            // OCW3: read ISR, then IRR; nothing is in service.
            outb(0x20, 0x0B);
            ensure_eq!(inb(0x20), 0x00, "master ISR");
            outb(0x20, 0x0A);
            ensure_eq!(inb(0x20) & 0xFB, 0x00, "master IRR (no device asserted)");
            Ok(())
        },
    );
    suite.check(
        "ELCR: the writable bits hold, IRQs 0-2, 8 and 13 stay edge",
        || {
            outb(0x4D0, 0xFF);
            outb(0x4D1, 0xFF);
            ensure_eq!(inb(0x4D0), 0xF8, "ELCR1");
            ensure_eq!(inb(0x4D1), 0xDE, "ELCR2");
            ensure_eq!(inw(0x4D0), 0xDEF8, "ELCR as one 16-bit read");
            outw(0x4D0, 0x0000);
            ensure_eq!(inw(0x4D0), 0, "ELCR cleared");
            Ok(())
        },
    );
}
