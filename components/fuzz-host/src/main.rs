//! `fuzz-host`: the guest fuzzer's host (`cargo xtask fuzz guest`).
//!
//! It manages two partitions, as `partition-manager` would: the fuzz
//! guest (`test-guests/fuzz-guest`) and a canary (`test-guests/fuzz-canary`)
//! next to it. For the fuzz guest it is also the device behind its routes
//! (the probe's ports, CPUID leaves, MSRs, MMIO page and HLT, through
//! `probe_device`) and its control device (`tessera_fuzz::guest`): it
//! resumes the guest's VP at its armed recovery point whenever an
//! operation stops it (parameters outside its memory, string I/O, an MMIO
//! form the kernel cannot decode, a crash report, a reset request), runs
//! the kernel audit and replaces the hot-plug region on request.
//!
//! At the end it checks the canary's memory through its own mapping,
//! deletes both partitions and checks that the kernel's regions,
//! partitions, VPs and their frames are back as they were before it made
//! them. The verdict is pass only if the guest, the canary and the host
//! found nothing. Every finding is a `FINDING at operation N` line, N the
//! guest's last reported operation.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod component;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "fuzz-host is a Tessera component: build it for x86_64-unknown-none (cargo xtask fuzz guest)"
    );
    std::process::exit(2);
}
