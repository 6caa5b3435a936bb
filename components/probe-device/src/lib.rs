//! The probe device: what the `probe-device` component answers, per
//! partition badge, to the exits test guests make to check that routed
//! exits reach a component and come back. The protocol is
//! `tessera_abi::vm::guest_ports::probe`:
//!
//! | exit | answer |
//! | --- | --- |
//! | `IN`/`OUT` [`probe::SCRATCH_PORT`] | a 32-bit register: reads return the last value written (masked to the access size), initially 0 |
//! | `IN` [`probe::ID_PORT`] | the badge (the partition number, from 1); writes are ignored |
//! | `IN` [`probe::HALTS_PORT`] | how many `HLT` exits the probe answered for the partition; writes are ignored |
//! | other ports | reads all ones, writes are ignored |
//! | `CPUID` of a leaf in [`probe::CPUID_LEAVES`] | EAX = leaf ^ [`probe::CPUID_XOR`], EBX = subleaf, ECX = the badge, EDX = [`probe::CPUID_SIGNATURE`] |
//! | `CPUID` of another leaf | the kernel's default answer |
//! | `RDMSR`/`WRMSR` of [`probe::MSRS`] | 64-bit scratch registers, initially 0; a write to [`probe::MSR_READ_ONLY`] raises #GP |
//! | another MSR | #GP |
//! | `HLT` | counted; the guest goes on after the `HLT` |
//! | a decoded read or write of 1, 2, 4 or 8 bytes at [`probe::MMIO_BASE`] + [`probe::MMIO_SCRATCH_OFFSET`] | a 64-bit register, initially 0: a read returns its low bytes, a write replaces them and keeps the rest |
//! | a decoded read at [`probe::MMIO_BASE`] + [`probe::MMIO_ID_OFFSET`] | the badge (its low bytes); writes are ignored |
//! | a decoded access elsewhere in [`probe::MMIO`] | reads all ones, writes are ignored |
//! | a hypercall (any call code its route takes, any input value) | counted; result value `HV_STATUS_SUCCESS` with 0 reps completed, RDX = [`probe::HYPERCALL_SIGNATURE`], RIP past the `VMMCALL` |
//! | an access the kernel did not decode (size 0), an execute access, or one outside [`probe::MMIO`] | stops the VP, with a warning |
//! | a partition attach | names the partition behind the badge, resets its state |
//!
//! Every answer but a #GP and a stop advances RIP. Anything else (another exit kind,
//! a malformed or unknown message) stops the VP, with a warning. The
//! registers are whole registers at their port: an access that starts at
//! another port of [`probe::PORTS`] reads all ones.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use log::Level;
use tessera_rt::abi::vm::guest_ports::probe;
use tessera_rt::vm_exit::{Exit, ExitError, ExitMessage, ExitReply, MemoryAccess, PartitionName};
use tlfs::register::HvRegisterName;

/// The result value of every hypercall the probe answers:
/// `HV_STATUS_SUCCESS` (0) in bits 15:0, 0 reps completed in bits 43:32.
pub const HYPERCALL_RESULT: u64 = 0;

/// How many MSRs [`probe::MSRS`] holds.
pub const MSR_COUNT: usize = (*probe::MSRS.end() - *probe::MSRS.start() + 1) as usize;

/// The answer to one exit, and what to log about it: attaches (`Info`),
/// refused messages (`Warn`).
pub use tessera_rt::vm_exit::Handled;

/// One partition's probe state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionState {
    pub name: Option<PartitionName>,
    pub scratch: u32,
    /// The MMIO scratch register.
    pub mmio_scratch: u64,
    pub halts: u64,
    /// How many routed hypercalls the probe answered.
    pub hypercalls: u64,
    pub msrs: [u64; MSR_COUNT],
}

/// The probe of every partition that called, by badge.
#[derive(Clone, Debug, Default)]
pub struct Probe {
    partitions: BTreeMap<u64, PartitionState>,
}

