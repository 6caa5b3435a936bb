//! What the smp guest does outside Rust's view of memory: the start page
//! of the application processors below 1 MiB, its own IDT (the framework's
//! exception gates, plus NMI and vectors 32-255 to `irq::record`), the
//! AP stacks, the APIC page and MSRs without the exception catcher (which
//! is the bootstrap processor's alone).
#![allow(unsafe_code)]

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU64, Ordering};

global_asm!(include_str!("trampoline.s"), options(att_syntax));
global_asm!(include_str!("stubs.s"), record = sym crate::irq::record, options(att_syntax));

unsafe extern "C" {
    safe static smp_trampoline_start: u8;
    safe static smp_trampoline_end: u8;
    /// Vector 32's entry; each is 16 bytes.
    safe static smp_irq_stubs: u8;
    safe static smp_nmi_stub: u8;
}

/// The start pages (SIPI vectors 0x08 and 0x09): free RAM below 1 MiB
/// (`tessera_guest_framework::layout`), identity mapped.
pub const START_PAGES: [u64; 2] = [0x8000, 0x9000];
/// The parameters' offsets in a start page (`trampoline.s`).
mod params {
    pub const GDT: u64 = 0xF00;
    pub const GDTR: u64 = 0xF20;
    pub const CR3: u64 = 0xF30;
    pub const STACK: u64 = 0xF38;
    pub const ENTRY: u64 = 0xF40;
    pub const IDTR: u64 = 0xF48;
    /// CR4, then EFER at 0xF5C.
    pub const CR4: u64 = 0xF58;
    pub const CR0: u64 = 0xF60;
    pub const SEEN_CS: u64 = 0xF70;
    pub const SEEN_CR0: u64 = 0xF74;
    pub const SEEN_EDX: u64 = 0xF78;
}

/// The most VPs the guest drives.
pub const MAX_VPS: usize = 4;
const STACK_SIZE: usize = 16 * 1024;

#[derive(Debug)]
#[repr(C, align(16))]
pub struct Stacks([[u8; STACK_SIZE]; MAX_VPS]);
/// VP i's stack is `AP_STACKS.0[i]` (VP 0 runs on the framework's). Only
/// ever touched through RSP.
pub static mut AP_STACKS: Stacks = Stacks([[0; STACK_SIZE]; MAX_VPS]);

/// The VP whose stack holds `rsp` (0 for any other stack: the BSP's).
pub fn vp_of_stack(rsp: u64) -> usize {
    let base = (&raw const AP_STACKS) as u64;
    let offset = rsp.wrapping_sub(base);
    let vp = (offset / STACK_SIZE as u64) as usize;
    if offset < (STACK_SIZE * MAX_VPS) as u64 {
        vp
    } else {
        0
    }
}

/// 256 gates; atomics so it is filled without `static mut`.
#[repr(C, align(16))]
struct Idt([AtomicU64; 512]);
static IDT: Idt = Idt([const { AtomicU64::new(0) }; 512]);

fn write_u64(address: u64, value: u64) {
    // SAFETY: callers pass addresses in the start pages (free RAM below
    // 1 MiB, identity mapped: no Rust object lives there).
    unsafe { (address as *mut u64).write_volatile(value) };
}

fn read_u32(address: u64) -> u32 {
    // SAFETY: as for `write_u64`.
    unsafe { (address as *const u32).read_volatile() }
}

/// What a start page's 16-bit code recorded: CS, CR0, EDX.
pub fn seen(page: u64) -> (u16, u32, u32) {
    (
        read_u32(page + params::SEEN_CS) as u16,
        read_u32(page + params::SEEN_CR0),
        read_u32(page + params::SEEN_EDX),
    )
}

/// Forgets what the start pages recorded.
pub fn clear_seen() {
    for page in START_PAGES {
        write_u64(page + params::SEEN_CS, 0);
        write_u64(page + params::SEEN_EDX, 0);
    }
}

fn sidt() -> (u16, u64) {
    let mut raw = [0u8; 10];
    // SAFETY: `sidt` stores 10 bytes into `raw`.
    unsafe { asm!("sidt [{}]", in(reg) raw.as_mut_ptr(), options(nostack, preserves_flags)) };
    let mut base = [0u8; 8];
    base.copy_from_slice(&raw[2..]);
    (
        u16::from_le_bytes([raw[0], raw[1]]),
        u64::from_le_bytes(base),
    )
}

fn set_gate(vector: usize, handler: u64, selector: u64) {
    let low = (handler & 0xFFFF) | selector << 16 | 0x8E << 40 | ((handler >> 16) & 0xFFFF) << 48;
    IDT.0[2 * vector].store(low, Ordering::Relaxed);
    IDT.0[2 * vector + 1].store(handler >> 32, Ordering::Relaxed);
}

/// Builds this guest's IDT (the framework's exception gates, NMI and
/// 32-255 here) and loads it.
pub fn install_idt(selector: u16) {
    let (_, framework) = sidt();
    for vector in 0..32 {
        // SAFETY: the framework's IDT, loaded, has its 32 exception gates.
        let words = unsafe { (framework as *const [u64; 2]).add(vector).read_volatile() };
        IDT.0[2 * vector].store(words[0], Ordering::Relaxed);
        IDT.0[2 * vector + 1].store(words[1], Ordering::Relaxed);
    }
    let selector = u64::from(selector);
    set_gate(2, (&raw const smp_nmi_stub) as u64, selector);
    let stubs = (&raw const smp_irq_stubs) as u64;
    for vector in 32..256 {
        set_gate(vector, stubs + (vector as u64 - 32) * 16, selector);
    }
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let pointer = Pointer {
        limit: 4095,
        base: (&raw const IDT) as u64,
    };
    // SAFETY: a complete IDT whose gates lead to handlers that return.
    unsafe { asm!("lidt [{}]", in(reg) &raw const pointer, options(nostack, preserves_flags)) };
}

