//! Synthetic MSRs: their numbers, and the value layouts of those that are
//! not SynIC or timer registers (those are in [`crate::synic`] and
//! [`crate::timer`]).
//!
//! Numbers: TLFS 6.0b §19 (Appendix C: Hypervisor Synthetic MSRs), checked
//! against the Markdown pages that repeat them (`hypercall-interface.md`,
//! `vp-properties.md`, `timers.md`, `virtual-interrupts.md`,
//! `inter-partition-communication.md`, `partition-properties.md`,
//! `nested-virtualization.md`).
//!
//! Not numbered anywhere in the reference, so not defined here although
//! TLFS 6.0b §15.11 names them: `HV_X64_MSR_APIC_ASSIST_PAGE` (an older
//! name of [`HV_X64_MSR_VP_ASSIST_PAGE`]), `HV_X64_MSR_SIRBP`,
//! `HV_X64_MSR_DEBUG_DEVICE_OPTIONS`, `HV_X64_MSR_BELOW_1MB_PAGE`,
//! `HV_X64_MSR_STATS_PARTITION_RETAIL_PAGE`,
//! `HV_X64_MSR_STATS_VP_RETAIL_PAGE`.

mod guest_os_id;
mod layout;

pub use guest_os_id::*;
pub use layout::*;

