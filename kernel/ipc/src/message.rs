//! Messages, deliveries and capability-transfer descriptors.

use tessera_capability::{Badge, Selector, ThreadId};

use crate::error::IpcError;

/// Words a message carries in registers: the fast path copies these and
/// nothing else.
pub const MSG_WORDS: usize = 6;

/// A message: up to [`MSG_WORDS`] words, and optionally a capability to
/// send (a selector in the sender's capability space).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Message {
    words: [u64; MSG_WORDS],
    len: u8,
    /// The capability to transfer, if any.
    pub cap: Option<Selector>,
    /// How many words of the sender's message buffer (its UTCB) go with
    /// the message. The machine only carries the count; the kernel copies
    /// the words between the two buffers when it writes the delivery.
    pub buffer_words: u16,
}

impl Message {
    /// An empty message.
    #[must_use]
    pub const fn empty() -> Self {
        Self {
            words: [0; MSG_WORDS],
            len: 0,
            cap: None,
            buffer_words: 0,
        }
    }

    /// A message carrying `words`.
    ///
    /// # Errors
    ///
    /// [`IpcError::MessageTooLong`] beyond [`MSG_WORDS`] words.
    pub fn new(words: &[u64]) -> Result<Self, IpcError> {
        let mut msg = Self::empty();
        msg.words
            .get_mut(..words.len())
            .ok_or(IpcError::MessageTooLong)?
            .copy_from_slice(words);
        msg.len = u8::try_from(words.len()).expect("at most MSG_WORDS");
        Ok(msg)
    }

    /// The same message, also sending the capability at `cap`.
    #[must_use]
    pub const fn with_cap(mut self, cap: Selector) -> Self {
        self.cap = Some(cap);
        self
    }

    /// The words carried.
    #[must_use]
    pub fn words(&self) -> &[u64] {
        &self.words[..usize::from(self.len)]
    }
}

/// A capability the kernel has to move along with a delivered message:
/// from slot `send` of `from`'s space to slot `receive` of `to`'s space.
///
/// The machine only carries this. The kernel SHOULD check the sender side
/// (a capability with `GRANT` at `send`, and `GRANT` on the endpoint
/// capability used) before calling into the machine, and MUST perform the
/// grant with `tessera_capability` when it copies the delivery into the
/// receiver's registers (`CapTable::grant` from the sender's slot to the
/// receiver's, with the source's rights: a sender that wants to pass fewer
/// derives a reduced copy first). If `receive` is `None` (the receiver
/// offered no slot), or the grant fails by then (the slot was filled, the
/// capability deleted while the call was queued), the message is still
/// delivered and the kernel MUST tell the receiver that no capability came
/// with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CapTransfer {
    /// The sending thread.
    pub from: ThreadId,
    /// The slot in the sender's capability space.
    pub send: Selector,
    /// The receiving thread.
    pub to: ThreadId,
    /// The slot the receiver offered, if any.
    pub receive: Option<Selector>,
}

/// What a receiver gets: a call (to a server) or a reply (to a caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Delivery {
    /// The thread that sent the call or the reply (whose message buffer
    /// the kernel copies from).
    pub sender: ThreadId,
    /// The badge of the capability the call was made through; `None` for
    /// an unbadged capability and for replies.
    pub badge: Option<Badge>,
    /// The message.
    pub message: Message,
    /// The capability to move with it.
    pub transfer: Option<CapTransfer>,
}
