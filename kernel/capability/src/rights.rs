//! Rights held through a capability, and which apply to which object kind.
//!
//! | kind | rights that apply (besides the generic three) |
//! | --- | --- |
//! | [`ObjectKind::Domain`] | `CONTROL` (start, stop, destroy, install capabilities) |
//! | [`ObjectKind::Thread`] | `CONTROL` (suspend, resume, set registers and priority) |
//! | [`ObjectKind::Endpoint`] | `CALL` (send calls), `RECEIVE` (serve: wait, reply) |
//! | [`ObjectKind::Notification`] | `SIGNAL` (OR bits in), `WAIT` (wait and clear) |
//! | [`ObjectKind::Memory`] | `READ`, `WRITE`, `EXECUTE` (as mapped) |
//! | [`ObjectKind::Console`] | `READ` (input), `WRITE` (output) |
//! | [`ObjectKind::Verdict`] | `WRITE` (end the deployment with a verdict) |
//! | [`ObjectKind::Partition`] | `CONTROL` (create/run/stop), `READ`, `WRITE` (its memory and state) |
//! | [`ObjectKind::Vp`] | `CONTROL` (run/stop, route exits), `READ`, `WRITE` (registers) |
//!
//! The generic rights apply to every kind:
//!
//! - `GRANT`: the capability MAY be granted or moved to another slot or
//!   capability space (directly or by IPC). For an endpoint it also means a
//!   message sent through it MAY carry a capability.
//! - `DERIVE`: children with fewer rights (or a badge) MAY be derived from it.
//! - `REVOKE`: its descendants MAY be revoked through it.
//!
//! A capability never holds a right outside its kind's set; creating or
//! deriving one that would is [`crate::CapError::RightsNotApplicable`].

use crate::object::ObjectKind;

bitflags::bitflags! {
    /// A set of rights. The bit values are ABI: they are what components
    /// pass to the derive and grant system calls.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct Rights: u32 {
        /// Read memory, console input, or partition/VP state.
        const READ = 1 << 0;
        /// Write memory, console output, or partition/VP state.
        const WRITE = 1 << 1;
        /// Execute memory.
        const EXECUTE = 1 << 2;
        /// Call an endpoint.
        const CALL = 1 << 3;
        /// Receive on (serve) an endpoint.
        const RECEIVE = 1 << 4;
        /// Signal a notification.
        const SIGNAL = 1 << 5;
        /// Wait on a notification.
        const WAIT = 1 << 6;
        /// Control a domain, thread, partition or VP.
        const CONTROL = 1 << 7;
        /// Grant or move the capability; send capabilities through an endpoint.
        const GRANT = 1 << 8;
        /// Derive children from the capability.
        const DERIVE = 1 << 9;
        /// Revoke the capability's descendants.
        const REVOKE = 1 << 10;
    }
}

impl Rights {
    /// The rights every kind accepts.
    pub const GENERIC: Self = Self::GRANT.union(Self::DERIVE).union(Self::REVOKE);

    /// Every right that applies to `kind` (the table in the module docs).
    #[must_use]
    pub const fn applicable(kind: ObjectKind) -> Self {
        let specific = match kind {
            ObjectKind::Domain | ObjectKind::Thread => Self::CONTROL,
            ObjectKind::Endpoint => Self::CALL.union(Self::RECEIVE),
            ObjectKind::Notification => Self::SIGNAL.union(Self::WAIT),
            ObjectKind::Memory => Self::READ.union(Self::WRITE).union(Self::EXECUTE),
            ObjectKind::Console | ObjectKind::Verdict => Self::READ.union(Self::WRITE),
            ObjectKind::Partition | ObjectKind::Vp => {
                Self::CONTROL.union(Self::READ).union(Self::WRITE)
            }
        };
        specific.union(Self::GENERIC)
    }
}
