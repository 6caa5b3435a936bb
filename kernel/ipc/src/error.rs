//! IPC errors.

use core::fmt;

/// Why an IPC operation failed, or why a blocked thread was woken without
/// a message. A failed operation changes nothing.
///
/// The discriminants are stable error codes returned to components.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum IpcError {
    /// The thread id is stale or was never handed out (a kernel bug).
    InvalidThread = 1,
    /// The invoking thread is blocked or dead (a kernel bug).
    NotRunnable = 2,
    /// The invoking thread still has a wakeup the kernel has not taken
    /// with [`crate::Ipc::take_wakeup`] (a kernel bug).
    WakeupPending = 3,
    /// The endpoint id is of an older generation (its server restarted) or
    /// the endpoint was destroyed.
    StaleEndpoint = 4,
    /// The notification id is stale or the notification was destroyed.
    StaleNotification = 5,
    /// The server died: its domain faulted while the call was queued or
    /// being served, or before it was made.
    ServerDied = 6,
    /// The endpoint was destroyed or restarted while the thread waited on it.
    EndpointDestroyed = 7,
    /// The notification was destroyed while the thread waited on it.
    NotificationDestroyed = 8,
    /// `reply` by a thread that has no caller to reply to (none delivered,
    /// already replied, or the caller died).
    NoCaller = 9,
    /// `wait` by a thread that has not replied to its caller yet.
    ReplyPending = 10,
    /// The caller's (effective) priority is above the endpoint's ceiling.
    AboveCeiling = 11,
    /// The receiving thread's priority is below the endpoint's ceiling.
    BelowCeiling = 12,
    /// The receiving thread does not belong to the endpoint's owner domain.
    NotOwner = 13,
    /// More words than fit in registers.
    MessageTooLong = 14,
    /// The kernel heap could not hold a new thread, endpoint or notification.
    OutOfMemory = 15,
}

impl IpcError {
    /// The stable error code.
    #[must_use]
    pub const fn code(self) -> u32 {
        self as u32
    }
}

impl fmt::Display for IpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::InvalidThread => "no such thread",
            Self::NotRunnable => "thread is not runnable",
            Self::WakeupPending => "thread has an untaken wakeup",
            Self::StaleEndpoint => "stale or destroyed endpoint",
            Self::StaleNotification => "stale or destroyed notification",
            Self::ServerDied => "server died",
            Self::EndpointDestroyed => "endpoint destroyed",
            Self::NotificationDestroyed => "notification destroyed",
            Self::NoCaller => "no caller to reply to",
            Self::ReplyPending => "reply to the current caller first",
            Self::AboveCeiling => "caller priority above the endpoint's ceiling",
            Self::BelowCeiling => "server priority below the endpoint's ceiling",
            Self::NotOwner => "only the endpoint's owner domain may receive",
            Self::MessageTooLong => "message does not fit in registers",
            Self::OutOfMemory => "kernel heap exhausted",
        };
        f.write_str(text)
    }
}

impl core::error::Error for IpcError {}
