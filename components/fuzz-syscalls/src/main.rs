//! `fuzz-syscalls`: seeded random system calls (`cargo xtask fuzz
//! syscalls`).
//!
//! Each operation draws from its own stream (`tessera_fuzz::Draw`, the
//! run's seed and the operation's index): one system call with random
//! arguments and slots, or a short sequence that builds something deeper
//! (a domain running a tiny program, a partition whose VP runs a tiny
//! guest). The fuzzer's belief about its slots (`fuzz_syscalls::model`)
//! keeps it from blocking itself for good or giving its verdict away.
//!
//! Oracles: every status is one the ABI lists; the kernel audit
//! (`KernelAudit`) finds no broken invariant after every 1024 operations;
//! and once the fuzzer has deleted every capability it made, the kernel
//! is back where it started: no region, partition, VP or domain of its
//! making is left, their frames are back, and no object table has grown
//! by more than the fuzzer's 64 slots (tables whose indices are never
//! reused grow without bound). A kernel panic ends the run, which xtask
//! reports with the last operation printed.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
mod component;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "fuzz-syscalls is a Tessera component: build it for x86_64-unknown-none (cargo xtask fuzz syscalls)"
    );
    std::process::exit(2);
}
