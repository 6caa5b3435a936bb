//! Model-specific registers the kernel uses, by number (AMD APM vol. 2).
use x86_64::registers::model_specific::Msr;

pub const IA32_APIC_BASE: u32 = 0x1B;
pub const EFER: u32 = 0xC000_0080;
pub const GS_BASE: u32 = 0xC000_0101;
pub const VM_HSAVE_PA: u32 = 0xC001_0117;

pub const EFER_SVME: u64 = 1 << 12;

pub fn read(msr: u32) -> u64 {
    // SAFETY: callers pass only architectural MSRs that exist on every CPU
    // Tessera runs on (SVM ones after CPUID has shown SVM).
    unsafe { Msr::new(msr).read() }
}

/// # Safety
/// The write must keep the kernel's invariants: for example EFER must keep
/// long mode and no-execute on, and GS_BASE must point at this CPU's data.
pub unsafe fn write(msr: u32, value: u64) {
    // SAFETY: the caller upholds the invariants the value affects.
    unsafe { Msr::new(msr).write(value) }
}
