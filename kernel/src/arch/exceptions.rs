//! Exceptions and interrupts. An exception in the kernel is a bug: it is
//! reported with the full register state and ends the run. An exception in
//! ring 3 is the component's fault (the scheduler stops the component); an
//! interrupt is the timer or a wakeup from another CPU.
use crate::{console, exit};
use core::arch::global_asm;
use spin::Once;
use x86_64::VirtAddr;
use x86_64::registers::control::Cr2;
use x86_64::structures::idt::{EntryOptions, InterruptDescriptorTable};

global_asm!(include_str!("exceptions.s"), options(att_syntax));

unsafe extern "C" {
    /// The 32 entry stubs of `exceptions.s`, by vector.
    static exception_stub_table: [u64; 32];
    /// The stubs of [`INTERRUPT_VECTORS`], in that order.
    static interrupt_stub_table: [u64; INTERRUPT_VECTORS.len()];
}

/// The local APIC timer: preemption.
pub const VECTOR_TIMER: u8 = 32;
/// Another CPU made a thread runnable here.
pub const VECTOR_WAKEUP: u8 = 33;
/// Another CPU took mappings away: drop cached translations (tlb.rs).
pub const VECTOR_FLUSH: u8 = 34;
/// A key was typed on the console (console_input.rs, through the I/O APIC).
pub const VECTOR_CONSOLE_INPUT: u8 = 35;
/// The APIC's spurious vector (apic.rs): needs no end-of-interrupt.
pub const VECTOR_SPURIOUS: u8 = 255;

/// Every interrupt vector the kernel takes, in the order of
/// `interrupt_stub_table` (exceptions.s), whose stub for each pushes that
/// vector.
const INTERRUPT_VECTORS: [u8; 5] = [
    VECTOR_TIMER,
    VECTOR_WAKEUP,
    VECTOR_FLUSH,
    VECTOR_CONSOLE_INPUT,
    VECTOR_SPURIOUS,
];

/// Interrupt stack table slots (1-based in the IDT, 0-based in the TSS).
pub const IST_DOUBLE_FAULT: u16 = 0;
pub const IST_NMI: u16 = 1;
pub const IST_MACHINE_CHECK: u16 = 2;

const NMI: usize = 2;
const DOUBLE_FAULT: usize = 8;
const PAGE_FAULT: u64 = 14;
const MACHINE_CHECK: usize = 18;

const NAMES: [&str; 32] = [
    "divide error (#DE)",
    "debug (#DB)",
    "non-maskable interrupt (NMI)",
    "breakpoint (#BP)",
    "overflow (#OF)",
    "bound range exceeded (#BR)",
    "invalid opcode (#UD)",
    "device not available (#NM)",
    "double fault (#DF)",
    "coprocessor segment overrun",
    "invalid TSS (#TS)",
    "segment not present (#NP)",
    "stack fault (#SS)",
    "general protection (#GP)",
    "page fault (#PF)",
    "reserved vector 15",
    "x87 floating point (#MF)",
    "alignment check (#AC)",
    "machine check (#MC)",
    "SIMD floating point (#XM)",
    "virtualization exception (#VE)",
    "control protection (#CP)",
    "reserved vector 22",
    "reserved vector 23",
    "reserved vector 24",
    "reserved vector 25",
    "reserved vector 26",
    "reserved vector 27",
    "hypervisor injection (#HV)",
    "VMM communication (#VC)",
    "security exception (#SX)",
    "reserved vector 31",
];

/// The stack `exceptions.s` builds; field order mirrors its pushes.
#[repr(C)]
#[derive(Debug)]
pub struct ExceptionFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

static IDT: Once<InterruptDescriptorTable> = Once::new();

/// The IDT entry of an architectural exception vector. The `x86_64` crate
/// types each entry by its handler signature, so entries are reached by name;
/// reserved vectors (9, 15, 22-27, 31) are never raised and stay absent.
fn entry_options(
    idt: &mut InterruptDescriptorTable,
    vector: usize,
    stub: VirtAddr,
) -> Option<&mut EntryOptions> {
    // SAFETY: every stub is a valid exception entry point that saves all
    // registers, passes the frame to `exception_handler` and ends in IRETQ.
    unsafe {
        Some(match vector {
            0 => idt.divide_error.set_handler_addr(stub),
            1 => idt.debug.set_handler_addr(stub),
            2 => idt.non_maskable_interrupt.set_handler_addr(stub),
            3 => idt.breakpoint.set_handler_addr(stub),
            4 => idt.overflow.set_handler_addr(stub),
            5 => idt.bound_range_exceeded.set_handler_addr(stub),
            6 => idt.invalid_opcode.set_handler_addr(stub),
            7 => idt.device_not_available.set_handler_addr(stub),
            8 => idt.double_fault.set_handler_addr(stub),
            10 => idt.invalid_tss.set_handler_addr(stub),
            11 => idt.segment_not_present.set_handler_addr(stub),
            12 => idt.stack_segment_fault.set_handler_addr(stub),
            13 => idt.general_protection_fault.set_handler_addr(stub),
            14 => idt.page_fault.set_handler_addr(stub),
            16 => idt.x87_floating_point.set_handler_addr(stub),
            17 => idt.alignment_check.set_handler_addr(stub),
            18 => idt.machine_check.set_handler_addr(stub),
            19 => idt.simd_floating_point.set_handler_addr(stub),
            20 => idt.virtualization.set_handler_addr(stub),
            21 => idt.cp_protection_exception.set_handler_addr(stub),
            28 => idt.hv_injection_exception.set_handler_addr(stub),
            29 => idt.vmm_communication_exception.set_handler_addr(stub),
            30 => idt.security_exception.set_handler_addr(stub),
            _ => return None,
        })
    }
}

