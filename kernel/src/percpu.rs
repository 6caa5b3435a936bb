//! Per-CPU data, found through GS_BASE.
//!
//! Each CPU has its own record (index, APIC ID, stacks), GDT and TSS. Indices
//! are dense (0 is the bootstrap processor) and are what logs and later the
//! scheduler use; APIC IDs may have gaps.
use crate::arch::{self, gdt, msr};
use crate::memory::stacks;
use alloc::boxed::Box;
use x86_64::VirtAddr;

/// Kernel stack: 64 KiB; exception stacks: 16 KiB each.
const KERNEL_STACK_PAGES: u64 = 16;
const EXCEPTION_STACK_PAGES: u64 = 4;

#[repr(C)]
#[derive(Debug)]
pub struct PerCpu {
    /// Points at this record, so `gs:[0]` yields it without an MSR read.
    self_pointer: *const PerCpu,
    pub index: u32,
    pub apic_id: u32,
    pub kernel_stack_top: VirtAddr,
}

/// The stacks a new CPU needs, allocated by the CPU that starts it.
#[derive(Clone, Copy, Debug)]
pub struct NewCpu {
    pub index: u32,
    pub apic_id: u32,
    pub kernel_stack_top: VirtAddr,
    exceptions: gdt::CpuStacks,
}

impl NewCpu {
    pub fn allocate(index: u32, apic_id: u32) -> Self {
        NewCpu {
            index,
            apic_id,
            kernel_stack_top: stacks::allocate(KERNEL_STACK_PAGES),
            exceptions: gdt::CpuStacks {
                double_fault_top: stacks::allocate(EXCEPTION_STACK_PAGES),
                nmi_top: stacks::allocate(EXCEPTION_STACK_PAGES),
                machine_check_top: stacks::allocate(EXCEPTION_STACK_PAGES),
            },
        }
    }
}

/// Runs on the CPU being set up: its record, GS_BASE, GDT, TSS and IDT.
pub fn install(cpu: NewCpu) {
    let record = Box::leak(Box::new(PerCpu {
        self_pointer: core::ptr::null(),
        index: cpu.index,
        apic_id: cpu.apic_id,
        kernel_stack_top: cpu.kernel_stack_top,
    }));
    record.self_pointer = record;
    // SAFETY: GS_BASE now points at this CPU's own record, which lives for
    // as long as the CPU runs (it is leaked).
    unsafe { msr::write(msr::GS_BASE, record as *const PerCpu as u64) };
    gdt::load(cpu.exceptions);
    arch::exceptions::load();
}

/// The bootstrap processor keeps running on the boot stack; it gets the same
/// exception stacks as every other CPU.
pub fn init_bootstrap_processor() {
    arch::apic::enable();
    let cpu = NewCpu::allocate(0, arch::apic::id());
    install(cpu);
}

/// This CPU's record, or `None` before `install` ran on it.
pub fn current() -> Option<&'static PerCpu> {
    let base = msr::read(msr::GS_BASE);
    if base == 0 {
        return None;
    }
    // SAFETY: a non-zero GS_BASE in kernel mode is only ever set by `install`,
    // to a leaked, never-freed record.
    Some(unsafe { &*(base as *const PerCpu) })
}

/// This CPU's index; 0 before per-CPU data exists (only the bootstrap
/// processor runs then).
pub fn current_index() -> u32 {
    current().map_or(0, |cpu| cpu.index)
}
