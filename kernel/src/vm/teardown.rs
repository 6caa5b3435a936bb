//! What deleting a VP's or a partition's last capability does: the VP
//! leaves its CPU, and both are reaped once no CPU still holds them.
use super::tables::{self, KernelTables};
use super::{VpState, guest_state};
use crate::memory::charged::Charged;
use crate::state::Kernel;
use tessera_capability::{PartitionId, VpId};

impl Kernel {
    /// The last capability to a VP went (or its partition's, or the
    /// component whose thread runs it died): it stops and never runs
    /// again, and its record, VMCB and message buffer go once no CPU runs
    /// it. A VP waiting for a handler leaves the call at once (the
    /// handler's reply then finds no caller), so a handler that never
    /// answers, or answers after the capabilities are gone, cannot keep
    /// it, its partition and the partition's ASID alive (issue 9 finding 4).
    pub fn destroy_vp(&mut self, vp: VpId) {
        let Some(record) = self.vps.get_mut(vp) else {
            return;
        };
        record.destroyed = true;
        let (thread, state) = (record.thread, record.state);
        let on_a_cpu = (0..self.sched.cpus()).any(|cpu| self.sched.running(cpu) == Some(thread));
        match state {
            VpState::Stopped => {}
            // Not on a CPU (blocked, halted, or only queued): nothing of it
            // runs while it stops here.
            VpState::AwaitingReply(_)
            | VpState::Parked
            | VpState::Runnable
            | VpState::WaitForSipi
                if !on_a_cpu =>
            {
                let Some(record) = self.vps.get_mut(vp) else {
                    return;
                };
                record.state = VpState::Stopped;
                record.stop_requested = false;
                let _ = self.ipc.thread_died(thread, &mut |_| {});
                self.sched.forget_queued(thread);
                log::info!("{}: stopped", self.vp_name(vp));
                self.wake_stop_waiter(vp);
            }
            _ => {
                // On its CPU (in its guest, or about to be): it stops
                // there, at its next exit (`prepare_entry`,
                // `settle_destroyed`), which reaps it.
                let Some(record) = self.vps.get_mut(vp) else {
                    return;
                };
                record.stop_requested = true;
                let cpu = record.cpu;
                self.sched.kick(cpu);
                return;
            }
        }
        self.reap_vp(vp);
    }

    /// After a destroyed VP's exit left it blocked (on a handler, or in
    /// HLT) instead of stopped: it goes now.
    pub fn settle_destroyed(&mut self, vp: VpId) {
        if self
            .vps
            .get(vp)
            .is_some_and(|v| v.destroyed && v.state != VpState::Stopped)
        {
            self.destroy_vp(vp);
        }
    }

    /// The last capability to a partition went: its VPs go, its memory
    /// mappings go (the regions' frames belong to the regions), and the
    /// partition itself once its last VP has left its CPU.
    pub fn destroy_partition(&mut self, partition: PartitionId, cpu: usize) {
        let Some(target) = self.partitions.get_mut(partition) else {
            return;
        };
        target.destroyed = true;
        let vps = target.vps.clone();
        for vp in vps {
            self.destroy_vp(vp);
        }
        self.unmap_gpa_where(partition, cpu, |_| true);
        if let Some(target) = self.partitions.get(partition) {
            let (name, payer) = (target.name.clone(), target.payer);
            component_log!(self, payer, log::Level::Info, "partition {name}: destroyed");
        }
        self.reap_partition(partition);
    }

    /// A destroyed, stopped VP that no other CPU runs gives back its
    /// record, thread, VMCB and message buffer (refunded to its creator);
    /// its partition, if destroyed and now without VPs, follows.
    pub(super) fn reap_vp(&mut self, vp: VpId) {
        let this_cpu = crate::percpu::current_index() as usize;
        let Some(record) = self.vps.get(vp) else {
            return;
        };
        let elsewhere = (0..self.sched.cpus())
            .any(|cpu| cpu != this_cpu && self.sched.running(cpu) == Some(record.thread));
        // A CPU that still runs it reaps it when it stops it there.
        if !record.destroyed || record.state != VpState::Stopped || elsewhere {
            return;
        }
        let Some(record) = self.vps.remove(vp) else {
            return;
        };
        let record = *record;
        guest_state::forget(record.cpu, vp);
        self.sched.forget(record.thread);
        let _ = self.ipc.remove_thread(record.thread, &mut |_| {});
        self.threads.remove(&record.thread);
        self.synic_release_vp(record.partition, record.index, record.payer);
        let mut charged = Charged::to(&mut self.caps, record.payer);
        charged.give(record.vmcb.into_storage().into_frame());
        charged.give(record.message_buffer);
        if let Some(target) = self.partitions.get_mut(record.partition) {
            target.vps.retain(|&v| v != vp);
            target.exit_stats.vp_gone(&record.exit_counts);
        }
        self.reap_partition(record.partition);
        // The VP may have been the last thing of an ended domain.
        self.reap_domains();
    }

    /// A destroyed partition whose VPs are all gone gives back what it
    /// holds: its overlay pages, its nested page tables (refunded to its
    /// creator) and its ASID.
    fn reap_partition(&mut self, partition: PartitionId) {
        let Some(target) = self.partitions.get(partition) else {
            return;
        };
        if !target.destroyed || !target.vps.is_empty() {
            return;
        }
        let Some(target) = self.partitions.remove(partition) else {
            return;
        };
        super::exit_stats::partition_gone(&target);
        let mut tables = KernelTables::charged(Charged::to(&mut self.caps, target.payer));
        for overlay in target.space.destroy(&mut tables) {
            // A SynIC page's frame is its VP's, given back with the VP.
            if !super::synic::is_synic_overlay(overlay.id) {
                tables.give_frame(x86_64::PhysAddr::new(overlay.frame));
            }
        }
        tables::free_asid(target.asid);
        component_log!(
            self,
            target.payer,
            log::Level::Info,
            "partition {}: its VPs, tables and ASID are returned",
            target.name
        );
    }
}
