//! The application processors' side: where a start-up IPI leads them
//! (`entry`, by way of `trampoline.s`), and the loop in which they wait
//! in HLT for commands from the bootstrap processor. A command is written
//! to the AP's mailbox and followed by a doorbell IPI (vector
//! [`DOORBELL`]): an AP only wakes from HLT by an interrupt, so a lost
//! wake-up in the kernel shows as a command that never completes.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::apic;
use crate::hw::{self, MAX_VPS};

/// The vector that wakes an AP for a command.
pub const DOORBELL: u8 = 0x30;

/// What an AP reported when it arrived, per VP.
#[derive(Debug)]
pub struct Arrival {
    /// How many times it came through the start page.
    pub count: AtomicU32,
    /// `IA32_APIC_BASE` when it came.
    pub apic_base: AtomicU64,
    /// The SVR when it came (before it enabled its APIC).
    pub svr: AtomicU32,
}

pub static ARRIVALS: [Arrival; MAX_VPS] = [const {
    Arrival {
        count: AtomicU32::new(0),
        apic_base: AtomicU64::new(0),
        svr: AtomicU32::new(0),
    }
}; MAX_VPS];

/// Per AP: the command (sequence number << 8 | operation), its argument,
/// the last sequence number done, and how often it woke from HLT.
static COMMAND: [AtomicU64; MAX_VPS] = [const { AtomicU64::new(0) }; MAX_VPS];
static ARGUMENT: [AtomicU64; MAX_VPS] = [const { AtomicU64::new(0) }; MAX_VPS];
static DONE: [AtomicU64; MAX_VPS] = [const { AtomicU64::new(0) }; MAX_VPS];
static STARTED: [AtomicU64; MAX_VPS] = [const { AtomicU64::new(0) }; MAX_VPS];
pub static WAKES: [AtomicU64; MAX_VPS] = [const { AtomicU64::new(0) }; MAX_VPS];
pub static HALTED: [AtomicU32; MAX_VPS] = [const { AtomicU32::new(0) }; MAX_VPS];

/// What an AP does for the bootstrap processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Operation {
    /// Write the ICR: low half in the argument's bits 31:0, destination
    /// in 63:32.
    SendIpi = 1,
    /// xAPIC: DFR from bits 63:32, LDR from 31:0.
    SetLogical = 2,
    /// Move to x2APIC mode.
    ToX2apic = 3,
    /// Spin in the guest, interrupts on, until [`stop_spinning`].
    Spin = 4,
    /// Read the reference time, the TSC page's (at the argument) then
    /// `TIME_REF_COUNT`, into [`TIMES`].
    ReadTime = 5,
    /// Set the TPR to the argument's bits 7:0.
    SetTpr = 6,
    /// Read the port in the argument's bits 15:0 (IN AL), timing it with
    /// the TSC into [`PORT_TICKS`].
    TimePortRead = 7,
}

/// Per VP: the TSC distance across its last [`Operation::TimePortRead`].
pub static PORT_TICKS: [AtomicU64; MAX_VPS] = [const { AtomicU64::new(0) }; MAX_VPS];

/// Per VP: the reference TSC page's time (0 for sequence 0) and
/// `TIME_REF_COUNT` read just after it, by [`Operation::ReadTime`].
pub static TIMES: [[AtomicU64; 2]; MAX_VPS] = [const { [const { AtomicU64::new(0) }; 2] }; MAX_VPS];

/// [`Operation::ReadTime`] on this VP.
pub fn read_time(me: usize, page: u64) {
    let page_time = hw::reference_time(page).unwrap_or(0);
    let counter = hw::rdmsr(0x4000_0020);
    TIMES[me][0].store(page_time, Ordering::SeqCst);
    TIMES[me][1].store(counter, Ordering::SeqCst);
}

/// Set while APs given [`Operation::Spin`] are to spin.
static SPINNING: AtomicU32 = AtomicU32::new(0);

/// Ends every [`Operation::Spin`].
pub fn stop_spinning() {
    SPINNING.store(0, Ordering::SeqCst);
}

/// This VP's index (its initial APIC ID, CPUID 1 EBX\[31:24\]).
pub fn vp_index() -> usize {
    let ebx = tessera_guest_framework::cpu::cpuid(1, 0).ebx;
    (ebx >> 24) as usize
}

