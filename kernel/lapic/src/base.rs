//! `IA32_APIC_BASE` (MSR `0x1B`): where the xAPIC page is, whether this is
//! the bootstrap processor, and the APIC's mode — with the transitions the
//! architecture allows.
//!
//! Intel SDM Vol. 3A §10.4.3 "Enabling or Disabling the Local APIC",
//! §10.4.4 "Local APIC Status and Location" (Figure 10-5), §10.12.1
//! "Detecting and Enabling x2APIC Mode" and §10.12.5 "x2APIC State
//! Transitions" (Figure 10-27); AMD APM Vol. 2 chapter 16, "Local APIC
//! Enable".

/// The MSR number.
pub const IA32_APIC_BASE: u32 = 0x1B;
/// Bit 8: this processor is the bootstrap processor.
pub const BSP: u64 = 1 << 8;
/// Bit 10 (EXTD): x2APIC mode.
pub const EXTD: u64 = 1 << 10;
/// Bit 11 (EN): the APIC is globally enabled.
pub const EN: u64 = 1 << 11;
/// The architectural default base, `0xFEE00000`.
pub const DEFAULT_BASE: u64 = 0xFEE0_0000;

/// The APIC's mode, from EN and EXTD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApicMode {
    /// EN = 0, EXTD = 0: globally disabled — no MMIO page, no x2APIC
    /// MSRs, no messages received.
    Disabled,
    /// EN = 1, EXTD = 0: the MMIO page at the base address.
    Xapic,
    /// EN = 1, EXTD = 1: the MSRs `0x800`–`0x8FF`.
    X2apic,
}

/// What a valid write to `IA32_APIC_BASE` changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BaseTransition {
    /// The mode stays (the base address may have moved).
    Same,
    /// xAPIC → x2APIC: the registers stay, the LDR is derived from the
    /// x2APIC ID (SDM §10.12.5.1 "x2APIC Transitions From xAPIC Mode").
    XapicToX2apic,
    /// xAPIC or x2APIC → disabled: the APIC's registers are lost; Tessera
    /// returns them to their reset values at once ("all the APIC register
    /// states in the x2APIC, except for the x2APIC ID (32 bits), are not
    /// preserved across mode transitions", SDM §10.12.5.1).
    Disable,
    /// Disabled → xAPIC: the APIC comes back in its reset state.
    Enable,
}

/// Why a write to `IA32_APIC_BASE` is #GP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BaseError {
    /// A reserved bit is set: bits 7:0, 9, bits at or above MAXPHYADDR, or
    /// EXTD where CPUID 1 ECX\[21\] (x2APIC) is not reported.
    Reserved,
    /// EN = 0 with EXTD = 1: "not valid ... causes a general-protection
    /// exception" (SDM §10.12.5.1).
    Invalid,
    /// x2APIC → xAPIC directly: "not valid, and the corresponding WRMSR
    /// ... causes a general-protection exception".
    X2apicToXapic,
    /// Disabled → x2APIC directly: "From the disabled mode, the only valid
    /// x2APIC transition using IA32_APIC_BASE is to the xAPIC mode".
    DisabledToX2apic,
}

/// The mode the EN and EXTD bits of `value` select (`None`: the invalid
/// EN = 0, EXTD = 1).
#[must_use]
#[inline]
pub const fn mode_of(value: u64) -> Option<ApicMode> {
    match (value & EN != 0, value & EXTD != 0) {
        (false, false) => Some(ApicMode::Disabled),
        (true, false) => Some(ApicMode::Xapic),
        (true, true) => Some(ApicMode::X2apic),
        (false, true) => None,
    }
}

/// The base address field of `value` (bits MAXPHYADDR−1:12).
#[must_use]
pub const fn base_address(value: u64) -> u64 {
    value & !0xFFF
}

