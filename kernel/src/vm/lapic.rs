//! A VP's local APIC in the kernel: the `tessera_lapic` model wired to SVM
//! as `kernel/lapic/README.md` describes. The kernel answers every access
//! itself (no component is involved): the x2APIC MSRs, `IA32_APIC_BASE`
//! and `IA32_TSC_DEADLINE` at the MSR intercept, the xAPIC page at the
//! nested page fault of its unmapped GPA (decoded with
//! `tessera_vcpu::mmio`), and the APIC's CPUID bits. Injection before each
//! entry is in `lapic_inject`, the timer's host side in `lapic_timer`.
//!
//! An IPI that can reach only the sender is taken into its APIC here; any
//! other goes through `lapic_ipi` (posted to each VP it reaches). No I/O
//! APIC yet: level EOI broadcasts go nowhere.
use super::Vp;
use super::exits::{Next, general_protection};
use crate::state::Kernel;
use core::num::NonZeroU64;
use tessera_abi::vm::apic as choice;
use tessera_capability::VpId;
use tessera_lapic::{ApicConfig, Effect, LocalApic, Received, TimerClock, resolve};
use tessera_vcpu::mmio::Op;

/// Which APIC a partition's VPs get (`PartitionCreate` word 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApicChoice {
    None,
    Xapic,
    X2apic,
}

impl ApicChoice {
    /// The choice word `word` names, if any.
    pub fn from_word(word: u64) -> Option<Self> {
        match word {
            choice::NONE => Some(Self::None),
            choice::XAPIC => Some(Self::Xapic),
            choice::X2APIC => Some(Self::X2apic),
            _ => None,
        }
    }

    /// VP `index`'s APIC after power-on (APIC ID = VP index, VP 0 the
    /// BSP), or none.
    pub fn new_apic(self, index: u32) -> Option<LocalApic> {
        if self == Self::None {
            return None;
        }
        // The calibrated TSC rate (what HV_X64_MSR_TSC_FREQUENCY reports).
        let tsc_hz = crate::arch::tsc::frequency_hz().max(1);
        Some(LocalApic::new(ApicConfig {
            id: index,
            bsp: index == 0,
            x2apic: self == Self::X2apic,
            tsc_deadline: true,
            // No I/O APIC with an EOI register yet.
            eoi_broadcast_suppression: false,
            physical_address_bits: super::hv1::GPA_BITS,
            clock: TimerClock {
                tsc_hz: NonZeroU64::new(tsc_hz).expect("non-zero"),
                apic_hz: tessera_lapic::timer::DEFAULT_APIC_HZ,
            },
        }))
    }
}

/// The guest's TSC now (host TSC plus the VMCB's offset).
pub fn guest_tsc(vp: &Vp) -> u64 {
    crate::arch::tsc::read().wrapping_add(vp.vmcb.control.tsc_offset)
}

/// An IPI `apic` sent that can reach no other APIC (the self shorthand,
/// or any destination in a partition of one VP), to `apic` itself if its
/// destination names it; `Dropped` otherwise.
#[inline]
pub fn deliver_own(apic: &mut LocalApic, message: &tessera_lapic::Message) -> Received {
    // A self-IPI without building the APIC's address: `resolve` names
    // the sender exactly when it is enabled, and `receive` drops
    // everything at a disabled APIC anyway.
    if message.target == tessera_lapic::Target::SelfOnly {
        return apic.receive(message);
    }
    let own = [apic.address()];
    if resolve(&message.target, Some(0), &own).contains(0) {
        apic.receive(message)
    } else {
        Received::Dropped
    }
}

/// The CPUID leaves whose answer depends on the APIC (`tessera_lapic::
/// cpuid::apply`): the lock-free path leaves them to the locked one for a
/// VP with an APIC, except leaf 1, which is in the VP's fixed table.
pub const APIC_LEAVES: [u32; 3] = [1, 6, 0xB];

impl Vp {
    /// `regs`, the answer to CPUID `leaf`, with this VP's APIC bits.
    pub fn apic_cpuid(&self, leaf: u32, regs: [u32; 4]) -> [u32; 4] {
        match &self.apic {
            Some(apic) => tessera_lapic::cpuid::apply(apic, leaf, regs),
            None => regs,
        }
    }

