//! QEMU's firmware configuration device, `fw_cfg`, in its traditional
//! (port I/O) form: the selector at `0x510`, the data byte at `0x511`.
//!
//! QEMU `docs/specs/fw_cfg.rst` ("Selector (Control) Register", "Data
//! Register", "Register Locations": x86 selector IOport `0x510`, data
//! IOport `0x511`; "Signature", "Revision / feature bitmap", "File
//! Directory"); the item keys of QEMU's `qemu_fw_cfg.h` (`FW_CFG_RAM_SIZE`
//! `0x03`, `FW_CFG_NB_CPUS` `0x05`, `FW_CFG_MAX_CPUS` `0x0f`), stored as
//! QEMU's `fw_cfg_add_i64`/`fw_cfg_add_i16` store them: little-endian.
//!
//! Tessera offers no DMA interface (feature bit 1 clear, port `0x514`
//! unclaimed) and no writable items: "As of QEMU v2.4, writes to the fw_cfg
//! data register are no longer supported, and will be ignored".

/// The selector port (16-bit writes).
pub const SELECTOR_PORT: u16 = 0x510;
/// The data port (8-bit reads).
pub const DATA_PORT: u16 = 0x511;

/// Item keys.
pub const FW_CFG_SIGNATURE: u16 = 0x0000;
/// Revision / feature bitmap.
pub const FW_CFG_ID: u16 = 0x0001;
/// RAM size in bytes, 64-bit little-endian.
pub const FW_CFG_RAM_SIZE: u16 = 0x0003;
/// "No graphics": 16-bit, 1 (Tessera's partitions have no display).
pub const FW_CFG_NOGRAPHIC: u16 = 0x0004;
/// Boot CPUs, 16-bit little-endian.
pub const FW_CFG_NB_CPUS: u16 = 0x0005;
/// Possible CPUs, 16-bit little-endian.
pub const FW_CFG_MAX_CPUS: u16 = 0x000F;
/// The file directory: a big-endian count, then 64-byte entries.
pub const FW_CFG_FILE_DIR: u16 = 0x0019;
/// Bit 14 of the selector: the write channel (ignored: nothing is
/// writable).
pub const FW_CFG_WRITE_CHANNEL: u16 = 0x4000;
/// Bit 15: an architecture-specific item.
pub const FW_CFG_ARCH_LOCAL: u16 = 0x8000;

/// Feature bit 0: "traditional interface. Always set."
pub const FEATURE_TRADITIONAL: u32 = 1;

/// What a partition's `fw_cfg` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FwCfgConfig {
    /// The partition's RAM, in bytes.
    pub ram_bytes: u64,
    /// Its VPs.
    pub cpus: u16,
}

/// The device's state: the items and the read position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FwCfg {
    config: FwCfgConfig,
    key: u16,
    offset: u32,
}

impl FwCfg {
    /// The device, with the signature item selected.
    #[must_use]
    pub const fn new(config: FwCfgConfig) -> Self {
        Self {
            config,
            key: FW_CFG_SIGNATURE,
            offset: 0,
        }
    }

    /// Byte `offset` of item `key` (the write-channel bit ignored), or
    /// `None` past its end. Unknown keys are empty items.
    #[must_use]
    pub fn item_byte(&self, key: u16, offset: u32) -> Option<u8> {
        let le = |value: u64, width: u32| (offset < width).then(|| (value >> (8 * offset)) as u8);
        match key & !FW_CFG_WRITE_CHANNEL {
            FW_CFG_SIGNATURE => b"QEMU".get(offset as usize).copied(),
            FW_CFG_ID => le(FEATURE_TRADITIONAL as u64, 4),
            FW_CFG_RAM_SIZE => le(self.config.ram_bytes, 8),
            FW_CFG_NOGRAPHIC => le(1, 2),
            FW_CFG_NB_CPUS | FW_CFG_MAX_CPUS => le(self.config.cpus as u64, 2),
            // No files: a big-endian count of 0.
            FW_CFG_FILE_DIR => (offset < 4).then_some(0),
            _ => None,
        }
    }

    /// A write to the device's ports: a 16-bit write of the selector
    /// selects an item and rewinds to its start; a data write is ignored.
    /// **Choice:** as QEMU's combined x86 region, a 16-bit access is only
    /// the selector at `0x510`; any other width there, and everything at
    /// `0x511`, goes to the data register.
    pub fn write(&mut self, port: u16, size: u8, value: u32) {
        if port == SELECTOR_PORT && size == 2 {
            self.key = value as u16;
            self.offset = 0;
        }
    }

    /// A read: a 1-byte read of either port returns the next data byte (0
    /// past the item's end: "any reads will return a data value of 0x00");
    /// any other read returns all ones, as an unclaimed port does.
    pub fn read(&mut self, port: u16, size: u8) -> u32 {
        if !matches!(port, SELECTOR_PORT | DATA_PORT) || size != 1 {
            return match size {
                1 => 0xFF,
                2 => 0xFFFF,
                _ => 0xFFFF_FFFF,
            };
        }
        let byte = self.item_byte(self.key, self.offset).unwrap_or(0);
        self.offset = self.offset.saturating_add(1);
        byte as u32
    }
}