/// Checks a guest write of `new` over `current`.
///
/// - `x2apic_supported`: CPUID 1 ECX\[21\] as the guest sees it;
/// - `physical_address_bits`: MAXPHYADDR (bits at or above are reserved).
///
/// The BSP bit is the partition's to decide, not the guest's: a write
/// that flips it keeps the old value (**Choice**: firmware-style code
/// writes back what it read, so refusing with #GP would gain nothing; the
/// SDM calls the flag something the processor sets at reset).
///
/// Returns the value to store and the transition.
pub fn check_write(
    current: u64,
    new: u64,
    x2apic_supported: bool,
    physical_address_bits: u8,
) -> Result<(u64, BaseTransition), BaseError> {
    let address_mask = match physical_address_bits {
        bits @ 12..=63 => (1_u64 << bits) - 1,
        _ => u64::MAX,
    };
    let mut reserved = 0xFF | 1 << 9 | !address_mask;
    if !x2apic_supported {
        reserved |= EXTD;
    }
    if new & reserved != 0 {
        return Err(BaseError::Reserved);
    }
    let from = mode_of(current).unwrap_or(ApicMode::Disabled);
    let to = mode_of(new).ok_or(BaseError::Invalid)?;
    let transition = match (from, to) {
        (a, b) if a == b => BaseTransition::Same,
        (ApicMode::X2apic, ApicMode::Xapic) => return Err(BaseError::X2apicToXapic),
        (ApicMode::Disabled, ApicMode::X2apic) => return Err(BaseError::DisabledToX2apic),
        (ApicMode::Xapic, ApicMode::X2apic) => BaseTransition::XapicToX2apic,
        (_, ApicMode::Disabled) => BaseTransition::Disable,
        (ApicMode::Disabled, ApicMode::Xapic) => BaseTransition::Enable,
        // Every pair is covered above; the compiler cannot see it.
        _ => BaseTransition::Same,
    };
    Ok(((new & !BSP) | (current & BSP), transition))
}

#[cfg(test)]
mod tests {
    use super::*;

    const XAPIC: u64 = DEFAULT_BASE | EN;
    const X2APIC: u64 = DEFAULT_BASE | EN | EXTD;

    #[test]
    fn transitions() {
        let ok = |from, to| check_write(from, to, true, 48).map(|(_, t)| t);
        assert_eq!(ok(XAPIC, X2APIC), Ok(BaseTransition::XapicToX2apic));
        assert_eq!(ok(X2APIC, XAPIC), Err(BaseError::X2apicToXapic));
        assert_eq!(ok(X2APIC, DEFAULT_BASE), Ok(BaseTransition::Disable));
        assert_eq!(ok(DEFAULT_BASE, XAPIC), Ok(BaseTransition::Enable));
        assert_eq!(ok(DEFAULT_BASE, X2APIC), Err(BaseError::DisabledToX2apic));
        assert_eq!(ok(XAPIC, DEFAULT_BASE | EXTD), Err(BaseError::Invalid));
        assert_eq!(ok(XAPIC, XAPIC), Ok(BaseTransition::Same));
        // Relocation.
        assert_eq!(ok(XAPIC, 0xFED0_0000 | EN), Ok(BaseTransition::Same));
    }

    #[test]
    fn reserved_bits() {
        for bit in [0, 7, 9, 48, 63] {
            assert_eq!(
                check_write(XAPIC, XAPIC | 1 << bit, true, 48),
                Err(BaseError::Reserved),
                "bit {bit}"
            );
        }
        assert_eq!(
            check_write(XAPIC, X2APIC, false, 48),
            Err(BaseError::Reserved)
        );
        // MAXPHYADDR 52 allows bit 51.
        assert!(check_write(XAPIC, XAPIC | 1 << 51, true, 52).is_ok());
    }

    #[test]
    fn bsp_is_kept() {
        let (value, _) = check_write(XAPIC | BSP, XAPIC, true, 48).unwrap();
        assert_eq!(value, XAPIC | BSP);
        let (value, _) = check_write(XAPIC, XAPIC | BSP, true, 48).unwrap();
        assert_eq!(value, XAPIC);
    }
}
