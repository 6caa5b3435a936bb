//! Interrupt messages between the local APICs of one partition's VPs:
//! IPIs (fixed, lowest priority, NMI, INIT, start-up; physical and
//! logical destinations; the shorthands) and, through the same
//! [`Kernel::deliver_interrupt`], the messages of a partition's devices
//! (`kernel/lapic/README.md` § "Interrupts from elsewhere").
//!
//! A VP's `LocalApic` is touched only by the CPU that runs the VP (its
//! lock-free exits change it without the kernel lock). So a message for
//! another VP is *posted*: recorded in the target's
//! [`tessera_lapic::Posted`] under the kernel lock, and taken into its
//! APIC by [`Vp::take_posted`], also under the lock, before the target's
//! next entry (`prepare_entry`) and when it considers halting
//! (`exit_hlt`). The sender then makes the target look:
//!
//! - halted in HLT (`Parked`) or waiting for a start-up IPI: it is on no
//!   CPU, so the sender takes the post into its APIC at once and, if that
//!   gives it something to do, makes it runnable;
//! - in its guest on another CPU: the kernel's wake-up IPI to that CPU
//!   (`Scheduler::kick`, as for `VpStop`) ends its VMRUN with an INTR exit,
//!   and its loop enters again through `prepare_entry`;
//! - anything else (queued, on the sender's own CPU, about to enter): its
//!   next `prepare_entry` takes the post.
//!
//! **No lost wake-up.** A VP decides to halt in `exit_hlt` under the
//! kernel lock: it takes its posts, asks its APIC whether anything is
//! deliverable, and only if not marks itself `Parked`, all in one hold of
//! the lock. A sender posts and reads the target's state in one hold of
//! the same lock. So either the post comes first, and the halting VP
//! takes it and does not halt, or the `Parked` mark comes first, and the
//! sender sees it and wakes the VP. A VP in its guest cannot miss the
//! kick: its last look at its posts was under the lock, before its entry;
//! a post after that is followed by the kick, whose interrupt stays
//! pending in the target CPU until its next VMRUN (which then exits at
//! once) if the CPU is between two VMRUNs with interrupts off.
use super::{Vp, VpState};
use crate::state::Kernel;
use tessera_abi::vm::MAX_VPS;
use tessera_capability::{PartitionId, VpId};
use tessera_lapic::startup::{ResetRegisters, SipiStart};
use tessera_lapic::{
    Activity, ApicAddress, Contender, DeliveryMode, LogicalModel, Message, Trigger, arbitrate,
    resolve,
};

/// The partition's APIC addresses, indexed by VP index (`enabled: false`
/// where no VP or no APIC is): what destination matching reads. Kept here,
/// refreshed under the lock whenever a VP's ID, LDR, DFR or mode may have
/// changed, so a sender never reads a running VP's APIC.
pub type ApicAddresses = [ApicAddress; MAX_VPS as usize];

/// A VP index no lowest-priority message may go to.
const NO_CONTENDER: Contender = Contender {
    ppr: 0xFF,
    has_vector: false,
    accepts: false,
};

/// No APIC at this index.
pub const ABSENT: ApicAddress = ApicAddress {
    id: u32::MAX,
    ldr: 0,
    model: LogicalModel::Flat,
    enabled: false,
};

impl Vp {
    /// Takes what was posted into the APIC, in the order the messages
    /// took effect: INIT (the reset), the start-up IPI (if the VP waits
    /// for one), then NMI and the vectors. Under the kernel lock, with
    /// the VP on no CPU or on this one outside its guest. Returns whether
    /// INIT or a SIPI loaded new registers.
    pub fn take_posted(&mut self) -> bool {
        if self.apic.is_none() || self.posted.is_empty() {
            return false;
        }
        let posted = self.posted.take();
        let mut reloaded = posted.init();
        if posted.init() {
            self.init();
        }
        if let Some(vector) = posted.start_up()
            && let Some(start) = self.startup.sipi(vector)
        {
            self.start_at(start);
            reloaded = true;
        }
        let waiting = self.startup.activity() == Activity::WaitForSipi;
        let Some(apic) = self.apic.as_mut() else {
            return reloaded;
        };
        // Interrupts stay pending while the VP waits for a SIPI (SDM
        // §10.4.7.3): in its IRR (vectors), or posted (NMI).
        if posted.nmi() {
            if waiting {
                self.posted.keep_nmi();
            } else if apic.receive(&nmi()) == tessera_lapic::Received::Nmi && apic.take_nmi() {
                self.pending_nmi = true;
            }
        }
        for (vector, trigger) in posted.vectors() {
            apic.accept(vector, trigger);
        }
        reloaded
    }

