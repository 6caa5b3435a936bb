//! Long log lines cut between words: the kernel prints a component's line
//! of more than [`CONSOLE_LINE_MAX`] bytes in pieces wherever the limit
//! falls, mid-word; the logger cuts it first, at the last space that fits,
//! and indents what follows, so a long error reads as one paragraph.
//! Without heap memory (it runs in the panic path too): one line's buffer.

use core::fmt;

use tessera_abi::CONSOLE_LINE_MAX;

/// What starts every line after the first of one record.
pub const CONTINUATION: &str = "  ";

/// A [`fmt::Write`] that passes text on to `out` in lines of at most
/// [`CONSOLE_LINE_MAX`] bytes (newline not counted), cutting a longer one
/// at its last space (a word longer than a line is cut where it must be)
/// and starting each continuation with [`CONTINUATION`].
#[derive(Debug)]
pub struct Wrapping<W: fmt::Write> {
    out: W,
    line: [u8; CONSOLE_LINE_MAX],
    len: usize,
    /// Bytes at the start of `line` that are a continuation's indent.
    indent: usize,
}

impl<W: fmt::Write> Wrapping<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            line: [0; CONSOLE_LINE_MAX],
            len: 0,
            indent: 0,
        }
    }

    /// Passes on what is left (without adding a newline) and returns `out`.
    pub fn finish(mut self) -> Result<W, fmt::Error> {
        self.emit(self.len)?;
        Ok(self.out)
    }

    /// Writes `line[..end]` out, as text (it holds whole UTF-8 sequences
    /// only where the input did; a cut inside one is written lossily).
    fn emit(&mut self, end: usize) -> fmt::Result {
        let bytes = &self.line[..end];
        match core::str::from_utf8(bytes) {
            Ok(text) => self.out.write_str(text),
            Err(_) => bytes
                .iter()
                .try_for_each(|&b| self.out.write_char(char::from(b))),
        }
    }

    fn push(&mut self, byte: u8) -> fmt::Result {
        if byte == b'\n' {
            self.emit(self.len)?;
            self.out.write_char('\n')?;
            self.len = 0;
            self.indent = 0;
            return Ok(());
        }
        if self.len == CONSOLE_LINE_MAX {
            self.break_line()?;
        }
        self.line[self.len] = byte;
        self.len += 1;
        Ok(())
    }

    /// The line is full: out with it up to its last space, and start the
    /// next with the indent and the unfinished word.
    fn break_line(&mut self) -> fmt::Result {
        let cut = self.line[self.indent..self.len]
            .iter()
            .rposition(|&b| b == b' ')
            .map(|at| self.indent + at);
        let (end, rest) = match cut {
            // Trailing spaces of the cut line go too.
            Some(at) => {
                let mut end = at;
                while end > self.indent && self.line[end - 1] == b' ' {
                    end -= 1;
                }
                (end, at + 1)
            }
            None => (self.len, self.len),
        };
        self.emit(end)?;
        self.out.write_char('\n')?;
        let carried = self.len - rest;
        self.line.copy_within(rest..self.len, CONTINUATION.len());
        self.line[..CONTINUATION.len()].copy_from_slice(CONTINUATION.as_bytes());
        self.indent = CONTINUATION.len();
        self.len = CONTINUATION.len() + carried;
        Ok(())
    }
}

impl<W: fmt::Write> fmt::Write for Wrapping<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        text.bytes().try_for_each(|byte| self.push(byte))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;
    use std::string::String;
    use std::vec::Vec;

    fn wrap(text: &str) -> String {
        let mut wrapping = Wrapping::new(String::new());
        wrapping.write_str(text).unwrap();
        wrapping.finish().unwrap()
    }

    #[test]
    fn short_lines_pass_unchanged() {
        assert_eq!(wrap("INFO hello\n"), "INFO hello\n");
        assert_eq!(wrap("a\nb\n"), "a\nb\n");
        assert_eq!(wrap(""), "");
    }

    #[test]
    fn a_long_line_is_cut_between_words_never_inside_one() {
        let words: Vec<String> = (0..80).map(|i| std::format!("word{i}")).collect();
        let text = std::format!("ERROR init: {}\n", words.join(" "));
        let wrapped = wrap(&text);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert!(lines.len() >= 3, "{wrapped}");
        for (i, line) in lines.iter().enumerate() {
            assert!(line.len() <= CONSOLE_LINE_MAX, "{line}");
            assert!(!line.ends_with(' '), "{line:?}");
            if i > 0 {
                assert!(line.starts_with(CONTINUATION), "{line}");
            }
        }
        // Every word arrives whole, in order.
        let rejoined: Vec<&str> = wrapped.split_whitespace().skip(2).collect();
        assert_eq!(
            rejoined,
            words.iter().map(String::as_str).collect::<Vec<_>>()
        );
        assert!(wrapped.ends_with('\n'));
    }

    #[test]
    fn a_word_longer_than_a_line_is_cut_where_it_must_be() {
        let long = "x".repeat(450);
        let wrapped = wrap(&long);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert_eq!(lines[0].len(), CONSOLE_LINE_MAX);
        assert!(lines.iter().all(|l| l.len() <= CONSOLE_LINE_MAX));
        assert_eq!(wrapped.replace([' ', '\n'], "").len(), 450);
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_not_cut() {
        let line = "y".repeat(CONSOLE_LINE_MAX);
        assert_eq!(wrap(&std::format!("{line}\n")), std::format!("{line}\n"));
    }
}
