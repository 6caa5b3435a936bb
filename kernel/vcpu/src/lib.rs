//! Virtual-processor logic that needs no hardware: what the kernel's VMRUN
//! loop decides, kept here so that host tests can check it against the
//! specifications.
//!
//! | module | concept |
//! | --- | --- |
//! | [`gprs`] | the general registers VMRUN does not save, as the world switch stores them |
//! | [`registers`] | TLFS `HV_REGISTER_NAME` reads and writes on a VMCB (`HvCallGet/SetVpRegisters`) |
//! | [`checks`] | the guest state a VP may start with (APM §15.5.1 consistency checks, for the guest's CPUID) |
//! | [`guest_cpu`] | the CR4, EFER and CR3 bits the guest's CPUID offers |
//! | [`control_registers`] | MOV to CR4, decoded and checked against the guest's CPUID |
//! | [`cpuid`] | the CPUID fast path: host leaves, filtered; the hottest leaves filtered once |
//! | [`msr`] | the MSR fast path: which MSRs the kernel answers, and their reserved bits |
//! | [`decide`] | what happens to a CPUID, port or INVD/WBINVD exit: one decision both exit paths take, from a view of the routes |
//! | [`route_ranges`] | the two views of a partition's routes: the locked route table and the ranges the lock-free path reads |
//! | [`entry_work`] | whether a VP's entry after its handler's reply has locked work left (the settled entry's guard) |
//! | [`exit_message`] | exit messages: the TLFS intercept messages and asked registers of `tessera-exit-protocol`, built from the VMCB |
//! | [`intercepts`] | the intercepts every VP has |
//! | [`reflect`] | #DB and #AC, intercepted and given back to the guest |
//! | [`saved_on_exit`] | the save-area fields a #VMEXIT writes, kept to undo a refused VMRUN |
//! | [`speculation`] | the branch-predictor barrier between partitions |
//! | [`reply`] | a handler's reply, decoded by `tessera-exit-protocol` and checked against the exit it answers |
//! | [`fetch_cache`] | the last instruction measured, re-used while nothing it read changed |
//! | [`clean_bits`] | the VMCB's writes tracked by clean-bit area, and the clean field each VMRUN gets |
//! | [`instruction`] | where RIP goes after an exit that skips an instruction: NRIP, or the fetched instruction measured |
//! | [`log_budget`] | how many lines a guest can make the kernel print |
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod checks;
pub mod clean_bits;
pub mod control_registers;
pub mod cpuid;
pub mod decide;
pub mod entry_work;
pub mod exit_message;
pub mod exit_stats;
pub mod fetch_cache;
pub mod gprs;
pub mod guest_cpu;
pub mod guest_walk;
pub mod instruction;
pub mod intercepts;
pub mod log_budget;
pub mod mmio;
pub mod msr;
pub mod posted_writes;
pub mod reflect;
pub mod registers;
pub mod reply;
pub mod route_ranges;
pub mod saved_on_exit;
pub mod speculation;

pub use gprs::GuestGprs;

pub use tessera_exit_protocol::reply::is_canonical;