    /// INIT (AMD APM Vol. 2 §14.1.3, Table 14-1; SDM Vol. 3A §9.1.1 Table
    /// 9-1): the registers as the model gives them, the APIC reset
    /// keeping its ID and mode (SDM §10.4.7.3), nothing pending, and an
    /// application processor waiting for a SIPI. x87/SSE state, the MSRs
    /// other than EFER, and CR8 stay (SDM §9.1).
    fn init(&mut self) {
        let signature = tessera_vcpu::cpuid::FixedLeaves::index(1)
            .map_or(0, |index| self.fixed_cpuid[index][0] as u32);
        let action = self.startup.init(self.vmcb.save.cr0, signature);
        self.load_reset_registers(&action.registers);
        if let Some(apic) = self.apic.as_mut() {
            apic.init_reset();
        }
        self.pending_interrupt = None;
        self.pending_nmi = false;
        // Lazy EOI's state went with the APIC's in-service vectors.
        self.lazy_eoi = Default::default();
        let active = matches!(self.state, VpState::Runnable | VpState::Parked);
        if active {
            self.state = match action.next {
                Activity::WaitForSipi => VpState::WaitForSipi,
                // The BSP runs on at the reset vector.
                Activity::Running => VpState::Runnable,
            };
        }
    }

    /// The power-on state of an application processor (RESET: INIT's
    /// registers with CR0 `60000010h`), waiting for a SIPI: what
    /// `VpStart` gives a VP other than VP 0 of a partition with an APIC.
    pub fn power_on_waiting(&mut self) {
        let signature = tessera_vcpu::cpuid::FixedLeaves::index(1)
            .map_or(0, |index| self.fixed_cpuid[index][0] as u32);
        let registers =
            tessera_lapic::startup::init_registers(tessera_lapic::startup::CR0_AT_RESET, signature);
        self.startup = tessera_lapic::StartupState::new(false);
        self.load_reset_registers(&registers);
    }

    /// `registers` into the VMCB and the general registers.
    fn load_reset_registers(&mut self, registers: &ResetRegisters) {
        let save = &mut self.vmcb.all_mut().save;
        save.cs = registers.cs;
        save.ds = registers.ds;
        save.es = registers.es;
        save.fs = registers.fs;
        save.gs = registers.gs;
        save.ss = registers.ss;
        save.ldtr = registers.ldtr;
        save.tr = registers.tr;
        save.gdtr = registers.gdtr;
        save.idtr = registers.idtr;
        save.cpl = 0;
        save.rip = registers.rip;
        save.rflags = registers.rflags;
        save.rsp = 0;
        save.rax = 0;
        save.cr0 = registers.cr0;
        save.cr2 = registers.cr2;
        save.cr3 = registers.cr3;
        save.cr4 = registers.cr4;
        // VMRUN requires EFER.SVME in the guest's EFER (APM §15.5.1).
        save.efer = registers.efer | tessera_vcpu::registers::EFER_SVME;
        save.dr6 = registers.dr6;
        save.dr7 = registers.dr7;
        *self.vmcb.event_inj_mut() = tessera_svm::EventInjection::NONE;
        self.vmcb.interrupt_state_mut().set_interrupt_shadow(false);
        let v_intr = self.vmcb.v_intr_mut();
        v_intr.set_v_irq(false);
        v_intr.set_v_tpr(0);
        self.vmcb
            .intercepts_mut()
            .set(tessera_svm::Intercept::Vintr, false);
        self.gprs = tessera_vcpu::GuestGprs {
            rdx: registers.rdx,
            ..Default::default()
        };
        self.exit_rip = None;
        self.fetch_cache = Default::default();
        // RESET and INIT leave NMIs unmasked (`nmi_mask.rs`).
        self.unmask_nmis();
    }

    /// A start-up IPI started this VP: real mode at `VV00:0000`.
    fn start_at(&mut self, start: SipiStart) {
        let save = &mut self.vmcb.all_mut().save;
        save.cs = start.cs;
        save.rip = start.rip;
        if self.state == VpState::WaitForSipi {
            self.state = VpState::Runnable;
        }
    }
}

fn nmi() -> Message {
    Message {
        mode: DeliveryMode::Nmi,
        vector: 2,
        trigger: Trigger::Edge,
        target: tessera_lapic::Target::SelfOnly,
    }
}

