//! Interrupt delivery into one local APIC: errors, acceptance into the
//! IRR, priority against the PPR, acknowledge, EOI, NMI, the LINT pins and
//! the timer's expiry.
//!
//! Intel SDM Vol. 3A §10.5.1 "Local Vector Table", §10.5.3 "Error
//! Handling", §10.8.3.1 "Task and Processor Priorities", §10.8.4
//! "Interrupt Acceptance for Fixed Interrupts", §10.8.5 "Signaling
//! Interrupt Servicing Completion", §10.9 "Spurious Interrupt".

use crate::access::Effect;
use crate::message::{DeliveryMode, Message, Trigger};
use crate::register::Lvt;
use crate::state::{
    ESR_RECEIVE_ILLEGAL_VECTOR, EndOfInterrupt, LVT_MASKED, LocalApic, Received,
    SVR_SUPPRESS_EOI_BROADCAST,
};
use crate::timer::Expiry;

impl LocalApic {
    /// Records an APIC error; the first occurrence of a bit since the last
    /// ESR write raises the error LVT's interrupt, unless masked (SDM
    /// §10.5.3: "the APIC ... generates an interrupt through the LVT
    /// error register").
    pub(crate) fn raise_error(&mut self, bit: u8) {
        if self.esr_pending & bit != 0 {
            return;
        }
        self.esr_pending |= bit;
        let lvt = self.lvt(Lvt::Error);
        if lvt & LVT_MASKED == 0 {
            let vector = lvt as u8;
            if vector < 16 {
                // Not recursively: the illegal vector is recorded once.
                self.esr_pending |= ESR_RECEIVE_ILLEGAL_VECTOR;
            } else {
                self.irr.insert(vector);
                self.tmr.remove(vector);
            }
        }
    }

    /// Queues a fixed interrupt (SDM §10.8.4): its IRR bit is set, its TMR
    /// bit set for level and cleared for edge. A vector below 16 is
    /// dropped with ESR bit 6 (SDM §10.5.2: "the local APIC will never set
    /// an IRR bit in the range 0 to 15"). A software-disabled APIC drops
    /// fixed interrupts (SDM §10.4.7.2: it "will respond normally to INIT,
    /// NMI, SMI, and start-up messages"; Linux's KVM and QEMU drop the
    /// rest).
    pub fn accept(&mut self, vector: u8, trigger: Trigger) -> Received {
        if !self.hardware_enabled() || !self.software_enabled() {
            return Received::Dropped;
        }
        if vector < 16 {
            self.raise_error(ESR_RECEIVE_ILLEGAL_VECTOR);
            return Received::Dropped;
        }
        self.irr.insert(vector);
        match trigger {
            Trigger::Edge => self.tmr.remove(vector),
            Trigger::Level => self.tmr.insert(vector),
        };
        Received::Pending
    }

    /// A message that reached this APIC (after destination matching and,
    /// for lowest priority, arbitration). A globally disabled APIC takes
    /// nothing.
    pub fn receive(&mut self, message: &Message) -> Received {
        if !self.hardware_enabled() {
            return Received::Dropped;
        }
        match message.mode {
            DeliveryMode::Fixed | DeliveryMode::LowestPriority => {
                self.accept(message.vector, message.trigger)
            }
            DeliveryMode::Nmi => {
                self.nmi_pending = true;
                Received::Nmi
            }
            DeliveryMode::Init => Received::Init,
            DeliveryMode::StartUp => Received::StartUp(message.vector),
            DeliveryMode::ExtInt => Received::ExtInt,
            DeliveryMode::Smi => Received::Dropped,
        }
    }

    /// The vector the VP should take next: the highest requested vector
    /// whose priority class is above the PPR's (SDM §10.8.3.1: "the
    /// processor will service only those interrupts that have a priority
    /// higher than that specified in the PPR").
    #[must_use]
    #[inline]
    pub fn pending_vector(&self) -> Option<u8> {
        if !self.hardware_enabled() {
            return None;
        }
        let vector = self.irr.highest()?;
        (vector & 0xF0 > self.ppr() & 0xF0).then_some(vector)
    }

    /// The VP takes an interrupt (the INTA cycle): the highest deliverable
    /// vector moves from the IRR to the ISR. `None` when nothing is
    /// deliverable: the processor then gets the [spurious
    /// vector](Self::spurious_vector), which sets no ISR bit.
    #[inline]
    pub fn acknowledge(&mut self) -> Option<u8> {
        let vector = self.pending_vector()?;
        self.irr.remove(vector);
        self.isr.insert(vector);
        Some(vector)
    }

    /// An EOI: the highest in-service vector ends. `None` if nothing was in
    /// service. A level-triggered vector is broadcast to the I/O APICs
    /// unless the guest set SVR bit 12 where it is offered (SDM §10.8.5).
    #[inline]
    pub fn eoi(&mut self) -> Option<EndOfInterrupt> {
        let end = self.next_eoi()?;
        self.isr.remove(end.vector);
        Some(end)
    }

    /// What an EOI now would end, without ending it: the kernel's lock-free
    /// path asks first whether the EOI is broadcast (then the locked path,
    /// which forwards broadcasts, takes it untouched).
    #[must_use]
    #[inline]
    pub fn next_eoi(&self) -> Option<EndOfInterrupt> {
        let vector = self.isr.highest()?;
        let level = self.tmr.contains(vector);
        let suppressed =
            self.config.eoi_broadcast_suppression && self.svr & SVR_SUPPRESS_EOI_BROADCAST != 0;
        Some(EndOfInterrupt {
            vector,
            broadcast: level && !suppressed,
        })
    }

