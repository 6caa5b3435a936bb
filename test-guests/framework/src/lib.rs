//! What Tessera's test guests share: they run alone inside a partition,
//! with no operating system, and report over COM1 and the exit port.
//!
//! - [`serial`], [`println!`]: polled output on the COM1 16550.
//! - [`tap`], [`Suite`]: the report, `ok N - name` / `not ok N - name: detail`
//!   lines, a summary and the verdict through the exit port ([`exit`]).
//! - [`exception`]: an IDT that turns an exception raised by one of the
//!   guarded instructions in [`cpu`] into an `Err`, and any other exception
//!   into a failed report instead of a triple fault.
//! - [`cpu`], [`port`]: CPUID, MSRs, HLT, RDTSC, control registers, port I/O.
//! - [`interrupt`]: gates for vectors 32-255 that record what came, for
//!   the guests that test an interrupt controller.
//! - [`entry!`] and [`run`]: the entry point of ELF64 guests, and what every
//!   guest's Rust code starts with; the panic handler.
//! - [`layout`]: where the image, the free RAM and the loader's structures are.
//! - [`pages`]: pages of the free RAM, read and written volatile (for
//!   the pages the hypervisor lays over them or reads).
//! - [`paging`]: device windows outside RAM, mapped into the guest's own
//!   page tables, and MMIO accesses of a chosen size.
//!
//! Unsafe code is confined to the modules that talk to the hardware
//! (`port`, `cpu`, `exception`, `interrupt`, `entry`, `layout`, `pages`,
//! `paging`), each small.
#![no_std]
#![deny(unsafe_code)]

pub mod cpu;
pub mod entry;
pub mod exception;
pub mod exit;
mod failure;
pub mod interrupt;
pub mod layout;
pub mod pages;
pub mod paging;
pub mod port;
pub mod serial;
mod suite;
pub mod tap;

pub use entry::run;
pub use exception::{Caught, expect_caught, expect_exception};
pub use failure::Failure;
pub use suite::Suite;
pub use tap::Outcome;

/// The device ports the guests use, shared with the host side.
pub use tessera_abi::vm::guest_ports;

#[cfg(test)]
extern crate std;
