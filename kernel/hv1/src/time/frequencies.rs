//! `HV_X64_MSR_TSC_FREQUENCY` (`0x40000022`) and
//! `HV_X64_MSR_APIC_FREQUENCY` (`0x40000023`): the TSC and local APIC
//! timer frequencies in Hz, read-only.
//!
//! TLFS 6.0b Appendix C ("Specifies the frequency, in Hz, of the TSC, as
//! reported by the hypervisor" / "of the local APIC"; privilege
//! AccessFrequencyRegs, access "R"); TLFS md
//! `datatypes/hv_partition_privilege_mask.md` (`AccessFrequencyRegs`) and
//! `feature-discovery.md`, leaf `0x40000003` EDX bit 8 ("Support for
//! determining timer frequencies is available"). Guests look for both bits
//! (Linux's `ms_hyperv_init_platform` does); `hv-frequencies` sets both.

use tlfs::msr::{HV_X64_MSR_APIC_FREQUENCY, HV_X64_MSR_TSC_FREQUENCY};
use tlfs::privilege::HvPartitionPrivilegeMask;

use crate::synthetic_msr::MsrFault;

/// The APIC timer's input clock Tessera gives every VP, in Hz: what
/// `HV_X64_MSR_APIC_FREQUENCY` reports. It must equal
/// `tessera_lapic::DEFAULT_APIC_HZ`, the rate the virtual local APIC's
/// timer counts at (the kernel asserts it at compile time).
pub const APIC_TIMER_HZ: u64 = 200_000_000;

/// What the two MSRs report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Frequencies {
    /// The guest TSC frequency in Hz (the host's: Tessera does not scale
    /// the TSC).
    pub tsc_hz: u64,
    /// The APIC timer clock in Hz, before the divide configuration
    /// (`tessera_lapic::TimerClock::apic_hz`).
    pub apic_hz: u64,
}

/// Whether `msr` is one of the two.
#[must_use]
pub const fn is_frequency_msr(msr: u32) -> bool {
    matches!(msr, HV_X64_MSR_TSC_FREQUENCY | HV_X64_MSR_APIC_FREQUENCY)
}

/// RDMSR of a frequency MSR.
///
/// # Errors
///
/// #GP without AccessFrequencyRegs (TLFS 6.0b §4.2: "If this flag is
/// cleared, accesses to this MSR results in a #GP fault") or for another
/// MSR.
pub const fn read(
    msr: u32,
    privileges: HvPartitionPrivilegeMask,
    frequencies: &Frequencies,
) -> Result<u64, MsrFault> {
    if !privileges.access_frequency_regs() {
        return Err(MsrFault::GeneralProtection);
    }
    match msr {
        HV_X64_MSR_TSC_FREQUENCY => Ok(frequencies.tsc_hz),
        HV_X64_MSR_APIC_FREQUENCY => Ok(frequencies.apic_hz),
        _ => Err(MsrFault::GeneralProtection),
    }
}

/// WRMSR of a frequency MSR: always #GP, since both are read-only
/// (Appendix C access "R"; the synthetic MSR module applies the same rule
/// to every read-only MSR).
///
/// # Errors
///
/// Always.
pub const fn write(_msr: u32, _value: u64) -> Result<(), MsrFault> {
    Err(MsrFault::GeneralProtection)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Frequencies = Frequencies {
        tsc_hz: 2_994_000_000,
        apic_hz: 200_000_000,
    };

    #[test]
    fn reads_need_the_privilege() {
        let none = HvPartitionPrivilegeMask::new();
        let granted = none.with_access_frequency_regs(true);
        assert_eq!(
            read(HV_X64_MSR_TSC_FREQUENCY, none, &F),
            Err(MsrFault::GeneralProtection)
        );
        assert_eq!(
            read(HV_X64_MSR_TSC_FREQUENCY, granted, &F),
            Ok(2_994_000_000)
        );
        assert_eq!(
            read(HV_X64_MSR_APIC_FREQUENCY, granted, &F),
            Ok(200_000_000)
        );
        assert_eq!(
            read(0x4000_0024, granted, &F),
            Err(MsrFault::GeneralProtection)
        );
        assert_eq!(
            write(HV_X64_MSR_TSC_FREQUENCY, 1),
            Err(MsrFault::GeneralProtection)
        );
        assert!(is_frequency_msr(0x4000_0022) && is_frequency_msr(0x4000_0023));
        assert!(!is_frequency_msr(0x4000_0021));
    }
}
