//! What a VP blocked on its handler waits for: the exit it sent, as the
//! reply to it is checked and applied (`forward.rs`).
use tessera_exit_protocol::Exit;

/// What the exit a VP waits on needs from the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    pub kind: PendingKind,
    /// Where RIP goes with `ADVANCE_RIP` (`None`: the exit has no
    /// instruction to skip, and the action is refused).
    pub next_rip: Option<u64>,
    /// The message type sent (for the handler-died report).
    pub message_type: u64,
    /// Whether the message went to the lifecycle route (whose failure
    /// leaves nothing to report to).
    pub lifecycle: bool,
}

impl Pending {
    /// A message to the lifecycle route: nothing to apply, no instruction
    /// to move past.
    pub fn lifecycle(exit: &Exit) -> Self {
        Self {
            kind: PendingKind::Other,
            next_rip: None,
            message_type: exit.message_type(),
            lifecycle: true,
        }
    }

    /// A routed exit of `kind` that completes an instruction ending at
    /// `next_rip` (if the kernel knows where).
    pub fn routed(exit: &Exit, kind: PendingKind, next_rip: Option<u64>) -> Self {
        Self {
            kind,
            next_rip,
            message_type: exit.message_type(),
            lifecycle: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingKind {
    IoRead {
        size: u8,
    },
    IoWrite,
    MsrRead,
    MsrWrite,
    Cpuid,
    /// A decoded memory-mapped I/O access.
    Mmio(tessera_vcpu::mmio::Access),
    /// A hypercall a route took: the result value goes to RAX.
    Hypercall,
    /// An interrupt acknowledge (`extint.rs`): the result is the vector.
    Acknowledge,
    Other,
}