/// Copies the start code into both start pages and fills in the
/// parameters every AP shares: the GDT, this CPU's CR3, CR4, EFER and
/// CR0, the IDT and the entry.
pub fn prepare_start_pages(entry: extern "sysv64" fn() -> !) {
    let start = (&raw const smp_trampoline_start) as u64;
    let length = (&raw const smp_trampoline_end) as u64 - start;
    let (cr0, cr3, cr4): (u64, u64, u64);
    // SAFETY: reading control registers has no effect.
    unsafe {
        asm!("mov {}, cr0", out(reg) cr0, options(nomem, nostack, preserves_flags));
        asm!("mov {}, cr3", out(reg) cr3, options(nomem, nostack, preserves_flags));
        asm!("mov {}, cr4", out(reg) cr4, options(nomem, nostack, preserves_flags));
    }
    let efer = rdmsr(0xC000_0080) & !(1 << 10);
    let (idt_limit, idt_base) = sidt();
    for page in START_PAGES {
        // SAFETY: the code (under 4 KiB: `length` is checked) goes to a
        // start page, free RAM that no Rust object overlaps.
        unsafe {
            assert!(length < params::GDT);
            core::ptr::copy_nonoverlapping(start as *const u8, page as *mut u8, length as usize);
        }
        let gdt = START_PAGES[0] + params::GDT;
        write_u64(page + params::GDT, 0);
        write_u64(page + params::GDT + 8, 0x00AF_9A00_0000_FFFF);
        write_u64(page + params::GDT + 16, 0x00CF_9200_0000_FFFF);
        write_u64(page + params::GDTR, 23 | gdt << 16);
        write_u64(page + params::CR3, cr3);
        write_u64(page + params::ENTRY, entry as usize as u64);
        write_u64(page + params::IDTR, u64::from(idt_limit) | idt_base << 16);
        write_u64(page + params::IDTR + 8, idt_base >> 48);
        write_u64(
            page + params::CR4,
            (cr4 & 0xFFFF_FFFF) | (efer & 0xFFFF_FFFF) << 32,
        );
        write_u64(page + params::CR0, cr0 & 0xFFFF_FFFF);
    }
}

/// The stack the next AP to start takes: VP `vp`'s.
pub fn set_next_stack(vp: usize) {
    let top = (&raw const AP_STACKS) as u64 + ((vp + 1) * STACK_SIZE) as u64;
    write_u64(START_PAGES[0] + params::STACK, top);
}

/// RDMSR without the exception catcher (for the APs).
pub fn rdmsr(msr: u32) -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: the guest's own architectural MSRs.
    unsafe {
        asm!("rdmsr", in("ecx") msr, out("eax") low, out("edx") high,
             options(nostack, preserves_flags));
    }
    u64::from(high) << 32 | u64::from(low)
}

/// WRMSR without the exception catcher (for the APs).
pub fn wrmsr(msr: u32, value: u64) {
    // SAFETY: the guest's own APIC and architectural MSRs.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32,
             options(nostack, preserves_flags));
    }
}

/// The xAPIC page, mapped by the BSP (`DeviceWindow::map`) in the page
/// tables every VP shares.
pub const APIC_PAGE: u64 = 0xFEE0_0000;

/// A 32-bit store to the xAPIC page (one `mov`, as the kernel decodes).
pub fn apic_write(offset: u64, value: u32) {
    // SAFETY: the mapped xAPIC page, outside RAM: no Rust object there.
    unsafe { ((APIC_PAGE + offset) as *mut u32).write_volatile(value) };
}

/// A 32-bit load from the xAPIC page.
pub fn apic_read(offset: u64) -> u32 {
    // SAFETY: as for `apic_write`.
    unsafe { ((APIC_PAGE + offset) as *const u32).read_volatile() }
}

/// `sti; hlt` (the STI shadow covers the HLT: an interrupt that came
/// after the caller's last look wakes it).
pub fn sti_hlt() {
    // SAFETY: the IDT is installed; handlers return.
    unsafe { asm!("sti", "hlt", options(nostack)) };
}

/// `cli`.
pub fn cli() {
    // SAFETY: masks interrupts.
    unsafe { asm!("cli", options(nostack)) };
}

/// `sti`.
pub fn sti() {
    // SAFETY: the IDT is installed; handlers return.
    unsafe { asm!("sti", options(nostack)) };
}

/// The reference TSC page's time at `page` (TLFS `timers.md` § Partition
/// Reference TSC Mechanism: `((tsc * TscScale) >> 64) + TscOffset`, read
/// under `TscSequence`), or `None` for sequence 0 (use the MSR).
pub fn reference_time(page: u64) -> Option<u64> {
    loop {
        // SAFETY: the overlay page the guest enabled at `page`, free RAM
        // below 1 MiB that no Rust object overlaps; read-only here.
        let read = |offset: u64| unsafe { ((page + offset) as *const u64).read_volatile() };
        let sequence = read(0) as u32;
        if sequence == 0 {
            return None;
        }
        let (scale, offset) = (read(8), read(16));
        let tsc = tessera_guest_framework::cpu::rdtsc();
        let time = ((u128::from(tsc) * u128::from(scale)) >> 64) as u64;
        if read(0) as u32 == sequence {
            return Some(time.wrapping_add(offset));
        }
    }
}