fn build_idt() -> InterruptDescriptorTable {
    let mut idt = InterruptDescriptorTable::new();
    // SAFETY: reading an immutable table of addresses laid down by the assembler.
    let stubs = unsafe { &exception_stub_table };
    for (vector, &stub) in stubs.iter().enumerate() {
        let Some(options) = entry_options(&mut idt, vector, VirtAddr::new(stub)) else {
            continue;
        };
        let stack = match vector {
            DOUBLE_FAULT => Some(IST_DOUBLE_FAULT),
            NMI => Some(IST_NMI),
            MACHINE_CHECK => Some(IST_MACHINE_CHECK),
            _ => None,
        };
        if let Some(index) = stack {
            // SAFETY: every CPU's TSS sets up these IST stacks (`gdt.rs`)
            // before it loads the IDT, and no other vector uses them.
            unsafe { options.set_stack_index(index) };
        }
    }
    // SAFETY: as above, for the interrupt stubs.
    let stubs = unsafe { &interrupt_stub_table };
    for (vector, stub) in INTERRUPT_VECTORS.into_iter().zip(stubs) {
        // SAFETY: each stub is a valid entry point that saves all registers.
        unsafe { idt[vector].set_handler_addr(VirtAddr::new(*stub)) };
    }
    idt
}

/// The name of an architectural exception vector.
pub fn name(vector: u64) -> &'static str {
    NAMES
        .get(vector as usize)
        .copied()
        .unwrap_or("unknown exception")
}

/// Loads the shared IDT on this CPU (its TSS must already be loaded).
pub fn load() {
    IDT.call_once(build_idt).load();
}

#[unsafe(no_mangle)]
extern "C" fn exception_handler(frame: &mut ExceptionFrame) {
    if frame.vector == NMI as u64 {
        // First, before GS or any lock (`host_events`).
        super::host_events::nmi();
        return;
    }
    let from_user = frame.cs & 3 == 3;
    if frame.vector == MACHINE_CHECK as u64 {
        return machine_check(frame, from_user);
    }
    let cpu = crate::percpu::current_index() as usize;
    if frame.vector == u64::from(VECTOR_FLUSH) {
        // No lock and no scheduling: the CPU that sent it waits for this.
        crate::tlb::on_flush_interrupt(cpu);
        super::apic::end_of_interrupt();
        return;
    }
    if from_user {
        crate::tlb::entered_kernel(cpu);
    }
    match frame.vector {
        0..32 if from_user => crate::sched::user_exception(frame),
        0..32 => kernel_exception(frame),
        vector if vector == u64::from(VECTOR_SPURIOUS) => {}
        vector if vector == u64::from(VECTOR_CONSOLE_INPUT) => {
            crate::console_input::on_interrupt();
            // The scheduler signals the reader (console_input::deliver);
            // from ring 3 it runs now, elsewhere on the interrupted path's
            // next pass through it.
            if from_user {
                crate::sched::preempt(frame);
            }
        }
        vector => {
            if vector == u64::from(VECTOR_TIMER) {
                super::host_events::timer_tick();
                super::apic::timer_fired(crate::percpu::current_index() as usize);
            }
            super::apic::end_of_interrupt();
            if from_user {
                crate::sched::preempt(frame);
            }
        }
    }
}

/// A host machine check in the kernel or in ring 3 (`host_events`): the
/// interrupted program resumes if it can; a component that cannot is
/// stopped; the kernel that cannot ends the run.
fn machine_check(frame: &mut ExceptionFrame, from_user: bool) {
    use tessera_mca::{Action, Interrupted};
    let interrupted = if from_user {
        Interrupted::Component
    } else {
        Interrupted::Kernel
    };
    match super::host_events::machine_check(interrupted) {
        Action::Resume => {}
        Action::StopInterrupted => {
            crate::tlb::entered_kernel(crate::percpu::current_index() as usize);
            crate::sched::user_exception(frame)
        }
        Action::Fatal => kernel_exception(frame),
    }
}

fn kernel_exception(frame: &ExceptionFrame) -> ! {
    let name = name(frame.vector);
    console::emergency_line(format_args!(
        "kernel exception: {name}, vector {}, error code {:#x}",
        frame.vector, frame.error_code
    ));
    if frame.vector == PAGE_FAULT {
        console::emergency_line(format_args!(
            "  faulting address (cr2) {:#018x}",
            Cr2::read_raw()
        ));
    }
    let f = frame;
    console::emergency_line(format_args!(
        "  rip {:#018x} cs {:#06x} rflags {:#010x} rsp {:#018x} ss {:#06x}",
        f.rip, f.cs, f.rflags, f.rsp, f.ss
    ));
    console::emergency_line(format_args!(
        "  rax {:#018x} rbx {:#018x} rcx {:#018x} rdx {:#018x}",
        f.rax, f.rbx, f.rcx, f.rdx
    ));
    console::emergency_line(format_args!(
        "  rsi {:#018x} rdi {:#018x} rbp {:#018x} r8  {:#018x}",
        f.rsi, f.rdi, f.rbp, f.r8
    ));
    console::emergency_line(format_args!(
        "  r9  {:#018x} r10 {:#018x} r11 {:#018x} r12 {:#018x}",
        f.r9, f.r10, f.r11, f.r12
    ));
    console::emergency_line(format_args!(
        "  r13 {:#018x} r14 {:#018x} r15 {:#018x}",
        f.r13, f.r14, f.r15
    ));
    exit::fatal(format_args!("unhandled {name} in the kernel"))
}
