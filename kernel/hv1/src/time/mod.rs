//! Time as the TLFS gives it to a partition, beyond the reference counter
//! MSR ([`synthetic_msr`](crate::synthetic_msr)): the reference TSC page,
//! the TSC and APIC frequency MSRs, and the invariant-TSC control.
//!
//! Pure models; [`synthetic_msr`](crate::synthetic_msr) applies them to a
//! partition's MSRs (`hv-time`, `hv-frequencies`, `hv-tsc-invariant`) and
//! the kernel places the page and answers CPUID from them.
//!
//! | module | concept |
//! | --- | --- |
//! | [`reference_tsc`] | `TscScale`, `TscOffset`, `TscSequence` from a TSC frequency; the update protocol |
//! | [`frequencies`] | `HV_X64_MSR_TSC_FREQUENCY`, `HV_X64_MSR_APIC_FREQUENCY` |
//! | [`tsc_invariant`] | `HV_X64_MSR_TSC_INVARIANT_CONTROL` and the CPUID bit it unlocks |

pub mod frequencies;
pub mod reference_tsc;
pub mod tsc_invariant;
