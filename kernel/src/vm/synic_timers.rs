//! The synthetic timers in the running system (TLFS md `timers.md`; the
//! arithmetic is `tessera_synic::timer`): the STIMER MSRs answered in the
//! kernel, the timers polled at entries, at HLT and when the CPU timer
//! wakes a halted VP, and the host TSC of each VP's next deadline, for
//! which its CPU's timer is armed.
use super::exits::Next;
use super::synic::ONLY;
use crate::state::Kernel;
use tessera_capability::VpId;
use tessera_synic::{Deliveries, StimerMsr};

/// Whether one of VP `index`'s synthetic timers in `partition` is armed
/// (what `Kernel::poll_synic_timers` would poll).
pub fn synic_timer_armed(partition: &super::Partition, index: u32) -> bool {
    partition
        .synic
        .as_ref()
        .is_some_and(|s| s.next_deadline(ONLY, index).is_some())
}

impl Kernel {
    /// RDMSR/WRMSR of `STIMERn_CONFIG`/`COUNT` (the privilege was checked
    /// by `tessera_hv1::synthetic_msr`): answered here, since expiry
    /// changes the configuration (README § "Who handles each exit").
    /// `None`: not a timer MSR, or no SynIC.
    pub(super) fn stimer_msr(
        &mut self,
        vp: VpId,
        msr: u32,
        write: Option<u64>,
        next_rip: u64,
    ) -> Option<Next> {
        let timer = StimerMsr::from_msr(msr)?;
        let record = self.vps.get(vp)?;
        let (partition, index) = (record.partition, record.index);
        let now = self.reference_now(partition);
        let synic = self.synic_of_mut(partition)?;
        let result = match write {
            None => synic.read_timer(ONLY, index, timer).map(|value| {
                let record = self.vps.get_mut(vp);
                if let Some(record) = record {
                    *record.vmcb.rax_mut() = value & 0xFFFF_FFFF;
                    record.gprs.rdx = value >> 32;
                }
                Deliveries::new()
            }),
            Some(value) => synic.write_timer(ONLY, index, timer, value, now),
        };
        let Ok(deliveries) = result else {
            return Some(self.fault(vp));
        };
        self.deliver_synic(partition, &deliveries);
        if let Some(record) = self.vps.get_mut(vp) {
            *record.vmcb.rip_mut() = next_rip;
        }
        Some(Next::Resume)
    }

    /// VP `vp`'s timers at reference time now: what expired is delivered.
    /// Returns the host TSC of its next timer deadline.
    /// Without a SynIC or an armed timer it reads no clock (it runs at
    /// every locked entry).
    pub(super) fn poll_synic_timers(&mut self, vp: VpId) -> Option<u64> {
        let record = self.vps.get(vp)?;
        let (partition, index) = (record.partition, record.index);
        self.synic_of(partition)?.next_deadline(ONLY, index)?;
        let now = self.reference_now(partition);
        let synic = self.synic_of_mut(partition)?;
        let deliveries = synic.poll_timers(ONLY, index, now);
        if !deliveries.is_empty() {
            self.deliver_synic(partition, &deliveries);
        }
        self.synic_deadline(vp)
    }

    /// The host TSC of VP `vp`'s next synthetic timer deadline.
    pub(super) fn synic_deadline(&self, vp: VpId) -> Option<u64> {
        let record = self.vps.get(vp)?;
        let target = self.partitions.get(record.partition)?;
        let deadline = target.synic.as_ref()?.next_deadline(ONLY, record.index)?;
        // Never early: `ReferenceCounter::tsc_after` (host-tested).
        Some(
            target
                .hv1
                .as_ref()?
                .msrs
                .reference_counter()
                .tsc_after(deadline),
        )
    }
}
