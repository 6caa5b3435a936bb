//! Device interrupts: an interrupt controller component (`platform`, the
//! I/O APIC) hands the kernel the message a pin produced, and the kernel
//! delivers it to the partition's local APICs (`PartitionAssertInterrupt`;
//! `kernel/lapic/README.md` § "Interrupts from elsewhere"). The component
//! never touches an APIC: it names a destination, the kernel resolves it.
//!
//! The message is delivered as an IPI is (`lapic_ipi::deliver_interrupt`):
//! resolved over the partition's own APIC addresses (physical, logical
//! flat or cluster, lowest priority), *posted* to each VP it names, whose
//! CPU takes it into the APIC before its next entry; a halted VP is woken,
//! a running one kicked.
use crate::state::Kernel;
use tessera_abi::Status;
use tessera_abi::vm::interrupt as wire;
use tessera_capability::{PartitionId, VpId};
use tessera_lapic::{
    DeliveryMode, Destination, DestinationMode, IdWidth, Message, Target, Trigger,
};

/// A device interrupt message as the I/O APIC puts it on the bus, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceMessage {
    pub vector: u8,
    pub destination: u8,
    pub logical: bool,
    pub lowest_priority: bool,
    pub level: bool,
}

/// What a `PartitionAssertInterrupt` call asks, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assertion {
    /// An I/O APIC's message to the APICs it names.
    Message(DeviceMessage),
    /// The 8259 pair's INT output is at this level (`extint.rs`).
    PicOutput(bool),
}

impl Assertion {
    /// The call's words 0-2: delivery mode ExtINT is the 8259's output
    /// (word 0 the level, 0 or 1; word 1 and every other flag 0), any
    /// other mode a message ([`DeviceMessage::from_words`]). Anything else
    /// is `InvalidArgument`.
    pub fn from_words(vector: u64, destination: u64, flags: u64) -> Result<Self, u64> {
        if (flags & wire::MODE_MASK) >> wire::MODE_SHIFT != wire::MODE_EXTINT {
            return DeviceMessage::from_words(vector, destination, flags).map(Self::Message);
        }
        if flags != wire::EXTINT_FLAGS || destination != 0 || vector > 1 {
            return Err(Status::InvalidArgument.code());
        }
        Ok(Self::PicOutput(vector == 1))
    }
}

impl DeviceMessage {
    /// The message `PartitionAssertInterrupt`'s words 0-2 describe; any
    /// word a component could not have meant is `InvalidArgument` (input
    /// from a component is hostile).
    pub fn from_words(vector: u64, destination: u64, flags: u64) -> Result<Self, u64> {
        let invalid = Status::InvalidArgument.code();
        let vector = u8::try_from(vector).map_err(|_| invalid)?;
        if u64::from(vector) < wire::MIN_VECTOR
            || destination & !wire::DESTINATION_MASK != 0
            || flags & !wire::FLAGS != 0
        {
            return Err(invalid);
        }
        let lowest_priority = match (flags & wire::MODE_MASK) >> wire::MODE_SHIFT {
            wire::MODE_FIXED => false,
            wire::MODE_LOWEST_PRIORITY => true,
            _ => return Err(invalid),
        };
        Ok(Self {
            vector,
            destination: destination as u8,
            logical: flags & wire::LOGICAL != 0,
            lowest_priority,
            level: flags & wire::LEVEL != 0,
        })
    }

    /// The interrupt message it puts on the APIC bus: an 8-bit
    /// destination, as an I/O APIC redirection entry has.
    pub fn message(&self) -> Message {
        Message {
            mode: if self.lowest_priority {
                DeliveryMode::LowestPriority
            } else {
                DeliveryMode::Fixed
            },
            vector: self.vector,
            trigger: if self.level {
                Trigger::Level
            } else {
                Trigger::Edge
            },
            target: Target::Destination(Destination {
                mode: if self.logical {
                    DestinationMode::Logical
                } else {
                    DestinationMode::Physical
                },
                id: u32::from(self.destination),
                width: IdWidth::Xapic,
            }),
        }
    }
}

impl Kernel {
    /// Delivers `message` to the local APICs of `partition` it names, as
    /// an IPI is delivered (`lapic_ipi`: resolved over the partition's own
    /// APIC addresses, posted, the VP woken or kicked); returns how many
    /// VPs it reached. `NoApic` if its VPs have none.
    pub fn deliver_device_interrupt(
        &mut self,
        partition: PartitionId,
        message: DeviceMessage,
    ) -> Result<u32, u64> {
        let target = self
            .partitions
            .get(partition)
            .ok_or(Status::InvalidArgument.code())?;
        if target.apic == super::lapic::ApicChoice::None {
            return Err(Status::NoApic.code());
        }
        Ok(self.deliver_interrupt(partition, None, &message.message()))
    }
}

impl Kernel {
    /// After an APIC register write of VP `vp` completed: an EOI it
    /// broadcast goes to the partition's `EOI` route (its I/O APIC's
    /// component, which clears remote IRR and may deliver again), the VP
    /// waiting for the answer as for any forwarded exit; the EOI
    /// instruction is complete, so the reply has nothing to move past.
    /// Without the route (no I/O APIC) the broadcast reaches nobody.
    pub fn eoi_broadcast(
        &mut self,
        cpu: usize,
        vp: VpId,
        vector: Option<u8>,
    ) -> super::exits::Next {
        use super::exits::Next;
        use super::forward::{Pending, PendingKind};
        use tessera_abi::vm::intercept;
        let Some(vector) = vector else {
            return Next::Resume;
        };
        let Some(route) = self.route_of(vp, intercept::EOI, 0) else {
            return Next::Resume;
        };
        let Some(record) = self.vps.get(vp) else {
            return Next::GONE;
        };
        let header = tessera_vcpu::exit_message::header(
            &record.vmcb,
            record.index,
            0,
            tlfs::intercept::HvInterceptAccessType::WRITE,
        );
        let exit = tessera_exit_protocol::Exit::EoiBroadcast { vector };
        let pending = Pending::routed(&exit, PendingKind::Other, None);
        Next::Leave(self.send_exit(cpu, vp, route, &exit, &header, pending))
    }
}
