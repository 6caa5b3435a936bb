//! What the `synic` component does with the exits its routes bring (issue
//! 14 item 2; `kernel/synic/README.md` § "Who handles each exit"):
//!
//! | exit | answer |
//! | --- | --- |
//! | a partition attach carrying a capability | the partition's SynIC capability is kept (in one of [`PARTITION_SLOTS`]) and its copy of the registers dropped, to be read from the kernel again |
//! | a partition attach without one | refused: without it nothing can be stored |
//! | `RDMSR` of a SynIC register | from the copy (`SynicRegisters::read`: SVERSION 1, EOM 0) |
//! | `WRMSR` of a SynIC register | checked against a copy (`SynicRegisters::write`: #GP as its table says); then stored by the kernel (`PartitionSynicWrite`), which checks again, lays SIM/SIEF pages and delivers; the copy follows only once the kernel took it; a refusal by the kernel is #GP |
//! | another MSR, another exit | #GP for an MSR, else the VP stops |
//!
//! The copy of a VP's registers is read from the kernel the first time the
//! VP's registers are touched (`PartitionSynicRead`): the component keeps
//! nothing the kernel does not hold, so an instance that starts again
//! rebuilds exactly what the one before had.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

use alloc::collections::BTreeMap;
use alloc::format;

use log::Level;
use tessera_rt::abi::vm::synic as abi;
use tessera_rt::vm_exit::{Exit, ExitMessage, ExitReply, Handled, PartitionName};
use tessera_synic::registers::{RegisterPolicy, SynicMsr, SynicRegisters};
use tlfs::synic::{HvSynicScontrol, HvSynicSiefp, HvSynicSimp, HvSynicSint};

#[cfg(test)]
mod tests;

/// Where the partitions' SynIC capabilities go (the first slots past the
/// ones `init` gives every component).
pub const PARTITION_SLOTS: core::ops::Range<u32> = 16..40;

/// Words of `PartitionSynicRead`'s answer.
pub const STATE_WORDS: usize = abi::STATE_WORDS;

/// The kernel's SynIC calls, through a partition capability in `slot`.
pub trait SynicKernel {
    /// `PartitionSynicRead`.
    fn read(&mut self, slot: u32, vp: u32) -> Result<[u64; STATE_WORDS], u64>;
    /// `PartitionSynicWrite`.
    fn write(&mut self, slot: u32, vp: u32, msr: u32, value: u64) -> Result<(), u64>;
}

/// A VP's registers as the kernel holds them, and the partition's policy,
/// from `PartitionSynicRead`'s words.
#[must_use]
pub fn from_words(words: &[u64; STATE_WORDS]) -> (RegisterPolicy, SynicRegisters) {
    let policy = RegisterPolicy {
        polling: words[abi::POLICY] & abi::POLICY_POLLING != 0,
        auto_eoi: words[abi::POLICY] & abi::POLICY_AUTO_EOI != 0,
        gpa_limit: words[abi::GPA_LIMIT],
    };
    let registers = SynicRegisters {
        scontrol: HvSynicScontrol::from_bits(words[abi::SCONTROL]),
        siefp: HvSynicSiefp::from_bits(words[abi::SIEFP]),
        simp: HvSynicSimp::from_bits(words[abi::SIMP]),
        sints: core::array::from_fn(|i| HvSynicSint::from_bits(words[abi::SINT0 + i])),
    };
    (policy, registers)
}

/// One partition the component serves.
#[derive(Clone, Debug, Default)]
struct Partition {
    /// Its SynIC capability.
    slot: Option<u32>,
    /// The register copy of each VP touched so far, with the policy.
    vps: BTreeMap<u32, (RegisterPolicy, SynicRegisters)>,
}

/// Every partition that attached, by badge.
#[derive(Clone, Debug, Default)]
pub struct SynicServer {
    partitions: BTreeMap<u64, Partition>,
}

impl SynicServer {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A slot for the next capability an attach brings.
    #[must_use]
    pub fn free_slot(&self) -> Option<u32> {
        PARTITION_SLOTS
            .clone()
            .find(|slot| !self.partitions.values().any(|p| p.slot == Some(*slot)))
    }

    /// The copy of VP `vp`'s registers of the partition behind `badge`.
    #[must_use]
    pub fn registers(&self, badge: u64, vp: u32) -> Option<&SynicRegisters> {
        Some(&self.partitions.get(&badge)?.vps.get(&vp)?.1)
    }

