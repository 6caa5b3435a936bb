//! The partition name an attach message carries, and how to show bytes
//! that came from another component or a guest.
use core::fmt;

/// A partition's name as the attach message carries it: 32 bytes, NUL
/// padded. The bytes come from another component and may be anything;
/// [`fmt::Display`] shows them escaped ([`Escaped`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PartitionName([u8; 32]);

impl PartitionName {
    /// The longest name, in bytes.
    pub const MAX_LEN: usize = 32;

    /// `name`, cut at 32 bytes (at a character boundary).
    pub fn new(name: &str) -> Self {
        let mut len = name.len().min(Self::MAX_LEN);
        while !name.is_char_boundary(len) {
            len -= 1;
        }
        let mut bytes = [0u8; 32];
        bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
        Self(bytes)
    }

    /// The name in words 1-4 of an attach message (little-endian bytes).
    pub fn from_words(words: [u64; 4]) -> Self {
        let mut bytes = [0u8; 32];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        Self(bytes)
    }

    /// The four words of an attach message.
    pub fn words(&self) -> [u64; 4] {
        core::array::from_fn(|i| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&self.0[i * 8..i * 8 + 8]);
            u64::from_le_bytes(word)
        })
    }

    /// The name's bytes, up to the first NUL.
    pub fn as_bytes(&self) -> &[u8] {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(32);
        &self.0[..len]
    }

    /// The name, if it is UTF-8 (up to the first NUL).
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(self.as_bytes()).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }
}

impl fmt::Display for PartitionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Escaped(self.as_bytes()), f)
    }
}

impl fmt::Debug for PartitionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartitionName(\"{self}\")")
    }
}

/// Bytes from a guest or another component, shown safely on a console
/// line: UTF-8 text as it is, except control characters (including
/// newlines and escape sequences) and invalid bytes, which show as
/// `\xNN`, and backslashes, which show doubled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c == '\\' {
                    f.write_str("\\\\")?;
                } else if c.is_control() {
                    // Control characters in UTF-8 are C0, DEL and C1.
                    let mut buffer = [0u8; 4];
                    for byte in c.encode_utf8(&mut buffer).bytes() {
                        write!(f, "\\x{byte:02x}")?;
                    }
                } else {
                    f.write_char(c)?;
                }
            }
            for byte in chunk.invalid() {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn names_are_cut_and_escaped() {
        let long = PartitionName::new(&"x".repeat(40));
        assert_eq!(long.as_bytes().len(), 32);
        // 31 ASCII bytes then a 2-byte character: cut before it.
        let name = "a".repeat(31) + "é";
        assert_eq!(PartitionName::new(&name).as_bytes().len(), 31);
        assert!(PartitionName::new("").is_empty());
        let hostile = PartitionName::from_words([
            u64::from_le_bytes(*b"a\nb\x1b[2J!"),
            u64::from_le_bytes([0xFF, b'\\', b'c', 0, b'z', 0, 0, 0]),
            0,
            0,
        ]);
        assert_eq!(hostile.to_string(), "a\\x0ab\\x1b[2J!\\xff\\\\c");
        assert_eq!(hostile.as_str(), None);
        assert_eq!(
            Escaped("tab\tok ✓\u{85}".as_bytes()).to_string(),
            "tab\\x09ok ✓\\xc2\\x85"
        );
        assert_eq!(PartitionName::from_words(long.words()), long);
    }
}
