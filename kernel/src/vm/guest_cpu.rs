//! The CPUID every guest sees (the host's, filtered: `tessera_vcpu::cpuid`)
//! and the state rules it implies, worked out once: the host's CPUID does
//! not change while the kernel runs.
use spin::Once;
use tessera_vcpu::cpuid;
use tessera_vcpu::guest_cpu::GuestCpu;

static GUEST_CPU: Once<GuestCpu> = Once::new();

/// What a guest's CPUID offers (`tessera_vcpu::guest_cpu`).
pub fn guest_cpu() -> &'static GuestCpu {
    GUEST_CPU.call_once(|| GuestCpu::from_cpuid(|leaf, subleaf| guest_cpuid(leaf, subleaf, 0)))
}

/// The CPUID leaf `leaf`/`subleaf` as VP `vp_index` reads it (without a
/// partition's Hv#1 leaves and routes).
pub fn guest_cpuid(leaf: u32, subleaf: u32, vp_index: u32) -> [u32; 4] {
    let host = raw_cpuid::native_cpuid::cpuid_count(leaf, subleaf);
    cpuid::filter(
        leaf,
        subleaf,
        [host.eax, host.ebx, host.ecx, host.edx],
        vp_index,
    )
}
