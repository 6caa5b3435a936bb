//! The local APIC in xAPIC mode (QEMU's TCG in Debian 12 has no x2APIC),
//! reached through the physical map. Only what starting CPUs needs.
use super::msr;
use crate::memory;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

const APIC_BASE_ENABLE: u64 = 1 << 11;
const APIC_BASE_ADDRESS_MASK: u64 = 0x000F_FFFF_FFFF_F000;

const REG_ID: usize = 0x20;
const REG_SPURIOUS: usize = 0xF0;
const REG_EOI: usize = 0xB0;
const REG_ICR_LOW: usize = 0x300;
const REG_LVT_TIMER: usize = 0x320;
const REG_TIMER_INITIAL: usize = 0x380;
const REG_TIMER_CURRENT: usize = 0x390;
const REG_TIMER_DIVIDE: usize = 0x3E0;
const TIMER_PERIODIC: u32 = 1 << 17;
const TIMER_MASKED: u32 = 1 << 16;
/// Divide the bus clock by 16.
const TIMER_DIVIDE_16: u32 = 0b0011;
const REG_ICR_HIGH: usize = 0x310;

const SPURIOUS_ENABLE: u32 = 1 << 8;
const SPURIOUS_VECTOR: u32 = 0xFF;
const ICR_DELIVERY_PENDING: u32 = 1 << 12;
const ICR_LEVEL_ASSERT: u32 = 1 << 14;
const ICR_INIT: u32 = 0b101 << 8;
const ICR_STARTUP: u32 = 0b110 << 8;

fn register(offset: usize) -> *mut u32 {
    let base = msr::read(msr::IA32_APIC_BASE) & APIC_BASE_ADDRESS_MASK;
    memory::physical_to_virtual(base + offset as u64).as_mut_ptr()
}

fn read(offset: usize) -> u32 {
    // SAFETY: the physical map covers the APIC page, and the register is a
    // naturally aligned 32-bit MMIO register.
    unsafe { register(offset).read_volatile() }
}

fn write(offset: usize, value: u32) {
    // SAFETY: as for `read`; writes to ID/SVR/ICR affect only this CPU's APIC
    // or start the CPU it names.
    unsafe { register(offset).write_volatile(value) }
}

/// Makes sure this CPU's APIC is on (firmware may leave it software-disabled).
pub fn enable() {
    let base = msr::read(msr::IA32_APIC_BASE);
    if base & APIC_BASE_ENABLE == 0 {
        // SAFETY: setting the global enable bit keeps the base address.
        unsafe { msr::write(msr::IA32_APIC_BASE, base | APIC_BASE_ENABLE) };
    }
    write(REG_SPURIOUS, SPURIOUS_ENABLE | SPURIOUS_VECTOR);
}

pub fn id() -> u32 {
    read(REG_ID) >> 24
}

fn send_ipi(apic_id: u32, command: u32) {
    write(REG_ICR_HIGH, apic_id << 24);
    write(REG_ICR_LOW, command);
    while read(REG_ICR_LOW) & ICR_DELIVERY_PENDING != 0 {
        core::hint::spin_loop();
    }
}

pub fn send_init(apic_id: u32) {
    send_ipi(apic_id, ICR_INIT | ICR_LEVEL_ASSERT);
}

/// Sends an NMI to every CPU but this one (destination shorthand "all
/// excluding self", delivery mode NMI).
pub fn send_nmi_to_others() {
    const ALL_EXCLUDING_SELF: u32 = 0b11 << 18;
    const NMI: u32 = 0b100 << 8;
    send_ipi(0, ALL_EXCLUDING_SELF | NMI | ICR_LEVEL_ASSERT);
}

/// Sends a fixed interrupt with `vector` to the CPU with `apic_id`.
pub fn send_fixed(apic_id: u32, vector: u8) {
    send_ipi(apic_id, u32::from(vector));
}

pub fn end_of_interrupt() {
    write(REG_EOI, 0);
}

/// Starts the periodic timer on this CPU, raising `vector` every
/// `period_us` microseconds; the rate is measured against the TSC once.
pub fn start_periodic_timer(vector: u8, period_us: u64) {
    write(REG_TIMER_DIVIDE, TIMER_DIVIDE_16);
    write(REG_LVT_TIMER, TIMER_MASKED | u32::from(vector));
    write(REG_TIMER_INITIAL, u32::MAX);
    super::tsc::delay_microseconds(1000);
    let per_ms = u64::from(u32::MAX - read(REG_TIMER_CURRENT)).max(1);
    let initial = (per_ms * period_us / 1000).clamp(1, u64::from(u32::MAX)) as u32;
    write(REG_LVT_TIMER, TIMER_PERIODIC | u32::from(vector));
    write(REG_TIMER_INITIAL, initial);
    COUNTS_PER_MS.store(per_ms, Ordering::Relaxed);
    SLICE_COUNT.store(initial, Ordering::Relaxed);
}

/// Timer counts per millisecond at the divider `start_periodic_timer` set
/// (every CPU measures the same bus clock).
static COUNTS_PER_MS: AtomicU64 = AtomicU64::new(0);
/// The initial count of one time slice.
static SLICE_COUNT: AtomicU32 = AtomicU32::new(0);
/// Per CPU: the current period was cut short by `interrupt_by`.
static SHORTENED: [AtomicBool; crate::tlb::MAX_CPUS] =
    [const { AtomicBool::new(false) }; crate::tlb::MAX_CPUS];

/// Makes this CPU's timer interrupt come no later than host TSC
/// `deadline` (a guest's APIC timer): the running period is cut short if
/// it would end later; the next timer interrupt restores the time slice
/// (`timer_fired`). An interrupt that comes a little early does no harm:
/// whoever asked compares with the TSC and asks again.
pub fn interrupt_by(cpu: usize, deadline: u64) {
    let per_ms = COUNTS_PER_MS.load(Ordering::Relaxed);
    if per_ms == 0 {
        return;
    }
    let ticks = deadline.saturating_sub(super::tsc::read());
    let per_us = super::tsc::ticks_per_microsecond().max(1);
    let counts =
        u64::from(u32::MAX).min(ticks.div_ceil(per_us).saturating_mul(per_ms).div_ceil(1000));
    if counts >= u64::from(read(REG_TIMER_CURRENT)) {
        return;
    }
    write(REG_TIMER_INITIAL, (counts as u32).max(1));
    SHORTENED[cpu].store(true, Ordering::Relaxed);
}

/// A timer interrupt on `cpu`: a period `interrupt_by` cut short is
/// followed by full time slices again.
pub fn timer_fired(cpu: usize) {
    if SHORTENED[cpu].swap(false, Ordering::Relaxed) {
        write(REG_TIMER_INITIAL, SLICE_COUNT.load(Ordering::Relaxed));
    }
}

/// Starts the CPU at real-mode address `vector_page << 12`.
pub fn send_startup(apic_id: u32, vector_page: u8) {
    send_ipi(
        apic_id,
        ICR_STARTUP | ICR_LEVEL_ASSERT | u32::from(vector_page),
    );
}