/// How a partition shows in log lines.
struct Tag<'a>(u64, Option<&'a PartitionName>);

impl fmt::Display for Tag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(name) if !name.is_empty() => write!(f, "{name}"),
            _ => write!(f, "partition {}", self.0),
        }
    }
}

/// The mask of the low `size` bytes (1, 2, 4 or 8) of a 64-bit register.
fn mask64(size: u8) -> u64 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        4 => 0xFFFF_FFFF,
        _ => u64::MAX,
    }
}

/// The mask of the low `size` bytes (1, 2 or 4).
fn mask(size: u8) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => u32::MAX,
    }
}

impl Probe {
    pub const fn new() -> Self {
        Self {
            partitions: BTreeMap::new(),
        }
    }

    /// The state of the partition behind `badge`, if it called.
    pub fn partition(&self, badge: u64) -> Option<&PartitionState> {
        self.partitions.get(&badge)
    }

    /// Answers one message from the caller with `badge`.
    pub fn handle(&mut self, badge: u64, message: &ExitMessage) -> Handled {
        match message.exit {
            Ok(Exit::IoPort {
                port,
                size,
                write,
                value,
            }) => self.io(badge, port, size, write, value).into(),
            Ok(Exit::Cpuid {
                leaf,
                subleaf,
                default,
            }) => {
                let answer = if probe::CPUID_LEAVES.contains(&leaf) {
                    [
                        leaf ^ probe::CPUID_XOR,
                        subleaf,
                        badge as u32,
                        probe::CPUID_SIGNATURE,
                    ]
                } else {
                    default
                };
                ExitReply::new().cpuid_result(answer).advance_rip().into()
            }
            Ok(Exit::Msr { msr, write, value }) => self.msr(badge, msr, write, value).into(),
            Ok(Exit::Halt { .. }) => {
                let state = self.partitions.entry(badge).or_default();
                state.halts = state.halts.wrapping_add(1);
                ExitReply::new().advance_rip().into()
            }
            Ok(Exit::Hypercall { .. }) => {
                // Whatever the call code, rep count or parameters: the
                // kernel decoded nothing, and the probe judges nothing.
                let state = self.partitions.entry(badge).or_default();
                state.hypercalls = state.hypercalls.wrapping_add(1);
                ExitReply::new()
                    .hypercall_result(HYPERCALL_RESULT)
                    .set_register(HvRegisterName::X64_RDX, probe::HYPERCALL_SIGNATURE)
                    .into()
            }
            Ok(Exit::PartitionAttach { name }) => self.attach(badge, name),
            Ok(Exit::Memory {
                gpa,
                access,
                size,
                value,
                ..
            }) if size != 0 && access != MemoryAccess::Execute && probe::MMIO.contains(&gpa) => {
                self.mmio(badge, gpa - probe::MMIO_BASE, access, size, value)
                    .into()
            }
            _ => {
                let tag = Tag(badge, self.partition(badge).and_then(|p| p.name.as_ref()));
                Handled {
                    reply: ExitReply::new().stop(),
                    log: alloc::vec![(Level::Warn, refusal(&tag, message))],
                }
            }
        }
    }

    fn attach(&mut self, badge: u64, name: PartitionName) -> Handled {
        let state = self.partitions.entry(badge).or_default();
        let mut log = Vec::new();
        if state.name != Some(name) {
            log.push((Level::Info, format!("badge {badge} is partition {name}")));
        }
        // The partition (re)starts: a fresh probe.
        *state = PartitionState {
            name: Some(name),
            ..PartitionState::default()
        };
        Handled {
            reply: ExitReply::accept_attach(),
            log,
        }
    }

