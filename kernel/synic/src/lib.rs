//! The synthetic interrupt controller (SynIC), the synthetic timers, and
//! messages and events between partitions, as pure state machines: what
//! the kernel's fast paths run and what the `synic` component decides,
//! with no hardware access, tested on the host.
//!
//! The crate's README is the design note: where each piece of state lives
//! (kernel or component) and why, what the fast paths read, how the two
//! exchange it, and how a restarted component rebuilds its state.
//!
//! # Sources
//!
//! Citations follow the `tlfs` crate's convention: *TLFS md* `<file>` §
//! heading for Microsoft's Markdown edition, *TLFS 6.0b* §n.m for the v6.0b
//! text. Where the texts leave a choice open, the item says **Choice:** and
//! why. The `hyperv-testdev` protocol is QEMU's (`hw/misc/hyperv_testdev.c`).
//!
//! # Modules
//!
//! | module | concept | runs in |
//! | --- | --- | --- |
//! | [`registers`] | SCONTROL, SVERSION, SIEFP, SIMP, EOM, SINT0–15: reset values, reads, validated writes, overlay requests | component (validation) and kernel (re-validation, storage) |
//! | [`overlay`] | the SIM and SIEF pages as overlay pages, by identity | kernel |
//! | [`pages`] | access to a VP's SIM and SIEF pages by atomic words; an in-memory backing | kernel |
//! | [`sint`] | the SINT index and what raising a SINT does | kernel |
//! | [`slot`] | writing a message into a SIM slot, MessagePending | kernel |
//! | [`event`] | setting an event flag, the 0→1 rule | kernel (`HvSignalEvent` fast path) |
//! | [`timer`] | synthetic timers 0–3 as arithmetic over reference time | kernel (timer fast path) |
//! | [`ports`] | ports and connections: kinds, owners, the create/connect inputs | component and kernel |
//! | [`published`] | the lock-free table of event routes | kernel (written under the lock, read by the fast path) |
//! | [`state`] | everything the kernel holds per partition, and each step it takes: registers, timers, message queues, delivery, ports, connections | kernel |
//! | [`hypercall`] | the input blocks of `HvCallPostMessage` and `HvCallSignalEvent` | component and kernel fast path |
//! | [`testdev`] | QEMU's `hyperv-testdev` protocol | component |
//! | [`component`] | what the `synic` component does for each exit, the kernel calls it makes, its state and how it is rebuilt | component |

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod component;
pub mod event;
pub mod fast_signal;
pub mod hypercall;
pub mod overlay;
pub mod pages;
pub mod ports;
pub mod published;
pub mod registers;
pub mod sint;
pub mod slot;
pub mod state;
pub mod testdev;
pub mod timer;

pub use component::{KernelCall, SynicComponent};
pub use overlay::{OverlayId, OverlayRequest};
pub use pages::{MemoryPages, SynicPages};
pub use ports::{Owner, PartitionRef, PortKind, PortSpec};
pub use registers::{GeneralProtection, RegisterPolicy, SynicMsr, SynicRegisters};
pub use sint::{Interrupt, Sint};
pub use state::{Deliveries, Delivery, PartitionPolicy, Synic};
pub use timer::{Stimer, StimerMsr, StimerPolicy, TimerIndex};
