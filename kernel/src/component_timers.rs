//! Deadlines for components (`Syscall::TimerSignal`): a component has the
//! kernel signal one of its notifications once a delay has passed, so a
//! device component can sleep until a deadline with `WaitNotification`
//! (issue 13: "a timer capability (or a deadline on `Wait`)"). The
//! notification capability is the authority: the caller needs its SIGNAL
//! right, as for `Signal`.
//!
//! The table (`tessera_clock::deadlines`) holds one deadline per
//! notification and domain (a component never replaces another's), at
//! most [`PER_DOMAIN`] per domain so that no component can use up
//! everyone's entries, and is looked at wherever the kernel looks at typed
//! input: before a CPU picks a thread and at a VP's interrupt exit. The
//! CPU that arms or looks cuts its timer short for the earliest deadline,
//! so a notification is signalled at the first look at or after its
//! deadline (never before), within the timer's floor
//! (`arch::apic::GUEST_TIMER_FLOOR_US`).
use crate::state::Kernel;
use tessera_capability::{DomainId, NotificationId};
use tessera_clock::deadlines::{Deadlines, Full};

/// Deadlines armed at once, in all.
const ENTRIES: usize = 64;
/// Deadlines one domain may have armed at once.
pub const PER_DOMAIN: usize = tessera_abi::TIMERS_PER_COMPONENT;

/// A deadline: the notification it signals, for which domain.
pub type Key = (NotificationId, DomainId);

/// The bits it signals.
pub type ComponentTimers = Deadlines<Key, u64, ENTRIES>;

/// Why a deadline was not armed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The domain has [`PER_DOMAIN`] deadlines armed, or the table is full.
    Full,
}

impl Kernel {
    /// Arms `key`'s notification to be signalled with `bits` at host TSC
    /// `deadline`, replacing `key`'s earlier deadline; `cpu` is the
    /// caller's.
    pub fn arm_component_timer(
        &mut self,
        key: Key,
        deadline: u64,
        bits: u64,
        cpu: usize,
    ) -> Result<(), Refused> {
        let timers = &mut self.component_timers;
        let others = timers.count_where_key(|(_, domain)| *domain == key.1)
            - usize::from(timers.is_armed(key));
        if others >= PER_DOMAIN {
            return Err(Refused::Full);
        }
        timers
            .arm(key, deadline, bits)
            .map_err(|Full| Refused::Full)?;
        crate::arch::apic::interrupt_by(cpu, deadline);
        Ok(())
    }

    /// Disarms `key`'s deadline, if any.
    pub fn cancel_component_timer(&mut self, key: Key) {
        self.component_timers.cancel(key);
    }

    /// A domain ended: its deadlines go with it.
    pub fn forget_component_timers(&mut self, domain: DomainId) {
        self.component_timers
            .cancel_where_key(|(_, owner)| *owner == domain);
    }

    /// Signals every notification whose deadline has come, and cuts
    /// `cpu`'s timer short for the earliest one left.
    pub fn expire_component_timers(&mut self, cpu: usize) {
        if self.component_timers.is_empty() {
            return;
        }
        let now = crate::arch::tsc::read();
        let mut due = heapless::Vec::<(NotificationId, u64), ENTRIES>::new();
        self.component_timers
            .expire(now, |(notification, _), bits| {
                // The table holds at most ENTRIES: the push cannot fail.
                let _ = due.push((notification, bits));
            });
        for (notification, bits) in due {
            // A notification deleted meanwhile takes nothing.
            if let Ok(Some(waiter)) = self.ipc.signal(notification, bits) {
                self.wake(waiter);
            }
        }
        if let Some(earliest) = self.component_timers.earliest() {
            crate::arch::apic::interrupt_by(cpu, earliest);
        }
    }

    /// Whether a component waits for a deadline (so the deployment is not
    /// quiet).
    pub fn component_timer_armed(&self) -> bool {
        !self.component_timers.is_empty()
    }
}