    fn io(&mut self, badge: u64, port: u16, size: u8, write: bool, value: u32) -> ExitReply {
        let state = self.partitions.entry(badge).or_default();
        if write {
            if port == probe::SCRATCH_PORT {
                state.scratch = value & mask(size);
            }
            return ExitReply::new().advance_rip();
        }
        let read = match port {
            probe::SCRATCH_PORT => state.scratch,
            probe::ID_PORT => badge as u32,
            probe::HALTS_PORT => state.halts as u32,
            _ => u32::MAX,
        };
        ExitReply::new()
            .io_read_result(read & mask(size))
            .advance_rip()
    }

    /// A decoded read or write of `size` bytes (1, 2, 4 or 8) at `offset`
    /// in the MMIO window.
    fn mmio(
        &mut self,
        badge: u64,
        offset: u64,
        access: MemoryAccess,
        size: u8,
        value: u64,
    ) -> ExitReply {
        let mask = mask64(size);
        let state = self.partitions.entry(badge).or_default();
        if access == MemoryAccess::Write {
            if offset == probe::MMIO_SCRATCH_OFFSET {
                state.mmio_scratch = state.mmio_scratch & !mask | value & mask;
            }
            return ExitReply::new().advance_rip();
        }
        let read = match offset {
            probe::MMIO_SCRATCH_OFFSET => state.mmio_scratch,
            probe::MMIO_ID_OFFSET => badge,
            _ => u64::MAX,
        };
        ExitReply::new()
            .memory_read_result(read & mask)
            .advance_rip()
    }

    fn msr(&mut self, badge: u64, msr: u32, write: bool, value: u64) -> ExitReply {
        if !probe::MSRS.contains(&msr) || (write && msr == probe::MSR_READ_ONLY) {
            return ExitReply::new().msr_fault();
        }
        let state = self.partitions.entry(badge).or_default();
        let register = &mut state.msrs[(msr - probe::MSRS.start()) as usize];
        if write {
            *register = value;
            ExitReply::new().advance_rip()
        } else {
            ExitReply::new().msr_read_result(*register).advance_rip()
        }
    }
}

/// The warning for a message the probe does not answer.
fn refusal(tag: &Tag<'_>, message: &ExitMessage) -> String {
    match message.exit {
        Err(ExitError::Unknown(t)) => format!(
            "{tag}: unknown message type {t:#x} (VP {}); stopping the VP",
            message.vp_index
        ),
        Ok(Exit::Memory {
            gpa,
            access: MemoryAccess::Execute,
            rip,
            ..
        }) => format!(
            "{tag}: an instruction fetch from GPA {gpa:#x} (rip {rip:#x}, VP {}): MMIO holds no \
             code; stopping the VP",
            message.vp_index
        ),
        Ok(Exit::Memory {
            gpa,
            access,
            rip,
            size: 0,
            ..
        }) => format!(
            "{tag}: the kernel could not decode the {} at GPA {gpa:#x} (rip {rip:#x}, VP {}), so \
             the probe cannot emulate it; stopping the VP",
            access_name(access),
            message.vp_index
        ),
        Ok(Exit::Memory {
            gpa, access, rip, ..
        }) => format!(
            "{tag}: a {} at GPA {gpa:#x} (rip {rip:#x}, VP {}) is outside the probe's MMIO \
             window {:#x}-{:#x}; stopping the VP",
            access_name(access),
            message.vp_index,
            probe::MMIO.start(),
            probe::MMIO.end()
        ),
        Err(ExitError::Malformed { field, .. }) => format!(
            "{tag}: malformed {} message (bad {field}, VP {}); stopping the VP",
            message.type_name().unwrap_or("exit"),
            message.vp_index
        ),
        Ok(exit) => format!(
            "{tag}: the probe does not handle {exit:?} (VP {}); stopping the VP",
            message.vp_index
        ),
    }
}

fn access_name(access: MemoryAccess) -> &'static str {
    match access {
        MemoryAccess::Read => "read",
        MemoryAccess::Write => "write",
        MemoryAccess::Execute => "execute",
    }
}

#[cfg(test)]
mod tests;
