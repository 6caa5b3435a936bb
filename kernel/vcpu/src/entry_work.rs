//! Whether a VP's entry after its handler's reply has locked work left
//! beyond applying the reply.
//!
//! The kernel's full entry (`vm::run`, `prepare_entry`) polls the
//! synthetic timers, takes interrupts other VPs posted, checks for a stop,
//! injects what is pending (an asserted event, the APIC's vectors), hands
//! the TPR to `V_TPR`, performs AutoEOI, arms lazy EOI, guards CR8 writes,
//! and syncs the exception intercepts. After a forwarded exit, almost
//! always none of that has anything to do: the guest ran a CPUID or an
//! OUT, nothing was asserted meanwhile, and its APIC is quiet. Then the
//! kernel enters the VP by the settled entry, which applies the reply and
//! does only what every entry does (the guest's processor state, the
//! branch-predictor barrier, the interrupt shadow, the published priority,
//! the TLB flush, the remembered state).
//!
//! [`settled`] decides; it reads only [`EntryInputs`], which the kernel
//! reads from the VP's record and its partition. [`steps_acting`] is the
//! model of the full entry's steps, one condition per step, each with the
//! kernel function it mirrors; the tests hold [`settled`] to it over every
//! input: the shortcut is taken only when no step would act.

/// What the full entry's steps depend on, read after the reply is applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntryInputs {
    /// The VP is runnable (not waiting for a SIPI, a handler, a stop).
    pub runnable: bool,
    /// A stop was asked for, or the VP or its partition is being destroyed.
    pub stopping: bool,
    /// Interrupt messages other VPs posted wait for its APIC.
    pub posted: bool,
    /// An NMI or an asserted interrupt waits (`pending_nmi`,
    /// `pending_interrupt`).
    pub pending_event: bool,
    /// An event is being injected (the reply's, or one re-delivered).
    pub event_injected: bool,
    /// Its APIC has a requested vector (IRR).
    pub apic_requested: bool,
    /// Its APIC has a vector in service (ISR).
    pub apic_in_service: bool,
    /// Its APIC's timer is armed.
    pub apic_timer_armed: bool,
    /// `V_TPR` is not the APIC's TPR class.
    pub tpr_stale: bool,
    /// A virtual interrupt request (the interrupt window) is pending.
    pub window_requested: bool,
    /// CR8 writes exit.
    pub cr8_intercepted: bool,
    /// Lazy EOI is armed.
    pub lazy_eoi_armed: bool,
    /// One of its synthetic timers is armed.
    pub synic_timer_armed: bool,
    /// Its partition's exception intercepts are not those in its VMCB.
    pub exceptions_changed: bool,
}

/// Whether the entry after a reply has nothing to do beyond what every
/// entry does: every full-entry step would leave the VP as it is.
#[inline]
pub const fn settled(inputs: &EntryInputs) -> bool {
    inputs.runnable
        && !inputs.stopping
        && !inputs.posted
        && !inputs.pending_event
        && !inputs.event_injected
        && !inputs.apic_requested
        && !inputs.apic_in_service
        && !inputs.apic_timer_armed
        && !inputs.tpr_stale
        && !inputs.window_requested
        && !inputs.cr8_intercepted
        && !inputs.lazy_eoi_armed
        && !inputs.synic_timer_armed
        && !inputs.exceptions_changed
}

/// A step of the full entry that would change something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `poll_synic_timers`: polls, and cuts the host timer short.
    SynicTimers,
    /// `Vp::take_posted`: posted messages into the APIC.
    TakePosted,
    /// The stop check (`stop_vp`).
    Stop,
    /// The VP is not runnable: it leaves the CPU.
    NotRunnable,
    /// `set_exception_intercepts`.
    ExceptionIntercepts,
    /// `Vp::inject_pending`: an NMI or an asserted interrupt, or a window.
    InjectPending,
    /// `Vp::inject_apic`: the timer polled (and the host timer cut short),
    /// `V_TPR`, a vector injected or a window requested.
    InjectApic,
    /// `synic_auto_eoi`, and the injection counted in the statistics.
    InjectedEvent,
    /// `Vp::arm_lazy_eoi`.
    LazyEoi,
    /// `Vp::guard_cr8`: the CR8 intercept follows the window and the TPR.
    GuardCr8,
}

