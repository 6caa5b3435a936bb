//! `tessera-rt`: what every Tessera component links against.
//!
//! A component is a `#![no_std]`, `#![no_main]` binary under `components/`
//! that starts with the capabilities its manifest grants and talks to the
//! kernel only through system calls (`tessera_abi` is the contract). This
//! crate gives it:
//!
//! - an entry point: [`entry!`]`(main)` runs `fn main()` (or
//!   `fn main() -> Result<(), E>` with `E: Display`) after setting up a
//!   64 KiB heap ([`alloc`] works) and a [`log`] backend that writes to the
//!   console capability, then exits with code 0 (1 if `main` returned an
//!   error, 101 if it panicked, after logging the panic);
//! - typed IPC: [`Message`], [`Endpoint::call`], [`Endpoint::call_with_cap`],
//!   a server loop ([`serve`], [`Server`]) and [`Notification`]s;
//! - capability operations ([`cap::derive`], [`cap::delete`],
//!   [`cap::revoke`]), the console ([`Console`]), and the ends of a
//!   component's life ([`exit`], [`verdict`]);
//! - errors as [`Error`], the kernel's status code (a [`Status`] when this
//!   ABI version knows it; any other non-zero code is a failure too).
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! #![forbid(unsafe_code)]
//!
//! use tessera_rt::{Endpoint, Error, Message};
//!
//! tessera_rt::entry!(main);
//!
//! fn main() -> Result<(), Error> {
//!     let echo = Endpoint(4); // the slot the manifest's `connects` names
//!     let reply = echo.call(Message::new([1, 2, 3, 4, 5, 6]))?;
//!     log::info!("the server answered {:?}", reply.words);
//!     Ok(())
//! }
//! ```
//!
//! # Unsafe code
//!
//! The crate denies `unsafe_code`. Two modules allow it: [`syscall`] (the
//! `syscall` instruction, the deliberate fault of
//! [`testing::crash_with_page_fault`], and `rdtsc` for [`time::cycles`]) and
//! the entry point (`_start`, the
//! heap's static memory, the symbol the [`entry!`] macro exports). Because
//! the kernel never reads component memory on a system call, every system
//! call is safe to make with any arguments, and all the API above is safe.
//! Components themselves are `#![forbid(unsafe_code)]`.
//!
//! # Host builds
//!
//! On the host (`cargo test`), the entry point, heap and panic handler are
//! left out and a system call panics: only the pure parts (console packing,
//! log line formatting, status handling) are tested there.
#![no_std]
#![deny(unsafe_code)]

pub extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod boot;
pub mod build;
pub mod cap;
pub mod console;
mod control;
mod entry;
mod error;
pub mod ipc;
pub mod logger;
pub mod memory;
pub mod message_buffer;
pub mod syscall;
pub mod testing;
pub mod time;
pub mod vm;
pub mod vm_exit;
pub mod wrap;

pub use console::Console;
pub use control::{exit, null_syscall, verdict, yield_now};
#[doc(hidden)]
pub use entry::Termination;
pub use entry::{EXIT_ERROR, EXIT_PANIC};
pub use error::Error;
pub use ipc::{Endpoint, Message, Notification, Reply, Request, Server, serve};
pub use tessera_abi::{self as abi, CSPACE_SLOTS, CapTransfer, NO_SELECTOR, Status, rights, slot};
