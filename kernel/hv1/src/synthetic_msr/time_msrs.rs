//! The time MSRs' writes and the frequency reads (the pure models are in
//! [`time`](crate::time); this applies them to a partition's state).

use tlfs::msr::HvReferenceTscMsr;

use super::state::{Effect, MsrFault, MsrPolicy, PartitionMsrs, page_gpa};
use crate::time::frequencies;

/// RDMSR of `HV_X64_MSR_TSC_FREQUENCY` or `HV_X64_MSR_APIC_FREQUENCY`.
pub(super) const fn frequency(
    msr: u32,
    partition: &PartitionMsrs,
    policy: &MsrPolicy,
) -> Result<u64, MsrFault> {
    frequencies::read(msr, policy.privileges, &partition.frequencies())
}

/// TLFS md `timers.md` § Reference TSC Page Register: Enable (bit 0),
/// RsvdP (11:1, "guests should preserve the value of the reserved bits":
/// accepted and read back), GPA page number (63:12). "If the specified
/// base address is beyond the end of the partition's GPA space, the
/// reference TSC page will not be accessible to the guest": such a write
/// is accepted and stored, and nothing is mapped (**Choice**: no #GP, as
/// the text names none, unlike the hypercall page's). Each placement
/// publishes the values under a new `TscSequence`.
pub(super) fn write_reference_tsc(
    partition: &mut PartitionMsrs,
    policy: &MsrPolicy,
    value: u64,
) -> Effect {
    let new = HvReferenceTscMsr::from_bits(value);
    let placed = |msr: HvReferenceTscMsr| {
        (msr.enable() && policy.page_in_space(msr.gpn())).then(|| page_gpa(msr.gpn()))
    };
    let previous = placed(partition.reference_tsc_msr());
    let enable = placed(new);
    partition.set_reference_tsc(new, enable.is_some() && enable != previous);
    if enable == previous {
        Effect::None
    } else {
        Effect::ReferenceTscPage { enable, previous }
    }
}

/// WRMSR of `HV_X64_MSR_TSC_INVARIANT_CONTROL`
/// ([`TscInvariantControl::write`](crate::time::tsc_invariant::TscInvariantControl::write)).
pub(super) fn write_tsc_invariant(
    partition: &mut PartitionMsrs,
    policy: &MsrPolicy,
    value: u64,
) -> Result<Effect, MsrFault> {
    let was = partition.tsc_invariant().exposed();
    partition
        .tsc_invariant_mut()
        .write(policy.privileges, value)?;
    Ok(if partition.tsc_invariant().exposed() && !was {
        Effect::InvariantTscExposed
    } else {
        Effect::None
    })
}
