//! The end of a component: its threads stop, whoever waited on it is
//! woken, everything it held goes as if it had deleted each capability (so
//! a dead manager's partitions, regions and endpoints do not leak: issue 9
//! finding 4), its memory returns to the pool, and once no capability
//! names the domain its record, threads and root go too, and its quota
//! returns to the domain that made it. A domain ends when it exits or
//! faults, when its last capability is deleted, and when nothing that can
//! run names it (`unreachable_domains`).
use crate::memory::charged::Charged;
use crate::state::{Ending, Kernel};
use tessera_abi::CSPACE_SLOTS;
use tessera_capability::{DomainId, SlotAddr, ThreadId};

impl Kernel {
    /// Stops every thread of a component and takes back what it held.
    pub fn end_domain(&mut self, domain: DomainId, ending: Ending) {
        let Some(record) = self.domains.get_mut(domain) else {
            return;
        };
        if record.ending.is_some() {
            return;
        }
        record.ending = Some(ending);
        record.ending_now = true;
        let cspace = record.cspace;
        self.forget_component_timers(domain);
        let free_before = crate::memory::frames::free_frames();
        let cpu = crate::percpu::current_index() as usize;
        // The VPs its threads run go: each stops (on its CPU if it is in
        // its guest) and leaves any call it is in.
        loop {
            let next = self
                .vps
                .iter()
                .find(|(_, vp)| {
                    !vp.destroyed
                        && self
                            .threads
                            .get(&vp.thread)
                            .is_some_and(|t| t.domain == domain)
                })
                .map(|(id, _)| id);
            let Some(vp) = next else {
                break;
            };
            self.destroy_vp(vp);
        }
        loop {
            let next = self
                .threads
                .iter()
                .find(|(_, t)| t.domain == domain && !t.dead && t.vp.is_none())
                .map(|(id, _)| id);
            let Some(thread) = next else {
                break;
            };
            self.thread(thread).dead = true;
            self.sched.forget(thread);
        }
        self.waking(|ipc, wake| ipc.domain_died(domain, wake));
        for selector in 0..CSPACE_SLOTS {
            let _ = self.delete_cap(SlotAddr::new(cspace, selector), cpu);
        }
        if let Some(record) = self.domains.get_mut(domain) {
            let mut charged = Charged::to(&mut self.caps, record.cspace);
            let freed = record.space.release_user_memory(&mut charged);
            record.ending_now = false;
            let free = crate::memory::frames::free_frames();
            log::info!(
                "component {}: {} KiB of memory returned to the frame pool; with what it held, {} frames came back ({free} free)",
                record.name,
                freed / 1024,
                free.saturating_sub(free_before)
            );
            // A thread of it may still run in ring 3 on another CPU (one
            // of several threads, or ended by another domain's call): that
            // CPU drops its translations of the pages just freed before
            // the kernel lock is released, and so before any of them can
            // be handed out again. It then finds nothing mapped, faults,
            // and leaves the dead thread.
            crate::tlb::shoot_down(self, domain, cpu);
        }
        self.reap_domains();
    }

    /// The last capability to `domain` went: nobody can ever stop it, give
    /// it work or take back what it holds, so it ends now (as in seL4,
    /// where deleting the last capability to a thread destroys it) and is
    /// reaped. A component meant to outlive its maker's capabilities holds
    /// one to itself: init gives each component its own (slot 0).
    pub fn domain_unnamed(&mut self, domain: DomainId) {
        let Some(record) = self.domains.get_mut(domain) else {
            return;
        };
        record.unnamed = true;
        if record.ending.is_none() {
            log::info!(
                "component {}: its last capability was deleted; it ends",
                record.name
            );
            self.end_domain(domain, Ending::Abandoned);
        }
        self.reap_domains();
    }

    /// The last capability to `thread` went. A thread never started can
    /// now never start (`ThreadStart` takes that capability): it is dead.
    /// A started thread runs on without a capability, as init's do.
    /// (Whether its domain is left with nothing that can run is
    /// `end_unreachable_domains`' to find.)
    pub fn thread_unnamed(&mut self, thread: ThreadId) {
        let Some(record) = self.threads.get(&thread) else {
            return;
        };
        if record.started || record.dead {
            return;
        }
        self.thread(thread).dead = true;
        self.sched.forget(thread);
    }

    /// Reaps the domains that waited for another CPU to leave their
    /// address space, if any did.
    pub fn reap_if_pending(&mut self) {
        if core::mem::take(&mut self.reap_pending) {
            self.reap_domains();
        }
    }

    /// Every domain that has ended, that no capability names, whose VPs are
    /// gone and whose address space no CPU still holds gives back its threads' records,
    /// its root and its slot; its capability space goes once nothing it
    /// paid for is left (`CapTable::retire_cspace`), returning its quota
    /// to its parent.
    pub fn reap_domains(&mut self) {
        let this_cpu = crate::percpu::current_index() as usize;
        let cpus = self.sched.cpus();
        let mut after = None;
        while let Some(domain) = self.domains.next_id(after) {
            after = Some(domain);
            let Some(record) = self.domains.get(domain) else {
                continue;
            };
            let root = record.space.root();
            let reapable = record.unnamed && record.ending.is_some() && !record.ending_now;
            // A VP its thread ran is still leaving its CPU: it reaps the
            // domain when it goes (`reap_vp`).
            let vps_left = self.vps.iter().any(|(_, vp)| {
                self.threads
                    .get(&vp.thread)
                    .is_some_and(|t| t.domain == domain)
            });
            if !reapable || vps_left {
                continue;
            }
            if crate::tlb::root_in_use_elsewhere(root.start_address().as_u64(), cpus, this_cpu) {
                // That CPU reaps it once it has loaded another root
                // (`reap_if_pending`, from the scheduler).
                self.reap_pending = true;
                continue;
            }
            // Its threads are dead and off every CPU (nothing loads its
            // root any more), and a VP thread of its went with its VP.
            loop {
                let next = self
                    .threads
                    .iter()
                    .find(|(_, t)| t.domain == domain)
                    .map(|(id, _)| id);
                let Some(thread) = next else {
                    break;
                };
                self.sched.forget(thread);
                let _ = self.ipc.remove_thread(thread, &mut |_| {});
                self.threads.remove(&thread);
            }
            let Some(record) = self.domains.remove(domain) else {
                continue;
            };
            if x86_64::registers::control::Cr3::read().0 == root {
                crate::tlb::unload_user_root(this_cpu);
            }
            let mut charged = Charged::to(&mut self.caps, record.cspace);
            record.space.release_root(&mut charged);
            let _ = self.caps.retire_cspace(record.cspace, &mut |_| {});
        }
    }
}
