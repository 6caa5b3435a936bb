//! Time as the TLFS gives it to a partition, beyond the reference counter
//! MSR ([`synthetic_msr`](crate::synthetic_msr)): the reference TSC page,
//! the TSC and APIC frequency MSRs, and the invariant-TSC control.
//!
//! These are pure models the kernel will call when it wires `hv-time`'s
//! page, `hv-frequencies` and `hv-tsc-invariant` in; until then the
//! manifest refuses those names ([`Hv1Config::from_features`](crate::Hv1Config::from_features)).
//!
//! | module | concept |
//! | --- | --- |
//! | [`reference_tsc`] | `TscScale`, `TscOffset`, `TscSequence` from a TSC frequency; the update protocol |
//! | [`frequencies`] | `HV_X64_MSR_TSC_FREQUENCY`, `HV_X64_MSR_APIC_FREQUENCY` |
//! | [`tsc_invariant`] | `HV_X64_MSR_TSC_INVARIANT_CONTROL` and the CPUID bit it unlocks |

pub mod frequencies;
pub mod reference_tsc;
pub mod tsc_invariant;