macro_rules! msrs {
    ($($(#[$meta:meta])* $name:ident = $value:expr,)*) => {
        $(
            $(#[$meta])*
            pub const $name: u32 = $value;
        )*

        /// Every synthetic MSR number defined here with its TLFS name, in
        /// Appendix C order.
        pub const ALL_SYNTHETIC_MSRS: &[(u32, &str)] = &[$(($value, stringify!($name))),*];

        /// The TLFS name of synthetic MSR `msr`, or `None` if it is not one
        /// this crate defines.
        #[must_use]
        pub const fn msr_name(msr: u32) -> Option<&'static str> {
            match msr {
                $($name => Some(stringify!($name)),)*
                _ => None,
            }
        }
    };
}

msrs! {
    /// Guest OS identity (partition-wide); see [`HvGuestOsIdProprietary`].
    /// TLFS md `hypercall-interface.md` § Reporting the Guest OS Identity.
    HV_X64_MSR_GUEST_OS_ID = 0x4000_0000,
    /// Hypercall page (partition-wide); see [`HvX64MsrHypercall`].
    /// TLFS md `hypercall-interface.md` § Establishing the Hypercall
    /// Interface (x86/x64).
    HV_X64_MSR_HYPERCALL = 0x4000_0001,
    /// The VP's index (read-only). TLFS md `vp-properties.md`.
    HV_X64_MSR_VP_INDEX = 0x4000_0002,
    /// Hypervisor-controlled reset. TLFS 6.0b Appendix C.
    HV_X64_MSR_RESET = 0x4000_0003,
    /// The VP's run time in 100 ns units (read-only). TLFS 6.0b Appendix C.
    HV_X64_MSR_VP_RUNTIME = 0x4000_0010,
    /// Partition reference counter (read-only). TLFS md `timers.md`.
    HV_X64_MSR_TIME_REF_COUNT = 0x4000_0020,
    /// Reference TSC page; see [`HvReferenceTscMsr`]. TLFS md `timers.md`.
    HV_X64_MSR_REFERENCE_TSC = 0x4000_0021,
    /// TSC frequency in Hz (read-only). TLFS 6.0b Appendix C.
    HV_X64_MSR_TSC_FREQUENCY = 0x4000_0022,
    /// Local APIC frequency in Hz (read-only). TLFS 6.0b Appendix C.
    HV_X64_MSR_APIC_FREQUENCY = 0x4000_0023,
    /// Non-privileged instruction execution prevention; see
    /// [`HvX64MsrNpiepConfig`]. TLFS 6.0b Appendix C.
    HV_X64_MSR_NPIEP_CONFIG = 0x4000_0040,
    /// APIC EOI (write-only); see [`HvX64MsrEoi`]. TLFS md
    /// `virtual-interrupts.md` § Local APIC MSR Accesses.
    HV_X64_MSR_EOI = 0x4000_0070,
    /// APIC ICR high:low; see [`HvX64MsrIcr`]. TLFS md
    /// `virtual-interrupts.md`.
    HV_X64_MSR_ICR = 0x4000_0071,
    /// APIC TPR; see [`HvX64MsrTpr`]. TLFS md `virtual-interrupts.md`.
    HV_X64_MSR_TPR = 0x4000_0072,
    /// VP assist page; see [`HvVpAssistPageMsr`]. TLFS md
    /// `vp-properties.md` § Virtual Processor Assist Page.
    HV_X64_MSR_VP_ASSIST_PAGE = 0x4000_0073,
    /// SynIC control; see [`crate::synic::HvSynicScontrol`].
    HV_X64_MSR_SCONTROL = 0x4000_0080,
    /// SynIC version (read-only); see [`crate::synic::HvSynicSversion`].
    HV_X64_MSR_SVERSION = 0x4000_0081,
    /// SynIC event flags page; see [`crate::synic::HvSynicSiefp`].
    HV_X64_MSR_SIEFP = 0x4000_0082,
    /// SynIC message page; see [`crate::synic::HvSynicSimp`].
    HV_X64_MSR_SIMP = 0x4000_0083,
    /// End of message (write-only trigger).
    HV_X64_MSR_EOM = 0x4000_0084,
    /// SINT0; see [`crate::synic::HvSynicSint`]. SINTn is
    /// `HV_X64_MSR_SINT0 + n`.
    HV_X64_MSR_SINT0 = 0x4000_0090,
    /// SINT1.
    HV_X64_MSR_SINT1 = 0x4000_0091,
    /// SINT2.
    HV_X64_MSR_SINT2 = 0x4000_0092,
    /// SINT3.
    HV_X64_MSR_SINT3 = 0x4000_0093,
    /// SINT4.
    HV_X64_MSR_SINT4 = 0x4000_0094,
    /// SINT5.
    HV_X64_MSR_SINT5 = 0x4000_0095,
    /// SINT6.
    HV_X64_MSR_SINT6 = 0x4000_0096,
    /// SINT7.
    HV_X64_MSR_SINT7 = 0x4000_0097,
    /// SINT8.
    HV_X64_MSR_SINT8 = 0x4000_0098,
    /// SINT9.
    HV_X64_MSR_SINT9 = 0x4000_0099,
    /// SINT10.
    HV_X64_MSR_SINT10 = 0x4000_009A,
    /// SINT11.
    HV_X64_MSR_SINT11 = 0x4000_009B,
    /// SINT12.
    HV_X64_MSR_SINT12 = 0x4000_009C,
    /// SINT13.
    HV_X64_MSR_SINT13 = 0x4000_009D,
    /// SINT14.
    HV_X64_MSR_SINT14 = 0x4000_009E,
    /// SINT15.
    HV_X64_MSR_SINT15 = 0x4000_009F,
    /// Synthetic timer 0 configuration; see [`crate::timer::HvStimerConfig`].
    /// Timer n's CONFIG is `HV_X64_MSR_STIMER0_CONFIG + 2n`, its COUNT the
    /// next MSR. TLFS md `timers.md` § Synthetic Timer Registers.
    HV_X64_MSR_STIMER0_CONFIG = 0x4000_00B0,
    /// Synthetic timer 0 count (100 ns units).
    HV_X64_MSR_STIMER0_COUNT = 0x4000_00B1,
    /// Synthetic timer 1 configuration.
    HV_X64_MSR_STIMER1_CONFIG = 0x4000_00B2,
    /// Synthetic timer 1 count. (TLFS 6.0b §12.5 misprints the name as
    /// `HX_X64_MSR_STIMER2_COUNT` for timer 2; Appendix C is right.)
    HV_X64_MSR_STIMER1_COUNT = 0x4000_00B3,
    /// Synthetic timer 2 configuration.
    HV_X64_MSR_STIMER2_CONFIG = 0x4000_00B4,
    /// Synthetic timer 2 count.
    HV_X64_MSR_STIMER2_COUNT = 0x4000_00B5,
    /// Synthetic timer 3 configuration.
    HV_X64_MSR_STIMER3_CONFIG = 0x4000_00B6,
    /// Synthetic timer 3 count.
    HV_X64_MSR_STIMER3_COUNT = 0x4000_00B7,
    /// Guest idle: a read enters the idle state. TLFS md `vp-properties.md`.
    HV_X64_MSR_GUEST_IDLE = 0x4000_00F0,
    /// Crash parameter P0. TLFS md `partition-properties.md` § Guest Crash
    /// Enlightenment Interface.
    HV_X64_MSR_CRASH_P0 = 0x4000_0100,
    /// Crash parameter P1.
    HV_X64_MSR_CRASH_P1 = 0x4000_0101,
    /// Crash parameter P2.
    HV_X64_MSR_CRASH_P2 = 0x4000_0102,
    /// Crash parameter P3 (with CrashMessage: GPA of the message).
    HV_X64_MSR_CRASH_P3 = 0x4000_0103,
    /// Crash parameter P4 (with CrashMessage: message length, ≤ 4096).
    HV_X64_MSR_CRASH_P4 = 0x4000_0104,
    /// Crash control; see [`HvCrashCtlRegContents`].
    HV_X64_MSR_CRASH_CTL = 0x4000_0105,
    /// Reenlightenment control; see [`HvReenlightenmentControl`]. TLFS md
    /// `nested-virtualization.md` § Live Migration Notification.
    HV_X64_MSR_REENLIGHTENMENT_CONTROL = 0x4000_0106,
    /// TSC emulation control; see [`HvTscEmulationControl`].
    HV_X64_MSR_TSC_EMULATION_CONTROL = 0x4000_0107,
    /// TSC emulation status; see [`HvTscEmulationStatus`].
    HV_X64_MSR_TSC_EMULATION_STATUS = 0x4000_0108,
    /// Synthetic time-unhalted timer configuration; see
    /// [`crate::timer::HvStimeUnhaltedTimerConfig`]. TLFS md `timers.md`.
    HV_X64_MSR_STIME_UNHALTED_TIMER_CONFIG = 0x4000_0114,
    /// Synthetic time-unhalted timer period (100 ns units).
    HV_X64_MSR_STIME_UNHALTED_TIMER_COUNT = 0x4000_0115,
    /// Underlying VP index when running nested. TLFS 6.0b Appendix C.
    HV_X64_MSR_NESTED_VP_INDEX = 0x4000_1002,
    /// Nested SCONTROL (base hypervisor's SynIC). TLFS 6.0b §16.14.
    HV_X64_MSR_NESTED_SCONTROL = 0x4000_1080,
    /// Nested SVERSION.
    HV_X64_MSR_NESTED_SVERSION = 0x4000_1081,
    /// Nested SIEFP.
    HV_X64_MSR_NESTED_SIEFP = 0x4000_1082,
    /// Nested SIMP.
    HV_X64_MSR_NESTED_SIMP = 0x4000_1083,
    /// Nested EOM.
    HV_X64_MSR_NESTED_EOM = 0x4000_1084,
    /// Nested SINT0; nested SINTn is `HV_X64_MSR_NESTED_SINT0 + n`.
    HV_X64_MSR_NESTED_SINT0 = 0x4000_1090,
    /// Nested SINT1.
    HV_X64_MSR_NESTED_SINT1 = 0x4000_1091,
    /// Nested SINT2.
    HV_X64_MSR_NESTED_SINT2 = 0x4000_1092,
    /// Nested SINT3.
    HV_X64_MSR_NESTED_SINT3 = 0x4000_1093,
    /// Nested SINT4.
    HV_X64_MSR_NESTED_SINT4 = 0x4000_1094,
    /// Nested SINT5.
    HV_X64_MSR_NESTED_SINT5 = 0x4000_1095,
    /// Nested SINT6.
    HV_X64_MSR_NESTED_SINT6 = 0x4000_1096,
    /// Nested SINT7.
    HV_X64_MSR_NESTED_SINT7 = 0x4000_1097,
    /// Nested SINT8.
    HV_X64_MSR_NESTED_SINT8 = 0x4000_1098,
    /// Nested SINT9.
    HV_X64_MSR_NESTED_SINT9 = 0x4000_1099,
    /// Nested SINT10.
    HV_X64_MSR_NESTED_SINT10 = 0x4000_109A,
    /// Nested SINT11.
    HV_X64_MSR_NESTED_SINT11 = 0x4000_109B,
    /// Nested SINT12.
    HV_X64_MSR_NESTED_SINT12 = 0x4000_109C,
    /// Nested SINT13.
    HV_X64_MSR_NESTED_SINT13 = 0x4000_109D,
    /// Nested SINT14.
    HV_X64_MSR_NESTED_SINT14 = 0x4000_109E,
    /// Nested SINT15.
    HV_X64_MSR_NESTED_SINT15 = 0x4000_109F,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TLFS 6.0b Appendix C, transcribed by hand.
    const APPENDIX_C: &[(u32, &str)] = &[
        (0x40000000, "HV_X64_MSR_GUEST_OS_ID"),
        (0x40000001, "HV_X64_MSR_HYPERCALL"),
        (0x40000002, "HV_X64_MSR_VP_INDEX"),
        (0x40000003, "HV_X64_MSR_RESET"),
        (0x40000010, "HV_X64_MSR_VP_RUNTIME"),
        (0x40000020, "HV_X64_MSR_TIME_REF_COUNT"),
        (0x40000021, "HV_X64_MSR_REFERENCE_TSC"),
        (0x40000022, "HV_X64_MSR_TSC_FREQUENCY"),
        (0x40000023, "HV_X64_MSR_APIC_FREQUENCY"),
        (0x40000040, "HV_X64_MSR_NPIEP_CONFIG"),
        (0x40000070, "HV_X64_MSR_EOI"),
        (0x40000071, "HV_X64_MSR_ICR"),
        (0x40000072, "HV_X64_MSR_TPR"),
        (0x40000073, "HV_X64_MSR_VP_ASSIST_PAGE"),
        (0x40000080, "HV_X64_MSR_SCONTROL"),
        (0x40000081, "HV_X64_MSR_SVERSION"),
        (0x40000082, "HV_X64_MSR_SIEFP"),
        (0x40000083, "HV_X64_MSR_SIMP"),
        (0x40000084, "HV_X64_MSR_EOM"),
        (0x40000090, "HV_X64_MSR_SINT0"),
        (0x40000091, "HV_X64_MSR_SINT1"),
        (0x40000092, "HV_X64_MSR_SINT2"),
        (0x40000093, "HV_X64_MSR_SINT3"),
        (0x40000094, "HV_X64_MSR_SINT4"),
        (0x40000095, "HV_X64_MSR_SINT5"),
        (0x40000096, "HV_X64_MSR_SINT6"),
        (0x40000097, "HV_X64_MSR_SINT7"),
        (0x40000098, "HV_X64_MSR_SINT8"),
        (0x40000099, "HV_X64_MSR_SINT9"),
        (0x4000009A, "HV_X64_MSR_SINT10"),
        (0x4000009B, "HV_X64_MSR_SINT11"),
        (0x4000009C, "HV_X64_MSR_SINT12"),
        (0x4000009D, "HV_X64_MSR_SINT13"),
        (0x4000009E, "HV_X64_MSR_SINT14"),
        (0x4000009F, "HV_X64_MSR_SINT15"),
        (0x400000B0, "HV_X64_MSR_STIMER0_CONFIG"),
        (0x400000B1, "HV_X64_MSR_STIMER0_COUNT"),
        (0x400000B2, "HV_X64_MSR_STIMER1_CONFIG"),
        (0x400000B3, "HV_X64_MSR_STIMER1_COUNT"),
        (0x400000B4, "HV_X64_MSR_STIMER2_CONFIG"),
        (0x400000B5, "HV_X64_MSR_STIMER2_COUNT"),
        (0x400000B6, "HV_X64_MSR_STIMER3_CONFIG"),
        (0x400000B7, "HV_X64_MSR_STIMER3_COUNT"),
        (0x400000F0, "HV_X64_MSR_GUEST_IDLE"),
        (0x40000100, "HV_X64_MSR_CRASH_P0"),
        (0x40000101, "HV_X64_MSR_CRASH_P1"),
        (0x40000102, "HV_X64_MSR_CRASH_P2"),
        (0x40000103, "HV_X64_MSR_CRASH_P3"),
        (0x40000104, "HV_X64_MSR_CRASH_P4"),
        (0x40000105, "HV_X64_MSR_CRASH_CTL"),
        (0x40000106, "HV_X64_MSR_REENLIGHTENMENT_CONTROL"),
        (0x40000107, "HV_X64_MSR_TSC_EMULATION_CONTROL"),
        (0x40000108, "HV_X64_MSR_TSC_EMULATION_STATUS"),
        (0x40000114, "HV_X64_MSR_STIME_UNHALTED_TIMER_CONFIG"),
        (0x40000115, "HV_X64_MSR_STIME_UNHALTED_TIMER_COUNT"),
        (0x40001002, "HV_X64_MSR_NESTED_VP_INDEX"),
        (0x40001080, "HV_X64_MSR_NESTED_SCONTROL"),
        (0x40001081, "HV_X64_MSR_NESTED_SVERSION"),
        (0x40001082, "HV_X64_MSR_NESTED_SIEFP"),
        (0x40001083, "HV_X64_MSR_NESTED_SIMP"),
        (0x40001084, "HV_X64_MSR_NESTED_EOM"),
        (0x40001090, "HV_X64_MSR_NESTED_SINT0"),
        (0x40001091, "HV_X64_MSR_NESTED_SINT1"),
        (0x40001092, "HV_X64_MSR_NESTED_SINT2"),
        (0x40001093, "HV_X64_MSR_NESTED_SINT3"),
        (0x40001094, "HV_X64_MSR_NESTED_SINT4"),
        (0x40001095, "HV_X64_MSR_NESTED_SINT5"),
        (0x40001096, "HV_X64_MSR_NESTED_SINT6"),
        (0x40001097, "HV_X64_MSR_NESTED_SINT7"),
        (0x40001098, "HV_X64_MSR_NESTED_SINT8"),
        (0x40001099, "HV_X64_MSR_NESTED_SINT9"),
        (0x4000109A, "HV_X64_MSR_NESTED_SINT10"),
        (0x4000109B, "HV_X64_MSR_NESTED_SINT11"),
        (0x4000109C, "HV_X64_MSR_NESTED_SINT12"),
        (0x4000109D, "HV_X64_MSR_NESTED_SINT13"),
        (0x4000109E, "HV_X64_MSR_NESTED_SINT14"),
        (0x4000109F, "HV_X64_MSR_NESTED_SINT15"),
    ];

    #[test]
    fn appendix_c_numbers() {
        assert_eq!(ALL_SYNTHETIC_MSRS, APPENDIX_C);
        for &(msr, name) in APPENDIX_C {
            assert_eq!(msr_name(msr), Some(name));
        }
        assert_eq!(msr_name(0x4000_0004), None);
        assert_eq!(msr_name(0xC000_0080), None);
    }

    #[test]
    fn brief_spot_numbers() {
        assert_eq!(HV_X64_MSR_GUEST_OS_ID, 0x40000000);
        assert_eq!(HV_X64_MSR_HYPERCALL, 0x40000001);
        assert_eq!(HV_X64_MSR_VP_INDEX, 0x40000002);
        assert_eq!(HV_X64_MSR_VP_ASSIST_PAGE, 0x40000073);
        assert_eq!(HV_X64_MSR_SINT15, 0x4000009F);
        assert_eq!(HV_X64_MSR_STIMER3_COUNT, 0x400000B7);
        assert_eq!(HV_X64_MSR_CRASH_CTL, 0x40000105);
    }
}
