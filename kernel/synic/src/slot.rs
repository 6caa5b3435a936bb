//! Writing a message into a SINT's slot of the SIM page.
//!
//! TLFS md `inter-partition-communication.md` § Messages: "If the message
//! type in the message slot is equal to HvMessageTypeNone (that is, zero),
//! the message slot is assumed to be empty. In this case, the hypervisor
//! dequeues the message buffer and copies its contents to the message slot
//! … If the SIM page is disabled or the message slot within the SIM page is
//! not empty, the message remains queued"; `HV_MESSAGE_FLAGS`
//! MessagePending tells the guest that more messages wait and that it
//! should write EOM once the slot is empty.
//!
//! The guest empties a slot by clearing its message type, possibly on
//! another processor at the same moment, so the slot's first word (type,
//! payload size, flags) only ever changes by compare-and-exchange:
//!
//! - **empty slot:** the body first (origination word and the payload's
//!   words), then the first word from "empty" to the new header. The guest
//!   sees a message type only once the message is complete.
//! - **busy slot:** MessagePending is set in the first word, from the value
//!   just read. A guest that cleared the type in between is seen by the
//!   exchange failing, and the slot is looked at again.
//!
//! A guest that keeps rewriting the first word from another processor can
//! make every exchange fail: after [`ATTEMPTS`] tries the slot counts as
//! busy and the message stays queued for the next EOM, so the writer never
//! spins on guest memory.

use tlfs::message::{HV_MESSAGE_SIZE, HvMessage};
use zerocopy::IntoBytes;

use crate::pages::{SynicPage, SynicPages};
use crate::sint::Sint;

/// Words per message slot.
const SLOT_WORDS: usize = HV_MESSAGE_SIZE / 8;

/// MessagePending: bit 0 of the flags byte (byte 5 of the first word).
pub const MESSAGE_PENDING_BIT: u64 = 1 << 40;

/// Compare-and-exchange attempts before a contended slot counts as busy.
pub const ATTEMPTS: usize = 4;

/// What became of a message offered to a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Offer {
    /// It is in the slot.
    Delivered,
    /// The slot holds another message (now flagged MessagePending), or the
    /// guest kept changing it; the message stays queued.
    Busy,
}

fn first_word(sint: Sint) -> usize {
    sint.index() * SLOT_WORDS
}

fn is_empty(header: u64) -> bool {
    header & 0xFFFF_FFFF == 0
}

/// Offers `message` (its type non-zero) to `sint`'s slot. With `more_queued`
/// the delivered message carries MessagePending, since other messages for
/// the slot wait behind it.
pub fn offer(
    pages: &mut impl SynicPages,
    sint: Sint,
    message: &HvMessage,
    more_queued: bool,
) -> Offer {
    let first = first_word(sint);
    let words = message_words(message);
    let payload_words = usize::from(message.header.payload_size).div_ceil(8).min(30);
    // Type and payload size; the flags and the reserved bytes are the
    // SynIC's, not the sender's.
    let mut header = words[0] & 0xFF_FFFF_FFFF;
    if more_queued {
        header |= MESSAGE_PENDING_BIT;
    }
    let mut seen = pages.load(SynicPage::Message, first);
    for _ in 0..ATTEMPTS {
        if !is_empty(seen) {
            let flagged = seen | MESSAGE_PENDING_BIT;
            if flagged == seen {
                return Offer::Busy;
            }
            match pages.compare_exchange(SynicPage::Message, first, seen, flagged) {
                Ok(_) => return Offer::Busy,
                Err(now) => seen = now,
            }
            continue;
        }
        // "The hypervisor may copy only the number of payload bytes
        // associated with the message": the origination word and the
        // payload's words.
        for (i, word) in words.iter().enumerate().take(2 + payload_words).skip(1) {
            pages.store(SynicPage::Message, first + i, *word);
        }
        match pages.compare_exchange(SynicPage::Message, first, seen, header) {
            Ok(_) => return Offer::Delivered,
            Err(now) => seen = now,
        }
    }
    Offer::Busy
}

/// Sets MessagePending on whatever `sint`'s slot holds, if it holds a
/// message (a message for the slot was queued while it was busy). Returns
/// whether the slot was busy.
pub fn flag_pending(pages: &mut impl SynicPages, sint: Sint) -> bool {
    let first = first_word(sint);
    let mut seen = pages.load(SynicPage::Message, first);
    for _ in 0..ATTEMPTS {
        if is_empty(seen) {
            return false;
        }
        if seen & MESSAGE_PENDING_BIT != 0 {
            return true;
        }
        match pages.compare_exchange(SynicPage::Message, first, seen, seen | MESSAGE_PENDING_BIT) {
            Ok(_) => return true,
            Err(now) => seen = now,
        }
    }
    true
}