impl Kernel {
    /// Delivers interrupt `message` within `partition`: from VP index
    /// `sender` (an IPI: the shorthands need it), or from a device
    /// (`None`: an I/O APIC or MSI message; its shorthands reach nobody).
    /// The destination is resolved over the partition's own APIC
    /// addresses only, so a message never leaves its partition; lowest
    /// priority picks one VP. Each VP reached gets the message posted and
    /// is woken or kicked (see the module comment). Returns how many VPs
    /// it reached. Call with the kernel lock held, from any CPU.
    pub fn deliver_interrupt(
        &mut self,
        partition: PartitionId,
        sender: Option<u32>,
        message: &Message,
    ) -> u32 {
        let Some(target) = self.partitions.get(partition) else {
            return 0;
        };
        let sender = sender.map(|index| index as usize);
        let mut reached = resolve(&message.target, sender, &target.apic_addresses);
        if message.mode == DeliveryMode::LowestPriority {
            // Arbitration by lowest priority (SDM Vol. 3A §10.6.2.4: the
            // processor "with the lowest priority" among those the
            // destination names gets it; `tessera_lapic::arbitrate`), the
            // focus processor first where the VP's APIC can be read; ties
            // rotate so equal VPs share the load.
            let start = target.lowest_priority_next;
            let contenders = self.contenders(partition, message.vector);
            let chosen = arbitrate(&reached, start, |index| contenders[usize::from(index)]);
            reached = tessera_lapic::VpIndexSet::EMPTY;
            if let Some(chosen) = chosen
                && let Some(target) = self.partitions.get_mut(partition)
            {
                reached.insert(chosen);
                target.lowest_priority_next = chosen.wrapping_add(1) % MAX_VPS as u8;
            }
        }
        if reached.is_empty() {
            return 0;
        }
        let Some(target) = self.partitions.get(partition) else {
            return 0;
        };
        let vps = target.vps.clone();
        let mut count = 0;
        for vp in vps {
            let Some(record) = self.vps.get(vp) else {
                continue;
            };
            if record.index < MAX_VPS as u32 && reached.contains(record.index as u8) {
                self.post_to(vp, message);
                count += 1;
            }
        }
        count
    }

    /// Each VP index's contender for lowest-priority arbitration of
    /// `vector` in `partition`: a VP on no CPU (halted, waiting for a
    /// SIPI) by its APIC, which the lock holder may read; any other by
    /// what it published at its last entry or APIC exit
    /// (`Vp::published_priority`: a running VP's APIC is its CPU's alone).
    /// Indices without a VP or an APIC do not accept.
    fn contenders(&self, partition: PartitionId, vector: u8) -> [Contender; MAX_VPS as usize] {
        let mut contenders = [NO_CONTENDER; MAX_VPS as usize];
        let Some(target) = self.partitions.get(partition) else {
            return contenders;
        };
        for &vp in &target.vps {
            let Some(record) = self.vps.get(vp) else {
                continue;
            };
            let Some(slot) = contenders.get_mut(record.index as usize) else {
                continue;
            };
            let off_cpu = matches!(record.state, VpState::Parked | VpState::WaitForSipi);
            *slot = match &record.apic {
                Some(apic) if off_cpu => apic.contender(vector),
                Some(_) => Contender::from_published(
                    record
                        .published_priority
                        .load(core::sync::atomic::Ordering::Relaxed),
                )
                // Never entered yet: its APIC is as at power-on (PPR 0,
                // software-disabled).
                .unwrap_or(NO_CONTENDER),
                None => NO_CONTENDER,
            };
        }
        contenders
    }

    /// Posts `message` to VP `vp` (its destination already resolved) and
    /// makes it look (module comment).
    pub fn post_to(&mut self, vp: VpId, message: &Message) {
        let Some(record) = self.vps.get_mut(vp) else {
            return;
        };
        if record.destroyed {
            return;
        }
        record.posted.post(message);
        let (thread, cpu) = (record.thread, record.cpu);
        match record.state {
            VpState::Parked | VpState::WaitForSipi => {
                // On no CPU: its APIC is the lock holder's.
                record.take_posted();
                let masked = record.vmcb.save.rflags & (1 << 9) == 0;
                let wakes = match record.state {
                    VpState::WaitForSipi => false,
                    VpState::Runnable => true,
                    // Halted with interrupts off: only an NMI ends it
                    // (INIT and SIPI made it runnable above).
                    _ if masked => record.nmi_wakes(),
                    _ => record.apic_wakes(),
                };
                // A post never brings a timer deadline forward (INIT
                // disarms the timer), so the timer its CPU armed for it
                // stays right: at worst it fires for nothing.
                if wakes {
                    record.state = VpState::Runnable;
                    self.wake(thread);
                }
            }
            // Taken at its next entry; a stopped VP takes it when started.
            VpState::Stopped | VpState::AwaitingReply(_) => {}
            VpState::Runnable => self.sched.kick(cpu),
        }
    }

    /// VP `vp`'s APIC address into its partition's table (after creation,
    /// a reset, or an access that may have changed its ID, LDR, DFR or
    /// mode).
    pub fn refresh_apic_address(&mut self, vp: VpId) {
        let Some(record) = self.vps.get(vp) else {
            return;
        };
        let address = record.apic.as_ref().map_or(ABSENT, |apic| apic.address());
        let (partition, index) = (record.partition, record.index as usize);
        if let Some(target) = self.partitions.get_mut(partition)
            && let Some(slot) = target.apic_addresses.get_mut(index)
        {
            *slot = address;
        }
    }
}
