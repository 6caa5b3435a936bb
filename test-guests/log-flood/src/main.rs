//! `log-flood`: writes `HV_X64_MSR_GUEST_OS_ID` [`WRITES`] times with
//! changing values. The kernel logs a guest OS ID it is given, and at
//! 6a784cc it logged every one, with the kernel lock held, waiting for the
//! UART (issue 9 finding 6: 2 000 writes cost 9× the time of silent ones).
//! Now a partition's guest has a budget of lines, and the console drains
//! outside the lock; the system test counts the lines.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use tessera_guest_framework::{Suite, cpu, ensure_eq, failure};

tessera_guest_framework::entry!(main);

const GUEST_OS_ID: u32 = 0x4000_0000;
/// How many writes.
const WRITES: u64 = 5000;
/// An open-source OS ID (TLFS md `hypercall-interface.md` § Guest OS
/// Identity): bit 63 set; the build number varies.
const OPEN_SOURCE: u64 = 1 << 63;

fn main(suite: &mut Suite) {
    suite.check("5000 writes of HV_X64_MSR_GUEST_OS_ID each take", || {
        for build in 1..=WRITES {
            cpu::wrmsr(GUEST_OS_ID, OPEN_SOURCE | build).map_err(|c| failure!("{c}"))?;
        }
        let id = cpu::rdmsr(GUEST_OS_ID).map_err(|c| failure!("{c}"))?;
        ensure_eq!(id, OPEN_SOURCE | WRITES, "the last guest OS ID");
        Ok(())
    });
}
