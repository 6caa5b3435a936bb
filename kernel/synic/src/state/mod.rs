//! What the kernel holds for the SynIC of every partition, and what it does
//! with it: the registers the fast paths read, the synthetic timers, the
//! message queues and the delivery into slots, the ports and connections
//! with their published event routes.
//!
//! [`Synic`] is the whole of it, over pages of type `P` (the kernel: the
//! VPs' overlay frames; tests: [`MemoryPages`](crate::pages::MemoryPages)).
//! Every method is one step that cannot be interrupted halfway: the kernel
//! runs each under its lock, so a component that dies between two calls
//! leaves the state as after the first (the restart argument of the crate's
//! README rests on this).
//!
//! Delivery into a slot happens in three places, the three triggers of TLFS
//! md `inter-partition-communication.md` § Messages: a message is queued
//! (post, timer expiry), the guest ends the SINT's interrupt (EOI), or the
//! guest writes EOM; and, in Tessera, when SCONTROL or SIMP becomes enabled,
//! since a message may be waiting for exactly that.

pub mod inbox;
mod messages;
mod objects;
mod timers;
mod traffic;

pub use messages::PORT_MESSAGE_BUFFERS;
pub use objects::{ConnectionRecord, PortAddress, PortRecord};

use alloc::sync::Arc;
use alloc::vec::Vec;

use tlfs::message::HvMessage;
use tlfs::synic::HV_SYNIC_SINT_COUNT;
use tlfs::timer::HV_SYNTHETIC_TIMER_COUNT;

use crate::overlay::OverlayRequest;
use crate::pages::SynicPages;
use crate::ports::PartitionRef;
use crate::published::EventRouteTable;
use crate::registers::{GeneralProtection, RegisterPolicy, SynicMsr, SynicRegisters};
use crate::sint::{Interrupt, Sint, signal};
use crate::slot::{Offer, offer};
use crate::timer::{Stimer, StimerPolicy, TimerIndex};
use messages::{MessagePool, Pools, SintQueue};
use objects::PortEntry;
use timers::timer_message;

/// Slots of each partition's published event-route table.
pub const ROUTE_SLOTS: usize = 256;

/// What the partition's CPUID allows its SynIC and timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PartitionPolicy {
    /// For the SynIC registers.
    pub registers: RegisterPolicy,
    /// For the timers.
    pub timers: StimerPolicy,
}

/// An interrupt for a VP's local APIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Delivery {
    /// The VP's partition.
    pub partition: PartitionRef,
    /// The VP.
    pub vp: u32,
    /// What to assert.
    pub interrupt: Interrupt,
}

/// The interrupts one step raises: at most one per SINT of one VP (16: a
/// rescan or an EOI), one per expiration a timer poll handles (4 timers ×
/// `CATCH_UP_LIMIT` + 1 = 20), or one (a post, a signal), so the capacity
/// is never reached.
pub type Deliveries = heapless::Vec<Delivery, 32>;

/// What a register write asks of the kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// An overlay page to place or remove.
    pub overlay: Option<OverlayRequest>,
    /// Interrupts to assert.
    pub deliveries: Deliveries,
}

/// One VP's SynIC.
#[derive(Clone, Debug)]
pub(crate) struct VpState<P> {
    pub registers: SynicRegisters,
    pub timers: [Stimer; HV_SYNTHETIC_TIMER_COUNT],
    pub queues: [SintQueue; HV_SYNIC_SINT_COUNT],
    pub pages: P,
    /// `hyperv-testdev` SINT routes (bit n: SINT n may be raised).
    pub sint_routes: u16,
}

impl<P> VpState<P> {
    /// Frees the buffers of every message queued for this VP.
    fn drop_queued(&mut self, pools: &mut Vec<Option<PortEntry>>) {
        for queue in &mut self.queues {
            while !queue.is_empty() {
                queue.pop(pools);
            }
        }
    }

