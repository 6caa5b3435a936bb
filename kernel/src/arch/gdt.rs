//! Each CPU's GDT and TSS.
//!
//! The selector order is fixed for SYSCALL/SYSRET (AMD APM vol. 2, 6.1.1):
//! user data must sit 8 bytes below user code, so ring 3 can be added without
//! renumbering.
use alloc::boxed::Box;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

use super::exceptions::{IST_DOUBLE_FAULT, IST_MACHINE_CHECK, IST_NMI};

/// The stacks a CPU's TSS points at.
#[derive(Clone, Copy, Debug)]
pub struct CpuStacks {
    /// Where the CPU switches to on an interrupt or exception from ring 3.
    pub kernel_top: VirtAddr,
    pub double_fault_top: VirtAddr,
    pub nmi_top: VirtAddr,
    pub machine_check_top: VirtAddr,
}

/// Builds this CPU's GDT and TSS (they live as long as the CPU runs) and
/// loads them, with the kernel's code and data selectors.
pub fn load(stacks: CpuStacks) {
    let mut tss = TaskStateSegment::new();
    tss.privilege_stack_table[0] = stacks.kernel_top;
    tss.interrupt_stack_table[usize::from(IST_DOUBLE_FAULT)] = stacks.double_fault_top;
    tss.interrupt_stack_table[usize::from(IST_NMI)] = stacks.nmi_top;
    tss.interrupt_stack_table[usize::from(IST_MACHINE_CHECK)] = stacks.machine_check_top;
    let tss: &'static TaskStateSegment = Box::leak(Box::new(tss));

    let mut gdt = GlobalDescriptorTable::new();
    let kernel_code = gdt.append(Descriptor::kernel_code_segment());
    let kernel_data = gdt.append(Descriptor::kernel_data_segment());
    gdt.append(Descriptor::user_data_segment());
    gdt.append(Descriptor::user_code_segment());
    let tss_selector = gdt.append(Descriptor::tss_segment(tss));
    let gdt: &'static GlobalDescriptorTable = Box::leak(Box::new(gdt));
    gdt.load();
    reload_segments(kernel_code, kernel_data, tss_selector);
}

fn reload_segments(code: SegmentSelector, data: SegmentSelector, tss: SegmentSelector) {
    // SAFETY: the selectors index descriptors of the GDT just loaded, with
    // the kernel's privilege level; the TSS descriptor is fresh (not busy).
    unsafe {
        CS::set_reg(code);
        SS::set_reg(data);
        DS::set_reg(data);
        ES::set_reg(data);
        load_tss(tss);
    }
}