    /// Answers one exit of the partition behind `badge`; `cap` is the slot
    /// of a capability that came with it. Returns the answer and the slot
    /// of a capability it did not keep (the caller deletes it).
    pub fn exit(
        &mut self,
        badge: u64,
        message: &ExitMessage,
        cap: Option<u32>,
        kernel: &mut impl SynicKernel,
    ) -> (Handled, Option<u32>) {
        let vp = u32::try_from(message.vp_index).unwrap_or(u32::MAX);
        match message.exit {
            Ok(Exit::PartitionAttach { name }) => self.attach(badge, name, cap),
            Ok(Exit::Msr { msr, write, value }) => {
                let reply = match SynicMsr::from_msr(msr) {
                    Some(register) if write => self.write(badge, vp, register, value, kernel),
                    Some(register) => self.read(badge, vp, register, kernel),
                    None => Err("an MSR that is not a SynIC register"),
                };
                let handled = match reply {
                    Ok(reply) => Handled::from(reply),
                    Err(why) => Handled {
                        reply: ExitReply::new().msr_fault(),
                        log: alloc::vec![(
                            Level::Debug,
                            format!("partition {badge} VP {vp}: MSR {msr:#x}: #GP ({why})")
                        )],
                    },
                };
                (handled, cap)
            }
            _ => (
                Handled {
                    reply: ExitReply::new().stop(),
                    log: alloc::vec![(
                        Level::Warn,
                        format!(
                            "partition {badge}: an exit the SynIC does not serve: stopping the VP"
                        )
                    )],
                },
                cap,
            ),
        }
    }

    fn attach(
        &mut self,
        badge: u64,
        name: PartitionName,
        cap: Option<u32>,
    ) -> (Handled, Option<u32>) {
        let Some(slot) = cap else {
            return (
                Handled {
                    reply: ExitReply::new().stop(),
                    log: alloc::vec![(
                        Level::Warn,
                        format!("partition {name}: attached without its SynIC capability: refused")
                    )],
                },
                None,
            );
        };
        let old = self.partitions.insert(
            badge,
            Partition {
                slot: Some(slot),
                vps: BTreeMap::new(),
            },
        );
        let handled = Handled {
            reply: ExitReply::accept_attach(),
            log: alloc::vec![(
                Level::Info,
                format!("partition {name}: SynIC registers served (capability in slot {slot})")
            )],
        };
        // A partition attaching again keeps the new capability.
        (handled, old.and_then(|p| p.slot).filter(|&s| s != slot))
    }

    /// The copy of `vp`'s registers, read from the kernel the first time.
    fn copy(
        &mut self,
        badge: u64,
        vp: u32,
        kernel: &mut impl SynicKernel,
    ) -> Result<(u32, &mut (RegisterPolicy, SynicRegisters)), &'static str> {
        let partition = self
            .partitions
            .get_mut(&badge)
            .ok_or("a partition that never attached")?;
        let slot = partition.slot.ok_or("no SynIC capability")?;
        let copy = match partition.vps.entry(vp) {
            alloc::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            alloc::collections::btree_map::Entry::Vacant(entry) => {
                let words = kernel
                    .read(slot, vp)
                    .map_err(|_| "the kernel has no SynIC for that VP")?;
                entry.insert(from_words(&words))
            }
        };
        Ok((slot, copy))
    }

    fn read(
        &mut self,
        badge: u64,
        vp: u32,
        register: SynicMsr,
        kernel: &mut impl SynicKernel,
    ) -> Result<ExitReply, &'static str> {
        let (_, (_, registers)) = self.copy(badge, vp, kernel)?;
        Ok(ExitReply::new()
            .msr_read_result(registers.read(register))
            .advance_rip())
    }

    fn write(
        &mut self,
        badge: u64,
        vp: u32,
        register: SynicMsr,
        value: u64,
        kernel: &mut impl SynicKernel,
    ) -> Result<ExitReply, &'static str> {
        let (slot, (policy, registers)) = self.copy(badge, vp, kernel)?;
        let mut checked = *registers;
        checked
            .write(vp, register, value, policy)
            .map_err(|_| "a value the register refuses")?;
        kernel
            .write(slot, vp, register.msr(), value)
            .map_err(|_| "the kernel refused the value")?;
        // The copy changes only once the kernel holds the value.
        *registers = checked;
        Ok(ExitReply::new().advance_rip())
    }
}
