//! The SYSCALL instruction's setup on each CPU (AMD APM vol. 2, 6.1.1).
use super::msr;
use super::user_context::syscall_entry;

const MSR_STAR: u32 = 0xC000_0081;
const MSR_LSTAR: u32 = 0xC000_0082;
const MSR_SFMASK: u32 = 0xC000_0084;
const EFER_SCE: u64 = 1 << 0;
/// Cleared on entry: TF, IF, DF, IOPL, NT, AC — the kernel runs with
/// interrupts off and a known direction flag.
const SFMASK: u64 = 0x0004_7700;
/// SYSCALL loads CS = 0x08 (SS 0x10); SYSRET would load CS = 0x10 + 16 and
/// SS = 0x10 + 8 with RPL 3, matching the GDT (gdt.rs).
const STAR: u64 = (0x10 << 48) | (0x08 << 32);

pub fn init_cpu() {
    // SAFETY: STAR/LSTAR/SFMASK only take effect on SYSCALL, whose entry
    // point is `syscall_entry`; setting EFER.SCE keeps LME, NXE and SVME.
    unsafe {
        msr::write(MSR_STAR, STAR);
        msr::write(MSR_LSTAR, syscall_entry as *const () as u64);
        msr::write(MSR_SFMASK, SFMASK);
        msr::write(msr::EFER, msr::read(msr::EFER) | EFER_SCE);
    }
}