/// Where a start-up IPI leads (from `trampoline.s`, in long mode on the
/// AP's own stack).
pub extern "sysv64" fn entry() -> ! {
    let me = vp_index().min(MAX_VPS - 1);
    let base = hw::rdmsr(0x1B);
    let x2apic = base & 1 << 10 != 0;
    let arrival = &ARRIVALS[me];
    arrival.apic_base.store(base, Ordering::SeqCst);
    arrival
        .svr
        .store(apic::read(apic::SVR, x2apic), Ordering::SeqCst);
    // Software-enable the APIC (INIT left it disabled), spurious 0xFF.
    apic::write(apic::SVR, 0x1FF, x2apic);
    apic::write(apic::TPR, 0, x2apic);
    // Commands sent before this start are not this start's.
    DONE[me].store(COMMAND[me].load(Ordering::SeqCst) >> 8, Ordering::SeqCst);
    arrival.count.fetch_add(1, Ordering::SeqCst);
    serve(me)
}

fn serve(me: usize) -> ! {
    loop {
        hw::cli();
        let command = COMMAND[me].load(Ordering::SeqCst);
        let sequence = command >> 8;
        if sequence != DONE[me].load(Ordering::SeqCst) {
            hw::sti();
            STARTED[me].store(sequence, Ordering::SeqCst);
            run(command & 0xFF, ARGUMENT[me].load(Ordering::SeqCst));
            DONE[me].store(sequence, Ordering::SeqCst);
            continue;
        }
        HALTED[me].store(1, Ordering::SeqCst);
        hw::sti_hlt();
        HALTED[me].store(0, Ordering::SeqCst);
        WAKES[me].fetch_add(1, Ordering::SeqCst);
    }
}

fn run(operation: u64, argument: u64) {
    let x2apic = hw::rdmsr(0x1B) & 1 << 10 != 0;
    match operation {
        1 => apic::send(argument as u32, (argument >> 32) as u32, x2apic),
        2 => {
            apic::write(apic::DFR, (argument >> 32) as u32, false);
            apic::write(apic::LDR, argument as u32, false);
        }
        3 => hw::wrmsr(0x1B, hw::rdmsr(0x1B) | 1 << 10),
        5 => read_time(vp_index().min(MAX_VPS - 1), argument),
        6 => apic::write(apic::TPR, argument as u32 & 0xFF, x2apic),
        7 => {
            let start = tessera_guest_framework::cpu::rdtsc();
            let _ = tessera_guest_framework::port::inb(argument as u16);
            let ticks = tessera_guest_framework::cpu::rdtsc().wrapping_sub(start);
            PORT_TICKS[vp_index().min(MAX_VPS - 1)].store(ticks, Ordering::SeqCst);
        }
        4 => {
            while SPINNING.load(Ordering::SeqCst) != 0 {
                core::hint::spin_loop();
            }
        }
        _ => {}
    }
}

/// Hands AP `vp` a command and rings its doorbell; `true` once it is done
/// (`false` if it did not finish within the wait).
pub fn command(vp: usize, operation: Operation, argument: u64) -> bool {
    let sequence = post(vp, operation, argument);
    crate::wait_for(|| DONE[vp].load(Ordering::SeqCst) == sequence)
}

/// [`command`] without waiting for it: its sequence number.
pub fn post(vp: usize, operation: Operation, argument: u64) -> u64 {
    if operation == Operation::Spin {
        SPINNING.store(1, Ordering::SeqCst);
    }
    let sequence = (COMMAND[vp].load(Ordering::SeqCst) >> 8) + 1;
    ARGUMENT[vp].store(argument, Ordering::SeqCst);
    COMMAND[vp].store(sequence << 8 | operation as u64, Ordering::SeqCst);
    apic::send(u32::from(DOORBELL), vp as u32, irq_x2apic());
    sequence
}

/// Whether AP `vp` is running the command with sequence number `sequence`
/// (it took it up and has not finished it).
pub fn busy_with(vp: usize, sequence: u64) -> bool {
    STARTED[vp].load(Ordering::SeqCst) == sequence && DONE[vp].load(Ordering::SeqCst) != sequence
}

fn irq_x2apic() -> bool {
    crate::irq::x2apic()
}