    /// A VP at creation or reset, over `pages`.
    fn reset(pages: P) -> Self {
        Self {
            registers: SynicRegisters::default(),
            timers: [Stimer::default(); HV_SYNTHETIC_TIMER_COUNT],
            queues: [SintQueue::default(); HV_SYNIC_SINT_COUNT],
            pages,
            sint_routes: 0,
        }
    }
}

/// One partition's SynIC.
#[derive(Debug)]
pub(crate) struct PartitionState<P> {
    pub policy: PartitionPolicy,
    pub vps: Vec<VpState<P>>,
    /// The ports this partition owns (it receives through them), by slot.
    pub ports: Vec<Option<PortEntry>>,
    /// The connections this partition sends through.
    pub connections: Vec<ConnectionRecord>,
    /// Its event connections, for the lock-free `HvSignalEvent` path
    /// (shared with the reader: [`Synic::add_partition_with_routes`]).
    pub routes: Arc<EventRouteTable<ROUTE_SLOTS>>,
}

impl<P> PartitionState<P> {
    /// The inbox of the component-owned port in slot `slot`.
    fn inbox_mut(&mut self, slot: usize) -> Option<&mut inbox::Inbox> {
        self.ports.get_mut(slot)?.as_mut()?.inbox.as_deref_mut()
    }
}

impl Pools for Vec<Option<PortEntry>> {
    fn pool(&self, port: usize) -> Option<&MessagePool> {
        self.get(port)?.as_ref()?.pool.as_ref()
    }
    fn pool_mut(&mut self, port: usize) -> Option<&mut MessagePool> {
        self.get_mut(port)?.as_mut()?.pool.as_mut()
    }
}

/// The SynIC state of every partition.
#[derive(Debug)]
pub struct Synic<P> {
    pub(crate) partitions: Vec<PartitionState<P>>,
    /// Ports are told apart by a serial number as well as their ID, so a
    /// connection to a deleted port stays useless when a new port takes
    /// the ID ("If a port is subsequently deleted, its connection, while it
    /// remains, becomes useless").
    pub(crate) next_serial: u64,
}

impl<P> Default for Synic<P> {
    fn default() -> Self {
        Self {
            partitions: Vec::new(),
            next_serial: 1,
        }
    }
}

impl<P: SynicPages> PartitionState<P> {
    /// Moves the next message for `sint` of VP `vp` into its slot if it
    /// can: a timer's buffered expiration first (the hypervisor's own
    /// messages), then the port messages in order. Returns the interrupt
    /// that announces it.
    fn pump(
        &mut self,
        partition: PartitionRef,
        vp: usize,
        sint: Sint,
        now: u64,
    ) -> Option<Delivery> {
        let Self { vps, ports, .. } = self;
        let state = vps.get_mut(vp)?;
        if !state.registers.messages_enabled() {
            return None;
        }
        let mut timers = TimerIndex::ALL.into_iter().filter(|t| {
            state.timers[t.index()]
                .buffered()
                .is_some_and(|b| b.sint == sint)
        });
        let queued = &mut state.queues[sint.index()];
        let delivered = if let Some(timer) = timers.next() {
            let buffered = state.timers[timer.index()].buffered()?;
            let message = timer_message(timer, buffered.expiration, now);
            let more = timers.next().is_some() || !queued.is_empty();
            let delivered = offer(&mut state.pages, sint, &message, more) == Offer::Delivered;
            if delivered {
                state.timers[timer.index()].release_buffer();
            }
            delivered
        } else {
            let (message, more) = queued.front(ports)?;
            let delivered = offer(&mut state.pages, sint, message, more) == Offer::Delivered;
            if delivered {
                queued.pop(ports);
            }
            delivered
        };
        if !delivered {
            return None;
        }
        let interrupt = signal(state.registers.scontrol, state.registers.sint(sint)).interrupt()?;
        Some(Delivery {
            partition,
            vp: vp as u32,
            interrupt,
        })
    }

