//! Posted port writes (`tessera_abi::vm::posted`): an `OUT` to a port its
//! route posts is completed here, the write queued for the route's
//! handler, and the VP goes straight back to its guest. The handler gets
//! the queue ahead of the next message the route sends it, so it sees the
//! guest's accesses in order; a VP that halts, or leaves its guest for a
//! host interrupt, first hands over what waits, so no write waits longer
//! than a time slice. A full queue, or any other exit, takes the usual
//! way, behind what is queued.
//!
//! Linux's console writes a character as a line-status read and a
//! transmit-register write: posting the write halves the exits that cross
//! into `devices` (`cargo xtask bench linux`).
use super::fast::FastPartition;
use super::forward::Pending;
use super::{Route, VpVmcb};
use crate::sched::Keep;
use crate::state::Kernel;
use core::sync::atomic::{AtomicUsize, Ordering};
use tessera_abi::vm::posted::QUEUE_WRITES;
use tessera_capability::VpId;
use tessera_exit_protocol::Exit;
use tessera_svm::EventInjection;
use tessera_vcpu::posted_writes::{PostedPorts, PostedQueue};

/// Routes of one partition that may post writes.
pub const MAX_POSTED_ROUTES: usize = 4;

/// One route's posted ports and its queue.
#[derive(Debug)]
pub struct PostedRoute {
    ports: PostedPorts,
    queue: spin::Mutex<PostedQueue>,
}

/// A partition's posting routes, readable without the kernel lock:
/// append-only, each published (Release) before the count that covers it.
#[derive(Debug, Default)]
pub struct PostedRoutes {
    routes: [spin::Once<PostedRoute>; MAX_POSTED_ROUTES],
    count: AtomicUsize,
}

impl PostedRoutes {
    /// Adds a posting route (with the kernel lock held: one writer); its
    /// index, or `None` when the partition has [`MAX_POSTED_ROUTES`].
    pub fn add(&self, ports: PostedPorts) -> Option<u8> {
        let index = self.count.load(Ordering::Relaxed);
        let slot = self.routes.get(index)?;
        slot.call_once(|| PostedRoute {
            ports,
            queue: spin::Mutex::new(PostedQueue::new()),
        });
        self.count.store(index + 1, Ordering::Release);
        u8::try_from(index).ok()
    }

    /// Whether the partition has a posting route.
    #[inline(always)]
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    fn published(&self) -> impl Iterator<Item = &PostedRoute> {
        let count = self.count.load(Ordering::Acquire);
        self.routes[..count.min(MAX_POSTED_ROUTES)]
            .iter()
            .filter_map(spin::Once::get)
    }

    /// Takes route `index`'s queued writes into `out`; how many.
    fn take(&self, index: u8, out: &mut [u64; QUEUE_WRITES]) -> usize {
        match self
            .routes
            .get(usize::from(index))
            .and_then(spin::Once::get)
        {
            Some(route) => route.queue.lock().drain(out),
            None => 0,
        }
    }

    /// The index of a route other than `except` with writes waiting.
    fn waiting(&self, except: Option<u8>) -> Option<u8> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let index = self.published().enumerate().position(|(index, route)| {
            Some(index) != except.map(usize::from) && !route.queue.lock().is_empty()
        })?;
        u8::try_from(index).ok()
    }
}

/// Completes the port exit in `vmcb` if it is an `OUT` a route of
/// `partition` posts and that route's queue has room: the write is queued
/// and RIP moves past the instruction (`EXITINFO2`, APM §15.10.2).
/// `false` leaves the exit, untouched, to the other paths.
///
/// Out of the VP's loop (where only [`PostedRoutes::any`] is asked), so
/// that partitions that post nothing keep their hot exits' registers.
#[inline(never)]
pub fn post(vmcb: &mut VpVmcb, partition: &FastPartition) -> bool {
    let (info, rax) = (vmcb.control.exit_info1, vmcb.save.rax);
    for route in partition.posted.published() {
        if let Some(word) = route.ports.post_of(info, rax) {
            if !route.queue.lock().push(word) {
                return false;
            }
            let next_rip = vmcb.control.exit_info2;
            *vmcb.rip_mut() = next_rip;
            *vmcb.event_inj_mut() = EventInjection::NONE;
            return true;
        }
    }
    false
}

impl Kernel {
    /// What posted writes need before VP `vp`'s exit message (waiting as
    /// `pending`) goes to `route`. Only for a VP whose partition posts
    /// (`Vp::routes_post`), and out of line: most partitions post nothing.
    ///
    /// The writes the partition's other routes posted were made before the
    /// exit, so they reach their handlers first (`Some`: the VP waits for
    /// that, then makes its instruction again; a guest's last line on COM1
    /// before it writes its exit port must not be lost). That needs an
    /// instruction the handler completes: messages the kernel makes up
    /// (lifecycle, interrupt acknowledge, an EOI broadcast) go at once, and
    /// the writes follow at the VP's next halt, host interrupt or access.
    /// Then `route`'s own queue goes ahead of the message.
    #[cold]
    #[inline(never)]
    pub(super) fn posted_before_forward(
        &mut self,
        cpu: usize,
        vp: VpId,
        route: &Route,
        pending: &Pending,
    ) -> Option<Keep> {
        if !pending.lifecycle
            && pending.next_rip.is_some()
            && let Some(keep) = self.flush_posted_except(cpu, vp, route.posted)
        {
            return Some(keep);
        }
        self.hand_over_posted(vp, route);
        None
    }

    /// Puts the writes `route` posted ahead of VP `vp`'s exit message, as
    /// it goes to the route's handler.
    fn hand_over_posted(&mut self, vp: VpId, route: &Route) {
        let Some(index) = route.posted else {
            return;
        };
        let Some(record) = self.vps.get_mut(vp) else {
            return;
        };
        let Some(partition) = self.partitions.get(record.partition) else {
            return;
        };
        let mut writes = [0; QUEUE_WRITES];
        let count = partition.fast.posted.take(index, &mut writes);
        if count != 0 && !record.exit_message.prepend_posted(&writes[..count]) {
            // Every exit message has room for a full queue
            // (`tessera_exit_protocol::EXIT_BUFFER_WORDS`).
            log::error!("kernel bug: {count} posted writes did not fit an exit message");
        }
    }

    /// If a route of VP `vp`'s partition holds posted writes, sends them to
    /// its handler in a `TESSERA_POSTED_WRITES` message (the VP waits for
    /// the reply, then goes on where it was); `None` when none wait.
    #[cold]
    #[inline(never)]
    pub(super) fn flush_posted(&mut self, cpu: usize, vp: VpId) -> Option<Keep> {
        self.flush_posted_except(cpu, vp, None)
    }

    fn flush_posted_except(&mut self, cpu: usize, vp: VpId, except: Option<u8>) -> Option<Keep> {
        let partition = self.partitions.get(self.vps.get(vp)?.partition)?;
        let index = partition.fast.posted.waiting(except)?;
        let route = *partition
            .routes
            .iter()
            .find(|route| route.posted == Some(index))?;
        let exit = Exit::PostedWrites;
        if !self.start_exit(vp, &exit) {
            return Some(Keep::Blocked);
        }
        let pending = Pending::routed(&exit, super::forward::PendingKind::Other, None);
        Some(self.forward_exit(cpu, vp, route, pending))
    }
}
