//! Power-off on a hardware-reduced platform: the sleep control and status
//! registers the FADT names (ACPI 6.5 §4.8.3.7, "Sleep Control and Status
//! Registers"), and what a write to them asks for.
//!
//! The guest learns the sleep type of S5 from the DSDT's `\_S5` package
//! ([`S5_SLEEP_TYPE`]) and powers off by writing `SLP_TYP = S5 | SLP_EN`
//! to the control register (Linux: `acpi_hw_extended_sleep`, after
//! writing `WAK_STS` to the status register to clear it). Whoever serves
//! the two ports (the partition's platform component, or its manager)
//! turns [`SleepRequest::PowerOff`] into the partition's end.

/// The byte-wide sleep control register's I/O port.
pub const SLEEP_CONTROL_PORT: u16 = 0x600;
/// The byte-wide sleep status register's I/O port.
pub const SLEEP_STATUS_PORT: u16 = 0x601;

/// The sleep type of S5 (soft off) that `\_S5` gives: any 3-bit value is
/// the platform's to choose; this one reads as what it means.
pub const S5_SLEEP_TYPE: u8 = 5;

/// Sleep control bits 4:2: `SLP_TYPx`.
pub const SLP_TYP_SHIFT: u32 = 2;
pub const SLP_TYP_MASK: u8 = 0b111 << SLP_TYP_SHIFT;
/// Sleep control bit 5: `SLP_EN`, enter the sleep state `SLP_TYP` names.
pub const SLP_EN: u8 = 1 << 5;
/// Sleep status bit 7: `WAK_STS`, written 1 to clear.
pub const WAK_STS: u8 = 1 << 7;

/// What a write to the sleep control register asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SleepRequest {
    /// Nothing (`SLP_EN` clear): the write is ignored.
    None,
    /// Soft off (S5): the partition ends.
    PowerOff,
    /// Another sleep state (its `SLP_TYP`): this platform offers none
    /// (the DSDT has only `\_S5`), so a guest that asks is confused; the
    /// write is ignored and the guest runs on.
    Unsupported(u8),
}

/// What the byte `value` written to the sleep control register asks for.
#[must_use]
pub const fn sleep_control(value: u8) -> SleepRequest {
    if value & SLP_EN == 0 {
        return SleepRequest::None;
    }
    let sleep_type = (value & SLP_TYP_MASK) >> SLP_TYP_SHIFT;
    if sleep_type == S5_SLEEP_TYPE {
        SleepRequest::PowerOff
    } else {
        SleepRequest::Unsupported(sleep_type)
    }
}

/// What a read of the sleep status register returns: the platform never
/// sleeps, so never "woken" (`WAK_STS` clear).
pub const SLEEP_STATUS: u8 = 0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_power_off_write_is_power_off() {
        // acpi_hw_extended_sleep: ((type_a << 2) & 0x1C) | 0x20.
        let value = ((S5_SLEEP_TYPE << 2) & 0x1C) | 0x20;
        assert_eq!(value, 0x34);
        assert_eq!(sleep_control(value), SleepRequest::PowerOff);
    }

    #[test]
    fn without_slp_en_nothing_happens() {
        for value in 0..=u8::MAX {
            if value & SLP_EN == 0 {
                assert_eq!(sleep_control(value), SleepRequest::None, "{value:#x}");
            }
        }
    }

    #[test]
    fn other_sleep_types_are_not_power_off_and_reserved_bits_do_not_matter() {
        for sleep_type in 0..8u8 {
            for reserved in [0u8, 0b11, 0b1100_0000, 0b1100_0011] {
                let value = (sleep_type << 2) | SLP_EN | reserved;
                let expected = if sleep_type == S5_SLEEP_TYPE {
                    SleepRequest::PowerOff
                } else {
                    SleepRequest::Unsupported(sleep_type)
                };
                assert_eq!(sleep_control(value), expected, "{value:#x}");
            }
        }
    }
}
