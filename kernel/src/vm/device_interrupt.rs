//! Device interrupts: an interrupt controller component (`platform`, the
//! I/O APIC) hands the kernel the message a pin produced, and the kernel
//! delivers it to the partition's local APICs (`PartitionAssertInterrupt`;
//! `kernel/lapic/README.md` § "Interrupts from elsewhere"). The component
//! never touches an APIC: it names a destination, the kernel resolves it.
//!
//! A VP's APIC is its CPU's alone while the VP runs, so a message is
//! *posted* (a vector bit in `Vp::posted`, under the lock) and the VP's
//! CPU takes it into the APIC before its next entry (`take_posted`), or
//! when it asks whether HLT ends (`apic_wakes`). The poster then wakes a
//! halted VP or kicks the CPU that runs it.
//!
//! First landing: destinations resolve against the power-on APIC IDs
//! (APIC ID = VP index, as `ApicChoice::new_apic` sets them) — physical
//! `0xFF` is every VP, logical mode the flat model (bit n: VP n), lowest
//! priority the first VP named. Guest SMP's resolver (each VP's
//! `ApicAddress`, arbitration by PPR) replaces `targets` at merge.
use super::Vp;
use crate::state::Kernel;
use tessera_abi::Status;
use tessera_abi::vm::interrupt as wire;
use tessera_capability::{PartitionId, VpId};
use tessera_lapic::{LocalApic, Trigger};

/// A device interrupt message as the I/O APIC puts it on the bus, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceMessage {
    pub vector: u8,
    pub destination: u8,
    pub logical: bool,
    pub lowest_priority: bool,
    pub level: bool,
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

    /// Whether the message names the VP with APIC ID `id` (see the module
    /// comment for what is resolved so far).
    fn names(&self, id: u32) -> bool {
        if self.logical {
            id < 8 && self.destination & (1 << id) != 0
        } else {
            u64::from(self.destination) == wire::BROADCAST || u32::from(self.destination) == id
        }
    }
}

/// Vectors posted to a VP, waiting for its CPU to accept them into its
/// APIC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Posted {
    vectors: [u64; 4],
    level: [u64; 4],
}

impl Posted {
    fn post(&mut self, vector: u8, level: bool) {
        let (word, bit) = (usize::from(vector / 64), 1u64 << (vector % 64));
        self.vectors[word] |= bit;
        if level {
            self.level[word] |= bit;
        } else {
            self.level[word] &= !bit;
        }
    }

    /// Accepts every posted vector into `apic` (its IRR, and its TMR for
    /// level-triggered ones), lowest first, and forgets them.
    fn drain_into(&mut self, apic: &mut LocalApic) {
        for word in 0..4 {
            let mut bits = core::mem::take(&mut self.vectors[word]);
            let level = core::mem::take(&mut self.level[word]);
            while bits != 0 {
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                let trigger = if level & (1 << bit) != 0 {
                    Trigger::Level
                } else {
                    Trigger::Edge
                };
                apic.accept((word as u32 * 64 + bit) as u8, trigger);
            }
        }
    }
}

impl Vp {
    /// On the VP's own CPU (or while it is off every CPU), under the
    /// lock: the posted device interrupts go into its APIC.
    pub fn take_posted(&mut self) {
        if let Some(apic) = self.apic.as_mut() {
            self.posted.drain_into(apic);
        }
    }
}

impl Kernel {
    /// Delivers `message` to the local APICs of `partition` it names;
    /// returns how many VPs it reached. `NoApic` if its VPs have none.
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
        let targets = self.targets(partition, &message);
        for &vp in &targets {
            self.post_to(vp, message.vector, message.level);
        }
        Ok(targets.len() as u32)
    }

    /// The VPs `message` names (see the module comment).
    fn targets(&self, partition: PartitionId, message: &DeviceMessage) -> heapless::Vec<VpId, 64> {
        let mut named = heapless::Vec::new();
        let Some(target) = self.partitions.get(partition) else {
            return named;
        };
        for &vp in &target.vps {
            let Some(record) = self.vps.get(vp) else {
                continue;
            };
            if record.destroyed || !message.names(record.index) {
                continue;
            }
            // At most MAX_VPS, the capacity.
            let _ = named.push(vp);
            if message.lowest_priority {
                break;
            }
        }
        named
    }

    /// Posts `vector` to VP `vp` and makes it look: a halted VP wakes, a
    /// running one leaves its guest.
    fn post_to(&mut self, vp: VpId, vector: u8, level: bool) {
        let Some(record) = self.vps.get_mut(vp) else {
            return;
        };
        record.posted.post(vector, level);
        self.wake_or_kick(vp);
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