    /// At a partition reset, the machine's RESET: the APIC back in its
    /// power-on state (SDM Vol. 3A §10.4.7.1), its timer disarmed and
    /// nothing pending, so no interrupt of the old run reaches the new one.
    pub fn reset_apic(&mut self, choice: ApicChoice) {
        if choice == ApicChoice::None {
            return;
        }
        self.apic = choice.new_apic(self.index);
        self.startup = tessera_lapic::StartupState::new(self.index == 0);
        self.posted = Default::default();
        self.lazy_eoi = Default::default();
        self.refresh_apic_cpuid();
        // An interrupt window asked for the old run.
        self.vmcb.v_intr_mut().set_v_irq(false);
        self.vmcb
            .intercepts_mut()
            .set(tessera_svm::Intercept::Vintr, false);
    }

    /// Brings the lock-free path's copy of leaf 1 in line with the APIC
    /// (its APIC bit follows `IA32_APIC_BASE`'s global enable).
    pub fn refresh_apic_cpuid(&mut self) {
        let Some(index) = tessera_vcpu::cpuid::FixedLeaves::index(1) else {
            return;
        };
        let base = super::guest_cpu::fixed_leaves()
            .answer_at(index, self.index)
            .map(u64::from);
        let regs = base.map(|r| r as u32);
        self.fixed_cpuid[index] = self.apic_cpuid(1, regs).map(u64::from);
    }

    /// What a register write asked for that the VP's own APIC carries out
    /// here; what is left for the kernel comes back: an IPI for
    /// [`Kernel::deliver_interrupt`] unless it can reach only this VP (the
    /// self shorthand, or a partition of one VP), which is taken at once,
    /// or the vector of an EOI broadcast for the partition's I/O APIC
    /// (`device_interrupt`). Timer changes are read before the next entry.
    pub fn apply_effect(&mut self, effect: Effect, solo: bool) -> Followup {
        let Some(apic) = self.apic.as_mut() else {
            return Followup::None;
        };
        let message = match effect {
            Effect::Send(message) => message,
            Effect::EoiBroadcast(vector) => return Followup::EoiBroadcast(vector),
            Effect::TimerChanged | Effect::None => return Followup::None,
        };
        let fixed = matches!(
            message.mode,
            tessera_lapic::DeliveryMode::Fixed | tessera_lapic::DeliveryMode::LowestPriority
        );
        if !fixed || !(solo || message.target == tessera_lapic::Target::SelfOnly) {
            return Followup::Send(message);
        }
        deliver_own(apic, &message);
        Followup::None
    }

    /// Completes an APIC register's RDMSR (the value read) or WRMSR
    /// (`None`): RIP past it, or #GP with RIP left on the instruction.
    pub fn complete_apic_msr(
        &mut self,
        answer: Result<Option<u64>, tessera_lapic::GeneralProtection>,
        next_rip: u64,
    ) -> Next {
        match answer {
            Err(_) => *self.vmcb.event_inj_mut() = general_protection(),
            Ok(read) => {
                if let Some(value) = read {
                    *self.vmcb.rax_mut() = value & 0xFFFF_FFFF;
                    self.gprs.rdx = value >> 32;
                }
                *self.vmcb.rip_mut() = next_rip;
            }
        }
        Next::Resume
    }

    /// Publishes the APIC's priority for lowest-priority arbitration
    /// (`published_priority`), before an entry.
    pub fn publish_priority(&self) {
        if let Some(apic) = &self.apic {
            self.published_priority.store(
                apic.published_priority(),
                core::sync::atomic::Ordering::Relaxed,
            );
        }
    }

    /// The APIC's TPR after a `MOV CR8` the guest made without an exit
    /// (`lapic_inject::tpr_from_vmcb`).
    pub fn tpr_from_vmcb(&mut self) {
        if let Some(apic) = self.apic.as_mut() {
            super::lapic_inject::tpr_from_vmcb(&self.vmcb, apic);
        }
    }
}

/// What an APIC register write leaves for the kernel beyond the VP's own
/// APIC (`Vp::apply_effect`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Followup {
    None,
    /// An IPI to deliver within the partition.
    Send(tessera_lapic::Message),
    /// A level-triggered vector ended: the EOI goes to the I/O APIC.
    EoiBroadcast(u8),
}