/// The full entry's steps that would act on `inputs` (the model the tests
/// hold [`settled`] to).
pub fn steps_acting(inputs: &EntryInputs) -> impl Iterator<Item = Step> {
    let i = *inputs;
    // What `guard_cr8` wants: CR8 exits while a window is pending or the
    // APIC holds a requested vector back by its TPR (only with one).
    let cr8_wanted_may_be = i.window_requested || i.apic_requested;
    [
        (i.synic_timer_armed, Step::SynicTimers),
        (i.posted, Step::TakePosted),
        (i.stopping, Step::Stop),
        (!i.runnable, Step::NotRunnable),
        (i.exceptions_changed, Step::ExceptionIntercepts),
        // Nothing is injected over an event being delivered.
        (!i.event_injected && i.pending_event, Step::InjectPending),
        (
            i.apic_timer_armed || i.tpr_stale || i.apic_requested,
            Step::InjectApic,
        ),
        (i.event_injected, Step::InjectedEvent),
        // Arming needs a vector in service; an armed one is re-checked.
        (i.lazy_eoi_armed || i.apic_in_service, Step::LazyEoi),
        (i.cr8_intercepted || cr8_wanted_may_be, Step::GuardCr8),
    ]
    .into_iter()
    .filter_map(|(acts, step)| acts.then_some(step))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    const FIELDS: u32 = 14;

    /// The inputs whose bit `n` of `bits` is set, one field per bit.
    fn inputs(bits: u32) -> EntryInputs {
        let bit = |n: u32| bits & (1 << n) != 0;
        EntryInputs {
            runnable: bit(0),
            stopping: bit(1),
            posted: bit(2),
            pending_event: bit(3),
            event_injected: bit(4),
            apic_requested: bit(5),
            apic_in_service: bit(6),
            apic_timer_armed: bit(7),
            tpr_stale: bit(8),
            window_requested: bit(9),
            cr8_intercepted: bit(10),
            lazy_eoi_armed: bit(11),
            synic_timer_armed: bit(12),
            exceptions_changed: bit(13),
        }
    }

    const QUIET: EntryInputs = EntryInputs {
        runnable: true,
        stopping: false,
        posted: false,
        pending_event: false,
        event_injected: false,
        apic_requested: false,
        apic_in_service: false,
        apic_timer_armed: false,
        tpr_stale: false,
        window_requested: false,
        cr8_intercepted: false,
        lazy_eoi_armed: false,
        synic_timer_armed: false,
        exceptions_changed: false,
    };

    #[test]
    fn a_quiet_vp_after_a_reply_is_settled() {
        assert!(settled(&QUIET));
        assert_eq!(steps_acting(&QUIET).count(), 0);
    }

    /// Every one of the 2^14 inputs: the shortcut only where no step of
    /// the full entry would act, and wherever none would.
    #[test]
    fn settled_exactly_when_no_full_entry_step_acts() {
        for bits in 0..1u32 << FIELDS {
            let inputs = inputs(bits);
            let acting: Vec<Step> = steps_acting(&inputs).collect();
            if settled(&inputs) {
                assert!(
                    acting.is_empty(),
                    "{inputs:?} is settled, yet {acting:?} act"
                );
            }
            // Conservative only where the model says a step may act.
            if acting.is_empty() {
                assert!(
                    settled(&inputs),
                    "{inputs:?}: no step acts, yet not settled"
                );
            }
        }
    }

    type Change = fn(&mut EntryInputs);

    /// Each input alone that gives a step work takes the full entry.
    #[test]
    fn each_kind_of_work_takes_the_full_entry() {
        let cases: [(Change, Step); 13] = [
            (|i| i.synic_timer_armed = true, Step::SynicTimers),
            (|i| i.posted = true, Step::TakePosted),
            (|i| i.stopping = true, Step::Stop),
            (|i| i.runnable = false, Step::NotRunnable),
            (|i| i.exceptions_changed = true, Step::ExceptionIntercepts),
            (|i| i.pending_event = true, Step::InjectPending),
            (|i| i.apic_timer_armed = true, Step::InjectApic),
            (|i| i.tpr_stale = true, Step::InjectApic),
            (|i| i.event_injected = true, Step::InjectedEvent),
            (|i| i.lazy_eoi_armed = true, Step::LazyEoi),
            (|i| i.apic_in_service = true, Step::LazyEoi),
            (|i| i.cr8_intercepted = true, Step::GuardCr8),
            (|i| i.window_requested = true, Step::GuardCr8),
        ];
        for (change, step) in cases {
            let mut inputs = QUIET;
            change(&mut inputs);
            assert!(!settled(&inputs), "{inputs:?}");
            assert!(
                steps_acting(&inputs).any(|s| s == step),
                "{inputs:?}: {step:?}"
            );
        }
        let mut requested = QUIET;
        requested.apic_requested = true;
        assert!(!settled(&requested));
    }
}
