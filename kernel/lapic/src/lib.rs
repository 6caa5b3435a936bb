//! One local APIC per VP, as a state machine with no hardware access: the
//! register file through both interfaces (the xAPIC page and the x2APIC
//! MSRs), `IA32_APIC_BASE` and its mode transitions, interrupt acceptance
//! and priority, EOI, IPIs and their destinations, the timer in its three
//! modes, INIT/SIPI, and the Hv#1 APIC enlightenments.
//!
//! The kernel owns one [`LocalApic`] and one [`StartupState`] per VP and
//! calls in on the exits that touch them; see `README.md` for how it
//! wires them to SVM.
//!
//! # Sources
//!
//! - Intel SDM Vol. 3A, chapter "Advanced Programmable Interrupt
//!   Controller (APIC)". Section numbers are the 2016 edition's (chapter
//!   10); later editions renumber the chapter to 11 and keep the
//!   subsections.
//! - AMD APM Vol. 2, chapter 16 "Advanced Programmable Interrupt
//!   Controller (APIC)", and §14.1.3 for the INIT state.
//! - TLFS md `virtual-interrupts.md` and `vp-properties.md` for the
//!   enlightenments.
//!
//! Where the texts leave a choice, the item says **Choice:** and why.
//!
//! # Modules
//!
//! | module | concept |
//! | --- | --- |
//! | [`register`] | where each register is (xAPIC offset, x2APIC MSR) and who may read or write it |
//! | [`base`] | `IA32_APIC_BASE`: enable, x2APIC, BSP, relocation, the legal transitions |
//! | `state` | the APIC's configuration, state, reset, and what it shows others (address, PPR, contender) |
//! | `delivery` | errors, acceptance, priority, acknowledge, EOI, NMI, LINT pins, timer expiry |
//! | `access` | register reads and writes, reserved bits, ESR, ICR, LVT, SVR |
//! | `interface` | the xAPIC page, the x2APIC MSRs, `IA32_TSC_DEADLINE` |
//! | [`message`] | an interrupt message: delivery mode, vector, trigger, target |
//! | [`icr`] | from an ICR value to the IPI it sends |
//! | [`destination`] | physical, logical flat/cluster and x2APIC matching; lowest-priority arbitration |
//! | [`timer`] | one-shot, periodic and TSC-deadline arithmetic over the guest TSC |
//! | [`posted`] | messages posted to a VP by others, until its CPU takes them into its APIC |
//! | [`startup`] | the wait-for-SIPI state machine and the INIT/SIPI register state |
//! | [`hv`] | `HV_X64_MSR_EOI`/`ICR`/`TPR` and lazy EOI |
//! | [`cpuid`] | the standard CPUID bits of the APIC: initial ID, APIC present, x2APIC, TSC-deadline, ARAT |
//! | [`bits`] | 256-bit sets (vectors, VP indices) |

#![no_std]
#![forbid(unsafe_code)]

mod access;
pub mod base;
pub mod bits;
pub mod cpuid;
mod delivery;
pub mod destination;
pub mod hv;
pub mod icr;
mod interface;
pub mod message;
pub mod posted;
pub mod register;
pub mod startup;
mod state;
pub mod timer;

pub use access::{Effect, GeneralProtection};
pub use base::{ApicMode, BaseTransition};
pub use bits::{Bits256, MAX_VPS, VectorSet, VpIndexSet};
pub use destination::{
    ApicAddress, Contender, Destination, DestinationMode, IdWidth, LogicalModel, arbitrate, resolve,
};
pub use hv::LazyEoi;
pub use interface::{IA32_TSC_DEADLINE, is_apic_msr};
pub use message::{DeliveryMode, Message, Target, Trigger};
pub use posted::Posted;
pub use register::{Lvt, Register};
pub use startup::{Activity, StartupState};
pub use state::{
    ApicConfig, ESR_ILLEGAL_REGISTER, ESR_RECEIVE_ILLEGAL_VECTOR, ESR_SEND_ILLEGAL_VECTOR,
    EndOfInterrupt, LocalApic, Received,
};
pub use timer::{ApicTimer, Expiry, TimerClock, TimerMode};
