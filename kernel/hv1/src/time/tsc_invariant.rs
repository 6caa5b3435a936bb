//! `HV_X64_MSR_TSC_INVARIANT_CONTROL` (`0x40000118`) and the invariant-TSC
//! bit it unlocks, CPUID `0x80000007` EDX\[8\].
//!
//! Neither TLFS edition documents this MSR. The semantics here are those of
//! Linux's `hyperv-tlfs.h` (`HV_X64_MSR_TSC_INVARIANT_CONTROL`,
//! `HV_ACCESS_TSC_INVARIANT` = privilege bit 15, `HV_EXPOSE_INVARIANT_TSC`
//! = bit 0), of the guest that uses it (Linux's `ms_hyperv_init_platform`:
//! "Writing to synthetic MSR 0x40000118 updates/changes the guest visible
//! CPUIDs. Setting bit 0 of this MSR enables guests to report invariant
//! TSC feature through CPUID instruction, CPUID 0x80000007/EDX, bit 8")
//! and of Linux's KVM, which implements it for Hyper-V guests:
//!
//! - with the privilege (AccessTscInvariantControls), the invariant-TSC
//!   bit is hidden until the guest sets bit 0; without it, the bit is
//!   whatever the partition's CPUID policy says;
//! - only bit 0 is defined: any other bit set is #GP;
//! - the guest cannot turn it off again once on (a write of 0 after 1 is
//!   #GP), since CPUID must not change under a running OS;
//! - without the privilege the MSR does not exist (#GP).
//!
//! CPUID 6 EAX\[2\] (ARAT, "APIC timer always running") needs no control: a
//! virtual APIC timer never stops in a C-state, so the kernel can report
//! it whenever it models the APIC timer ([`ARAT`]) — and only then: with
//! no local APIC offered, the bit would promise a timer that is not there.

use tlfs::privilege::HvPartitionPrivilegeMask;

use crate::synthetic_msr::MsrFault;

/// The MSR number.
pub const HV_X64_MSR_TSC_INVARIANT_CONTROL: u32 = 0x4000_0118;
/// Bit 0: expose the invariant TSC.
pub const EXPOSE_INVARIANT_TSC: u64 = 1;
/// CPUID `0x80000007` EDX bit 8: invariant TSC.
pub const INVARIANT_TSC: u32 = 1 << 8;
/// CPUID 6 EAX bit 2: the APIC timer runs in every C-state.
pub const ARAT: u32 = 1 << 2;

/// A partition's invariant-TSC control (partition-wide: it changes CPUID,
/// which is the same on every VP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TscInvariantControl {
    value: u64,
}

impl TscInvariantControl {
    /// The state at partition creation: bit 0 clear.
    #[must_use]
    pub const fn new() -> Self {
        Self { value: 0 }
    }

    /// Whether the guest set bit 0 (with the privilege, the CPUID bit is
    /// shown only then).
    #[must_use]
    pub const fn exposed(&self) -> bool {
        self.value & EXPOSE_INVARIANT_TSC != 0
    }

    /// RDMSR.
    ///
    /// # Errors
    ///
    /// #GP without the privilege.
    pub const fn read(&self, privileges: HvPartitionPrivilegeMask) -> Result<u64, MsrFault> {
        if !privileges.access_tsc_invariant_controls() {
            return Err(MsrFault::GeneralProtection);
        }
        Ok(self.value)
    }

    /// WRMSR.
    ///
    /// # Errors
    ///
    /// #GP without the privilege, for bits other than 0, and for clearing
    /// bit 0 once set.
    pub fn write(
        &mut self,
        privileges: HvPartitionPrivilegeMask,
        value: u64,
    ) -> Result<(), MsrFault> {
        if !privileges.access_tsc_invariant_controls()
            || value & !EXPOSE_INVARIANT_TSC != 0
            || (self.value != 0 && value == 0)
        {
            return Err(MsrFault::GeneralProtection);
        }
        self.value = value;
        Ok(())
    }

    /// CPUID `0x80000007` EDX as the guest sees it, from what the
    /// partition's CPUID policy would report (`policy_edx`, its bit 8 set
    /// if the host TSC is invariant and the partition may know it).
    #[must_use]
    pub const fn leaf_80000007_edx(
        &self,
        privileges: HvPartitionPrivilegeMask,
        policy_edx: u32,
    ) -> u32 {
        if privileges.access_tsc_invariant_controls() && self.value & EXPOSE_INVARIANT_TSC == 0 {
            policy_edx & !INVARIANT_TSC
        } else {
            policy_edx
        }
    }

    /// Back to the creation state (a partition reset: the guest starts
    /// over and must see the bit hidden again).
    pub const fn reset(&mut self) {
        self.value = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_unlocks_the_cpuid_bit() {
        let granted = HvPartitionPrivilegeMask::new().with_access_tsc_invariant_controls(true);
        let none = HvPartitionPrivilegeMask::new();
        let mut control = TscInvariantControl::default();
        let host = INVARIANT_TSC | 1;
        // Without the privilege: CPUID as the policy says; no MSR.
        assert_eq!(control.leaf_80000007_edx(none, host), host);
        assert_eq!(control.read(none), Err(MsrFault::GeneralProtection));
        assert_eq!(control.write(none, 1), Err(MsrFault::GeneralProtection));
        // With it: hidden until bit 0 is set.
        assert_eq!(control.leaf_80000007_edx(granted, host), 1);
        assert_eq!(control.read(granted), Ok(0));
        assert_eq!(control.write(granted, 2), Err(MsrFault::GeneralProtection));
        assert_eq!(control.write(granted, 0), Ok(()), "0 over 0 is fine");
        assert_eq!(control.write(granted, 1), Ok(()));
        assert_eq!(control.read(granted), Ok(1));
        assert_eq!(control.leaf_80000007_edx(granted, host), host);
        // A policy without invariant TSC is not made invariant.
        assert_eq!(control.leaf_80000007_edx(granted, 1), 1);
        // No way back.
        assert_eq!(control.write(granted, 0), Err(MsrFault::GeneralProtection));
        assert_eq!(control.write(granted, 1), Ok(()));
        control.reset();
        assert_eq!(control.leaf_80000007_edx(granted, host), 1);
    }
}