    /// [`pump`](Self::pump) for every SINT of VP `vp`.
    fn pump_all(&mut self, partition: PartitionRef, vp: usize, now: u64, out: &mut Deliveries) {
        for sint in Sint::ALL {
            if let Some(delivery) = self.pump(partition, vp, sint, now) {
                let _ = out.push(delivery);
            }
        }
    }
}

impl<P: SynicPages> Synic<P> {
    /// No partitions.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a partition with one VP per element of `pages` (each VP's two
    /// pages, zeroed), registers and timers at their reset values.
    pub fn add_partition(&mut self, policy: PartitionPolicy, pages: Vec<P>) -> PartitionRef {
        self.add_partition_with_routes(policy, pages, Arc::new(EventRouteTable::new()))
    }

    /// [`add_partition`](Self::add_partition), publishing its event
    /// connections in `routes` (emptied first), which the caller's
    /// lock-free reader holds too (the kernel's `HvSignalEvent` fast path).
    pub fn add_partition_with_routes(
        &mut self,
        policy: PartitionPolicy,
        pages: Vec<P>,
        routes: Arc<EventRouteTable<ROUTE_SLOTS>>,
    ) -> PartitionRef {
        routes.clear();
        let vps = pages.into_iter().map(VpState::reset).collect();
        self.partitions.push(PartitionState {
            policy,
            vps,
            ports: Vec::new(),
            connections: Vec::new(),
            routes,
        });
        PartitionRef(self.partitions.len() as u32 - 1)
    }

    /// Gives partition `partition` VP `vp` (a VP created after the
    /// partition's SynIC, or created again at an index a destroyed VP
    /// had), with its two pages, zeroed, and registers and timers at their
    /// reset values. Indexes below `vp` that no VP holds yet get
    /// [`Default`] pages (for the kernel: no frames). Returns `false` for
    /// an unknown partition.
    pub fn add_vp(&mut self, partition: PartitionRef, vp: u32, pages: P) -> bool
    where
        P: Default,
    {
        let Some(part) = self.partition_mut(partition) else {
            return false;
        };
        let index = vp as usize;
        while part.vps.len() <= index {
            part.vps.push(VpState::reset(P::default()));
        }
        // The messages queued for the VP's old state go with it, and
        // their buffers back to their ports' pools.
        part.vps[index].drop_queued(&mut part.ports);
        part.vps[index] = VpState::reset(pages);
        true
    }

    /// Takes VP `vp`'s pages away (the VP is gone and its frames go back):
    /// it keeps [`Default`] pages, and its queued messages and timers stop
    /// mattering until [`add_vp`](Self::add_vp) gives the index pages
    /// again. Returns the pages it had.
    pub fn take_pages(&mut self, partition: PartitionRef, vp: u32) -> Option<P>
    where
        P: Default,
    {
        let part = self.partition_mut(partition)?;
        let state = part.vps.get_mut(vp as usize)?;
        state.drop_queued(&mut part.ports);
        let pages = core::mem::take(&mut state.pages);
        *state = VpState::reset(P::default());
        Some(pages)
    }

    pub(crate) fn partition(&self, partition: PartitionRef) -> Option<&PartitionState<P>> {
        self.partitions.get(partition.0 as usize)
    }

    pub(crate) fn partition_mut(
        &mut self,
        partition: PartitionRef,
    ) -> Option<&mut PartitionState<P>> {
        self.partitions.get_mut(partition.0 as usize)
    }

    fn vp(&self, partition: PartitionRef, vp: u32) -> Option<&VpState<P>> {
        self.partition(partition)?.vps.get(vp as usize)
    }

    fn vp_mut(&mut self, partition: PartitionRef, vp: u32) -> Option<&mut VpState<P>> {
        self.partition_mut(partition)?.vps.get_mut(vp as usize)
    }