    /// Ends `end`, which [`next_eoi`](Self::next_eoi) returned with
    /// nothing changed since: the EOI without its second ISR scan.
    #[inline]
    pub fn end(&mut self, end: EndOfInterrupt) {
        self.isr.remove(end.vector);
    }

    /// A write to the EOI register: [`eoi`](Self::eoi), and the broadcast
    /// it asks of the I/O APICs as the write's effect.
    #[inline]
    pub(crate) fn end_of_interrupt(&mut self) -> Effect {
        match self.eoi() {
            Some(end) if end.broadcast => Effect::EoiBroadcast(end.vector),
            _ => Effect::None,
        }
    }

    /// Whether an NMI is pending.
    #[must_use]
    pub const fn nmi_pending(&self) -> bool {
        self.nmi_pending
    }

    /// Takes the pending NMI (the kernel injects it).
    pub fn take_nmi(&mut self) -> bool {
        core::mem::take(&mut self.nmi_pending)
    }

    /// The level of local interrupt pin LINT0 (`pin` 0) or LINT1 (1)
    /// changed. A rising edge delivers through the pin's LVT entry unless
    /// masked: fixed (LINT0 honours its trigger bit for the TMR; LINT1 is
    /// always edge, SDM §10.5.1), NMI, or INIT (returned, for the kernel).
    /// ExtINT is level-sensitive: see
    /// [`extint_requested`](Self::extint_requested). SMI, start-up and
    /// reserved modes do nothing.
    ///
    /// **Choice:** level-triggered fixed LINT interrupts are taken on the
    /// rising edge and their remote IRR bit (14) reads 0; guests wire
    /// LINT0 to the 8259 (ExtINT) and LINT1 to NMI.
    pub fn set_lint(&mut self, pin: usize, level: bool) -> Received {
        let Some(previous) = self.lint_level.get_mut(pin) else {
            return Received::Dropped;
        };
        let rising = level && !*previous;
        *previous = level;
        let entry = self.lvt[Lvt::Lint0.index() + pin];
        if !rising || entry & LVT_MASKED != 0 || !self.hardware_enabled() {
            return Received::Dropped;
        }
        let trigger = if pin == 0 && entry & 1 << 15 != 0 {
            Trigger::Level
        } else {
            Trigger::Edge
        };
        match DeliveryMode::from_bits(entry >> 8) {
            Some(DeliveryMode::Fixed) => self.accept(entry as u8, trigger),
            Some(DeliveryMode::Nmi) => {
                self.nmi_pending = true;
                Received::Nmi
            }
            Some(DeliveryMode::Init) => Received::Init,
            _ => Received::Dropped,
        }
    }

    /// Whether an unmasked LVT LINT entry in ExtINT mode sees its pin high:
    /// the VP should take an interrupt whose vector the 8259 gives.
    #[must_use]
    pub fn extint_requested(&self) -> bool {
        self.hardware_enabled()
            && (0..2).any(|pin| {
                let entry = self.lvt[Lvt::Lint0.index() + pin];
                self.lint_level[pin]
                    && entry & LVT_MASKED == 0
                    && DeliveryMode::from_bits(entry >> 8) == Some(DeliveryMode::ExtInt)
            })
    }

    /// The 8259 pair's INT output, wired to this processor's LINT0 (the
    /// MP specification's virtual-wire mode, §3.6.2.2), is at `level`:
    /// whether the processor is to take an interrupt whose vector the 8259
    /// gives in its acknowledge cycle. With the APIC globally disabled the
    /// pin is the processor's INTR (SDM Vol. 3A §10.4.3: "the LINT0 and
    /// LINT1 pins ... become INTR and NMI"), so the level alone decides;
    /// otherwise LVT LINT0 does: ExtINT and unmasked (a software-disabled
    /// APIC has it masked, §10.4.7.2). A LINT0 programmed fixed, NMI or
    /// INIT takes the rising edge as [`set_lint`](Self::set_lint) says.
    pub fn pic_output(&mut self, level: bool) -> bool {
        let _ = self.set_lint(0, level);
        if !self.hardware_enabled() {
            return level;
        }
        self.extint_requested()
    }

    /// The guest TSC at which the timer next needs attention.
    #[must_use]
    #[inline]
    pub fn next_timer_deadline(&self) -> Option<u64> {
        if !self.hardware_enabled() {
            return None;
        }
        self.timer.next_expiry()
    }

    /// Lets the timer catch up with `now`: an expiry queues the LVT timer's
    /// vector as an edge-triggered interrupt unless the entry is masked
    /// (the timer counts on while masked, SDM §10.5.1). Returns the expiry
    /// (for statistics), masked or not.
    #[inline]
    pub fn poll_timer(&mut self, now: u64) -> Option<Expiry> {
        if !self.hardware_enabled() {
            return None;
        }
        let expiry = self.timer.poll(now)?;
        let lvt = self.lvt(Lvt::Timer);
        if lvt & LVT_MASKED == 0 {
            self.accept(lvt as u8, Trigger::Edge);
        }
        Some(expiry)
    }
}