impl Kernel {
    /// Carries out `followup` of VP `vp`'s completed APIC write, whose
    /// answer was `next`: an IPI is delivered, an EOI broadcast forwarded
    /// to the partition's `EOI` route (the VP then waits for it).
    pub fn follow_up(&mut self, cpu: usize, vp: VpId, followup: Followup, next: Next) -> Next {
        match followup {
            Followup::None => next,
            Followup::Send(message) => {
                if let Some(record) = self.vps.get(vp) {
                    let (partition, index) = (record.partition, record.index);
                    self.deliver_interrupt(partition, Some(index), &message);
                }
                next
            }
            Followup::EoiBroadcast(vector) => self.eoi_broadcast(cpu, vp, Some(vector)),
        }
    }

    /// Whether VP `vp` is its partition's only one.
    pub fn solo(&self, vp: VpId) -> bool {
        self.vps
            .get(vp)
            .and_then(|record| self.partitions.get(record.partition))
            .is_none_or(|partition| partition.vps.len() <= 1)
    }

    /// RDMSR/WRMSR of an APIC MSR (`tessera_lapic::is_apic_msr`) by a VP
    /// with an APIC; `None` for other MSRs and VPs without one. Misuse is
    /// #GP as the model says, with RIP left on the instruction.
    pub fn apic_msr(
        &mut self,
        cpu: usize,
        vp: VpId,
        number: u32,
        write: Option<u64>,
        next_rip: u64,
    ) -> Option<Next> {
        let solo = self.solo(vp);
        let record = self.vps.get_mut(vp)?;
        if !tessera_lapic::is_apic_msr(number) || record.apic.is_none() {
            return None;
        }
        let now = guest_tsc(record);
        let apic = record.apic.as_mut()?;
        let mut followup = Followup::None;
        let answer = match write {
            None => apic.read_msr(number, now).map(Some),
            Some(value) => apic.write_msr(number, value, now).map(|effect| {
                followup = record.apply_effect(effect, solo);
                None
            }),
        };
        let next = record.complete_apic_msr(answer, next_rip);
        if number == tessera_lapic::base::IA32_APIC_BASE && write.is_some() {
            record.refresh_apic_cpuid();
        }
        if write.is_some() {
            self.refresh_apic_address(vp);
        }
        Some(self.follow_up(cpu, vp, followup, next))
    }

    /// A nested page fault on VP `vp`'s xAPIC page: the access decoded and
    /// answered here; `None` if `gpa` is not that page (or the VP has no
    /// APIC in xAPIC mode). An instruction the decoder does not know stops
    /// the VP through its lifecycle handler, as an unroutable access does.
    pub fn apic_page_access(&mut self, cpu: usize, vp: VpId, gpa: u64) -> Option<Next> {
        let record = self.vps.get(vp)?;
        let base = record.apic.as_ref()?.mmio_base()?;
        if gpa & !0xFFF != base {
            return None;
        }
        let partition = self.partitions.get(record.partition)?;
        let (decoded, _) = super::mmio::decode(&record.vmcb, &record.gprs, partition.space.npt());
        let Some(access) = decoded else {
            let unsupported = super::lifecycle_route::unsupported(tessera_svm::ExitCode::NPF);
            return Some(self.lifecycle(cpu, vp, unsupported));
        };
        let solo = self.solo(vp);
        let record = self.vps.get_mut(vp)?;
        let now = guest_tsc(record);
        let offset = gpa & 0xFFF;
        let apic = record.apic.as_mut()?;
        let mut followup = Followup::None;
        let stored = matches!(access.op, Op::Store { .. });
        match access.op {
            Op::Load { .. } => {
                let value = apic.read_mmio(offset, access.size, now).unwrap_or(0);
                super::mmio::complete_load(&mut record.vmcb, &mut record.gprs, access, value);
            }
            Op::Store { value } => {
                if let Some(effect) = apic.write_mmio(offset, access.size, value, now) {
                    followup = record.apply_effect(effect, solo);
                }
            }
        }
        let next = record.vmcb.save.rip.wrapping_add(u64::from(access.length));
        *record.vmcb.rip_mut() = next;
        if stored {
            // The ID, LDR or DFR may have changed.
            self.refresh_apic_address(vp);
        }
        Some(self.follow_up(cpu, vp, followup, Next::Resume))
    }
}
