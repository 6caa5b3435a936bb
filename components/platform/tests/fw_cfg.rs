//! QEMU's fw_cfg as its specification and kvm-unit-tests' `fwcfg.c` read
//! it: 16-bit selector writes to 0x510, byte reads from 0x511.

use platform::fw_cfg::{
    DATA_PORT, FW_CFG_FILE_DIR, FW_CFG_ID, FW_CFG_MAX_CPUS, FW_CFG_NB_CPUS, FW_CFG_RAM_SIZE,
    FW_CFG_SIGNATURE, FW_CFG_WRITE_CHANNEL, SELECTOR_PORT,
};
use platform::{FwCfg, FwCfgConfig};

fn device() -> FwCfg {
    FwCfg::new(FwCfgConfig {
        ram_bytes: 256 << 20,
        cpus: 4,
    })
}

/// Selects `key` and reads `n` bytes, little-endian.
fn read_item(dev: &mut FwCfg, key: u16, n: usize) -> u64 {
    dev.write(SELECTOR_PORT, 2, key as u32);
    (0..n).fold(0, |acc, i| acc | (dev.read(DATA_PORT, 1) as u64) << (8 * i))
}

#[test]
fn signature_id_cpus_ram() {
    let mut dev = device();
    dev.write(SELECTOR_PORT, 2, FW_CFG_SIGNATURE as u32);
    let signature: Vec<u8> = (0..4).map(|_| dev.read(DATA_PORT, 1) as u8).collect();
    assert_eq!(signature, b"QEMU");
    assert_eq!(read_item(&mut dev, FW_CFG_ID, 4), 1, "traditional, no DMA");
    assert_eq!(read_item(&mut dev, FW_CFG_NB_CPUS, 2), 4);
    assert_eq!(read_item(&mut dev, FW_CFG_MAX_CPUS, 2), 4);
    assert_eq!(read_item(&mut dev, FW_CFG_RAM_SIZE, 8), 256 << 20);
    assert_eq!(read_item(&mut dev, FW_CFG_FILE_DIR, 4), 0, "no files");
}

#[test]
fn reads_past_the_end_and_unknown_items_are_zero() {
    let mut dev = device();
    assert_eq!(
        read_item(&mut dev, FW_CFG_SIGNATURE, 8),
        u32::from_le_bytes(*b"QEMU") as u64
    );
    assert_eq!(read_item(&mut dev, 0x0123, 4), 0);
    assert_eq!(read_item(&mut dev, 0x8003, 4), 0, "no arch items");
    // Reselecting rewinds.
    assert_eq!(read_item(&mut dev, FW_CFG_NB_CPUS, 1), 4);
    assert_eq!(read_item(&mut dev, FW_CFG_NB_CPUS, 1), 4);
    // The write channel selects the same item; data writes are ignored.
    assert_eq!(
        read_item(&mut dev, FW_CFG_NB_CPUS | FW_CFG_WRITE_CHANNEL, 2),
        4
    );
    dev.write(SELECTOR_PORT, 2, FW_CFG_NB_CPUS as u32);
    dev.write(DATA_PORT, 1, 9);
    assert_eq!(dev.read(DATA_PORT, 1), 4);
}

#[test]
fn access_widths() {
    let mut dev = device();
    dev.write(SELECTOR_PORT, 2, FW_CFG_NB_CPUS as u32);
    // A byte read of 0x510 is a data read, as in QEMU's combined region.
    assert_eq!(dev.read(SELECTOR_PORT, 1), 4);
    // Wider reads and a byte write of the selector do nothing.
    assert_eq!(dev.read(DATA_PORT, 2), 0xFFFF);
    assert_eq!(dev.read(DATA_PORT, 4), 0xFFFF_FFFF);
    dev.write(SELECTOR_PORT, 1, FW_CFG_RAM_SIZE as u32);
    assert_eq!(dev.read(DATA_PORT, 1), 0, "still NB_CPUS, second byte");
    // The DMA port is not the device's.
    assert_eq!(dev.read(0x514, 1), 0xFF);
}