/// Whether `sint`'s slot is empty.
#[must_use]
pub fn slot_is_empty(pages: &impl SynicPages, sint: Sint) -> bool {
    is_empty(pages.load(SynicPage::Message, first_word(sint)))
}

fn message_words(message: &HvMessage) -> [u64; SLOT_WORDS] {
    let mut words = [0; SLOT_WORDS];
    for (word, chunk) in words.iter_mut().zip(message.as_bytes().chunks_exact(8)) {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(chunk);
        *word = u64::from_le_bytes(bytes);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::MemoryPages;
    use tlfs::message::HvMessageType;

    fn message(kind: u32, payload: &[u8]) -> HvMessage {
        let mut message = HvMessage::default();
        message.header.message_type = HvMessageType(kind);
        message.header.payload_size = payload.len() as u8;
        message.payload_bytes_mut()[..payload.len()].copy_from_slice(payload);
        message
    }

    const S3: Sint = Sint::ALL[3];

    #[test]
    fn empty_slot_takes_the_message() {
        let mut pages = MemoryPages::new();
        let sent = message(7, b"hello");
        assert_eq!(offer(&mut pages, S3, &sent, false), Offer::Delivered);
        assert_eq!(pages.message(S3), sent);
        assert!(!slot_is_empty(&pages, S3));
        // Other slots untouched.
        assert!(slot_is_empty(&pages, Sint::ALL[2]));
        assert!(slot_is_empty(&pages, Sint::ALL[4]));
    }

    #[test]
    fn more_queued_sets_message_pending() {
        let mut pages = MemoryPages::new();
        offer(&mut pages, S3, &message(7, b"a"), true);
        assert!(pages.message(S3).header.message_flags.message_pending());
    }

    #[test]
    fn busy_slot_is_flagged_and_kept() {
        let mut pages = MemoryPages::new();
        let first = message(7, b"first");
        offer(&mut pages, S3, &first, false);
        assert_eq!(
            offer(&mut pages, S3, &message(8, b"second"), false),
            Offer::Busy
        );
        let held = pages.message(S3);
        assert!(held.header.message_flags.message_pending());
        assert_eq!(held.payload_bytes()[..5], *b"first");
        // Taking it empties the slot; the next offer goes in, without the
        // stale pending flag.
        pages.take_message(S3).unwrap();
        let second = message(8, b"second");
        assert_eq!(offer(&mut pages, S3, &second, false), Offer::Delivered);
        assert_eq!(pages.message(S3), second);
    }

    #[test]
    fn only_the_payload_words_are_copied() {
        // A slot the guest emptied by clearing its type keeps its old bytes
        // past the new payload (the TLFS allows copying only the payload).
        let mut pages = MemoryPages::new();
        offer(&mut pages, S3, &message(7, &[0xAA; 240]), false);
        pages.take_message(S3);
        offer(&mut pages, S3, &message(9, &[0x55; 8]), false);
        let got = pages.message(S3);
        assert_eq!(got.header.payload_size, 8);
        assert_eq!(got.payload_bytes()[..8], [0x55; 8]);
        assert_eq!(got.payload_bytes()[8], 0xAA);
    }

    /// Pages whose first slot word changes under every exchange: a guest
    /// rewriting it from another processor.
    struct Contended(MemoryPages);

    impl SynicPages for Contended {
        fn load(&self, page: SynicPage, word: usize) -> u64 {
            self.0.load(page, word)
        }
        fn store(&mut self, page: SynicPage, word: usize, value: u64) {
            self.0.store(page, word, value);
        }
        fn compare_exchange(
            &mut self,
            page: SynicPage,
            word: usize,
            _: u64,
            _: u64,
        ) -> Result<u64, u64> {
            // The guest flips the message type between empty and busy.
            let now = self.0.load(page, word) ^ 1;
            self.0.store(page, word, now);
            Err(now)
        }
        fn fetch_or(&mut self, page: SynicPage, word: usize, bits: u64) -> u64 {
            self.0.fetch_or(page, word, bits)
        }
    }

    #[test]
    fn a_contended_slot_gives_up() {
        let mut pages = Contended(MemoryPages::new());
        assert_eq!(offer(&mut pages, S3, &message(7, b"x"), false), Offer::Busy);
        // Four attempts, each flipping the type: back to empty, and the
        // message was never published.
        assert!(slot_is_empty(&pages.0, S3));
    }

    #[test]
    fn flag_pending_on_empty_and_busy() {
        let mut pages = MemoryPages::new();
        assert!(!flag_pending(&mut pages, S3));
        assert!(!pages.message(S3).header.message_flags.message_pending());
        offer(&mut pages, S3, &message(7, b"x"), false);
        assert!(flag_pending(&mut pages, S3));
        assert!(pages.message(S3).header.message_flags.message_pending());
    }
}
