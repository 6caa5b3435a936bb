//! Per-CPU data, found through GS_BASE.
//!
//! Each CPU has its own record (index, APIC ID, stacks), GDT and TSS. Indices
//! are dense (0 is the bootstrap processor) and are what logs and later the
//! scheduler use; APIC IDs may have gaps.
use crate::arch::user_context::UserContext;
use crate::arch::{self, gdt, msr};
use crate::memory::stacks;
use alloc::boxed::Box;
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::VirtAddr;

/// Kernel stack: 64 KiB; exception stacks: 16 KiB each.
const KERNEL_STACK_PAGES: u64 = 16;
const EXCEPTION_STACK_PAGES: u64 = 4;

/// The layout is fixed: `user_entry.s` reads fields at these offsets.
#[repr(C)]
#[derive(Debug)]
pub struct PerCpu {
    /// Points at this record, so `gs:[0]` yields it without an MSR read.
    self_pointer: *const PerCpu,
    pub index: u32,
    pub apic_id: u32,
    /// Offset 16: where every entry from ring 3 starts its stack.
    pub kernel_stack_top: VirtAddr,
    /// Offset 24: the user stack pointer while `syscall_entry` saves it.
    user_rsp_scratch: AtomicU64,
    /// Offset 32: the UserContext of the thread this CPU runs (0: none).
    current_context: AtomicU64,
}

const _: () = {
    assert!(core::mem::offset_of!(PerCpu, kernel_stack_top) == 16);
    assert!(core::mem::offset_of!(PerCpu, user_rsp_scratch) == 24);
    assert!(core::mem::offset_of!(PerCpu, current_context) == 32);
};

impl PerCpu {
    /// Names the context `syscall_entry` saves into; only this CPU writes it.
    pub fn set_current_context(&self, context: *mut UserContext) {
        self.current_context
            .store(context as u64, Ordering::Relaxed);
    }

    /// The context of the thread this CPU runs.
    pub fn current_context(&self) -> *mut UserContext {
        self.current_context.load(Ordering::Relaxed) as *mut UserContext
    }
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
                kernel_top: VirtAddr::zero(),
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
        user_rsp_scratch: AtomicU64::new(0),
        current_context: AtomicU64::new(0),
    }));
    record.self_pointer = record;
    // SAFETY: GS_BASE now points at this CPU's own record, which lives for
    // as long as the CPU runs (it is leaked).
    unsafe { msr::write(msr::GS_BASE, record as *const PerCpu as u64) };
    gdt::load(gdt::CpuStacks {
        kernel_top: cpu.kernel_stack_top,
        ..cpu.exceptions
    });
    arch::syscall_msrs::init_cpu();
    arch::host_events::init_cpu();
    arch::exceptions::load();
}

/// The bootstrap processor keeps running on the boot stack; it gets the same
/// exception stacks as every other CPU.
pub fn init_bootstrap_processor() {
    arch::legacy_pic::disable();
    arch::apic::enable();
    let cpu = NewCpu::allocate(0, arch::apic::id());
    install(cpu);
}

/// This CPU's record, or `None` before `install` ran on it.
pub fn current() -> Option<&'static PerCpu> {
    // In the kernel GS_BASE is always the kernel's: every entry from ring 3
    // swaps it in first (user_entry.s, exceptions.s).
    let base = msr::read(msr::GS_BASE);
    if base == 0 {
        return None;
    }
    // SAFETY: a non-zero GS_BASE in kernel mode is only ever set by `install`,
    // to a leaked, never-freed record.
    Some(unsafe { &*(base as *const PerCpu) })
}

/// This CPU's record on a path that only runs once `install` ran on this
/// CPU (entries from ring 3 and the switches back to it): one GS-relative
/// load of the record's own address, where [`current`] reads GS_BASE
/// through an MSR and checks it. The system call and IPC paths take it
/// several times per round trip.
#[inline]
pub fn installed() -> &'static PerCpu {
    let record: *const PerCpu;
    // On these paths GS_BASE is this CPU's record (every entry from ring 3
    // swaps it in first), and the record's first field points at itself
    // (`install`); the load reads only that field.
    // SAFETY: by the argument just above.
    unsafe {
        core::arch::asm!(
            "mov {}, gs:[0]",
            out(reg) record,
            options(nostack, preserves_flags, readonly)
        );
    }
    // SAFETY: `install` leaked the record, so it lives as long as the CPU.
    unsafe { &*record }
}

/// This CPU's index; 0 before per-CPU data exists (only the bootstrap
/// processor runs then).
pub fn current_index() -> u32 {
    current().map_or(0, |cpu| cpu.index)
}
