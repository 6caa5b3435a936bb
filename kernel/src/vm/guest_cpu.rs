//! The CPUID every guest sees (the host's, filtered: `tessera_vcpu::cpuid`)
//! and the state rules it implies, worked out once: the host's CPUID does
//! not change while the kernel runs.
use spin::Once;
use tessera_hv1::Hv1Config;
use tessera_vcpu::cpuid::{self, FixedLeaves};
use tessera_vcpu::guest_cpu::GuestCpu;

static GUEST_CPU: Once<GuestCpu> = Once::new();
static FIXED_LEAVES: Once<FixedLeaves> = Once::new();

/// What a guest's CPUID offers (`tessera_vcpu::guest_cpu`).
pub fn guest_cpu() -> &'static GuestCpu {
    GUEST_CPU.call_once(|| GuestCpu::from_cpuid(|leaf, subleaf| guest_cpuid(leaf, subleaf, 0)))
}

/// The CPUID leaf `leaf`/`subleaf` as VP `vp_index` of `partition` reads
/// it (routes aside): the hottest leaves from the table made once, the
/// hypervisor leaves from its Hv#1 configuration, the rest from the host
/// (with the invariant-TSC control applied, `time.rs`).
#[inline(always)]
pub fn partition_cpuid(
    partition: Option<&super::fast::FastPartition>,
    leaf: u32,
    subleaf: u32,
    vp_index: u32,
) -> [u32; 4] {
    if let Some(regs) = fixed_leaves().answer(leaf, vp_index) {
        return regs;
    }
    let hv1: Option<&Hv1Config> = partition.and_then(|p| p.hv1());
    if let Some(regs) = super::hv1::cpuid_leaf(hv1, leaf) {
        return regs;
    }
    let regs = guest_cpuid(leaf, subleaf, vp_index);
    match partition {
        Some(p) => p.time.adjust_cpuid(hv1, leaf, regs),
        None => regs,
    }
}

/// The hottest leaves' answers, worked out at the first call.
pub fn fixed_leaves() -> &'static FixedLeaves {
    FIXED_LEAVES.call_once(|| FixedLeaves::from_host(|leaf| host_cpuid(leaf, 0)))
}

/// The answers of [`FixedLeaves::LEAVES`] as one VP reads them, each
/// register zero-extended as it lands in the guest's: the lock-free path
/// copies them without working anything out.
pub type FixedCpuid = [[u64; 4]; 4];

/// [`FixedCpuid`] for VP `vp_index`.
pub fn fixed_cpuid_of(vp_index: u32) -> FixedCpuid {
    let fixed = fixed_leaves();
    core::array::from_fn(|index| fixed.answer_at(index, vp_index).map(u64::from))
}

/// The CPUID leaf `leaf`/`subleaf` as VP `vp_index` reads it (without a
/// partition's Hv#1 leaves and routes).
pub fn guest_cpuid(leaf: u32, subleaf: u32, vp_index: u32) -> [u32; 4] {
    cpuid::filter(leaf, subleaf, host_cpuid(leaf, subleaf), vp_index)
}

fn host_cpuid(leaf: u32, subleaf: u32) -> [u32; 4] {
    let host = raw_cpuid::native_cpuid::cpuid_count(leaf, subleaf);
    [host.eax, host.ebx, host.ecx, host.edx]
}