    /// The partition's VP count (0 for an unknown partition).
    #[must_use]
    pub fn vp_count(&self, partition: PartitionRef) -> u32 {
        self.partition(partition).map_or(0, |p| p.vps.len() as u32)
    }

    /// The partition's policy.
    #[must_use]
    pub fn policy(&self, partition: PartitionRef) -> Option<PartitionPolicy> {
        Some(self.partition(partition)?.policy)
    }

    /// The event routes `partition` publishes for its connections.
    #[must_use]
    pub fn event_routes(&self, partition: PartitionRef) -> Option<&EventRouteTable<ROUTE_SLOTS>> {
        Some(&self.partition(partition)?.routes)
    }

    /// A VP's SynIC registers.
    #[must_use]
    pub fn registers(&self, partition: PartitionRef, vp: u32) -> Option<&SynicRegisters> {
        Some(&self.vp(partition, vp)?.registers)
    }

    /// A VP's timer.
    #[must_use]
    pub fn timer(&self, partition: PartitionRef, vp: u32, timer: TimerIndex) -> Option<&Stimer> {
        Some(&self.vp(partition, vp)?.timers[timer.index()])
    }

    /// A VP's pages.
    #[must_use]
    pub fn pages(&self, partition: PartitionRef, vp: u32) -> Option<&P> {
        Some(&self.vp(partition, vp)?.pages)
    }

    /// A VP's pages, for the guest's side of the protocol (tests).
    pub fn pages_mut(&mut self, partition: PartitionRef, vp: u32) -> Option<&mut P> {
        Some(&mut self.vp_mut(partition, vp)?.pages)
    }

    /// The messages queued for a VP's SINT, oldest first, port messages
    /// only (a timer's expiration waits in [`Stimer::buffered`]).
    pub fn queued(
        &self,
        partition: PartitionRef,
        vp: u32,
        sint: Sint,
    ) -> impl Iterator<Item = &HvMessage> {
        let found = self
            .partition(partition)
            .and_then(|p| Some((p, p.vps.get(vp as usize)?)));
        found
            .into_iter()
            .flat_map(move |(p, state)| state.queues[sint.index()].messages(&p.ports))
    }

    /// Stores a SynIC register the component validated (and validates it
    /// again: a component's reply is input like any other), then does what
    /// the write asks: an overlay change, and for EOM or a newly enabled
    /// SCONTROL or SIMP, delivery of what waits.
    ///
    /// # Errors
    ///
    /// [`GeneralProtection`] for a value the register refuses, or an
    /// unknown partition or VP.
    pub fn write_synic(
        &mut self,
        partition: PartitionRef,
        vp: u32,
        msr: SynicMsr,
        value: u64,
        now: u64,
    ) -> Result<Applied, GeneralProtection> {
        let part = self.partition_mut(partition).ok_or(GeneralProtection)?;
        let policy = part.policy.registers;
        let state = part.vps.get_mut(vp as usize).ok_or(GeneralProtection)?;
        let effect = state.registers.write(vp, msr, value, &policy)?;
        let mut applied = Applied {
            overlay: effect.overlay,
            deliveries: Deliveries::new(),
        };
        if effect.rescan {
            part.pump_all(partition, vp as usize, now, &mut applied.deliveries);
        }
        Ok(applied)
    }

    /// The guest ended interrupt `vector` on VP `vp` (an EOI, or the
    /// implicit one of AutoEOI): the SINTs with that vector deliver what
    /// waits for them.
    pub fn eoi(&mut self, partition: PartitionRef, vp: u32, vector: u8, now: u64) -> Deliveries {
        let mut out = Deliveries::new();
        let Some(part) = self.partition_mut(partition) else {
            return out;
        };
        for sint in Sint::ALL {
            let matches = part
                .vps
                .get(vp as usize)
                .is_some_and(|state| state.registers.sint(sint).vector() == vector);
            if matches && let Some(delivery) = part.pump(partition, vp as usize, sint, now) {
                let _ = out.push(delivery);
            }
        }
        out
    }
}
