//! Reading serial logs: GRUB writes terminal control sequences before the kernel
//! speaks, so logs are cleaned and searched for markers, never compared whole.

use std::fs;
use std::path::Path;

/// The log as text without terminal control sequences ("" if it cannot be read).
pub fn read_clean(path: &Path) -> String {
    fs::read(path)
        .map(|bytes| clean(&String::from_utf8_lossy(&bytes)))
        .unwrap_or_default()
}

/// Removes ANSI escape sequences, carriage returns and other control characters,
/// keeping newlines and tabs.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte in @..~.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ST (ESC \).
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                // Two-character sequences such as ESC 7, ESC c, ESC ( B.
                Some('(' | ')') => {
                    chars.next();
                }
                _ => {}
            },
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The markers that do not occur in `log`.
pub fn missing_markers<'a>(log: &str, markers: &[&'a str]) -> Vec<&'a str> {
    markers
        .iter()
        .copied()
        .filter(|marker| !log.contains(marker))
        .collect()
}

/// The first line of `log` holding `text`, if any.
pub fn line_with<'a>(log: &'a str, text: &str) -> Option<&'a str> {
    log.lines().find(|line| line.contains(text))
}

/// The last `count` lines of `log`.
pub fn tail(log: &str, count: usize) -> Vec<&str> {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(count)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start of a real GRUB serial log, then the kernel.
    const GRUB_LOG: &str = "\u{1b}[?7l\u{1b}[2J\u{1b}[0mGNU GRUB  version 2.06\r\n\u{1b}[H\u{1b}[m\
        \u{1b}[01;00H\u{1b}]0;title\u{7}\u{1b}(BTessera 0.1.0 booting via multiboot2\r\n\
        memory map:\r\n  [0x0 - 0x9fc00) usable\r\nsmp: 2 of 2 cpus online\r\n";

    #[test]
    fn strips_terminal_sequences() {
        let log = clean(GRUB_LOG);
        assert!(!log.contains('\u{1b}'));
        assert!(!log.contains('\r'));
        assert!(
            log.contains("\nTessera 0.1.0 booting via multiboot2\n"),
            "{log:?}"
        );
        assert!(log.starts_with("GNU GRUB  version 2.06\n"));
    }

    #[test]
    fn finds_markers_after_grub_noise() {
        let log = clean(GRUB_LOG);
        let markers = [
            "booting via multiboot2",
            "memory map:",
            "usable",
            "smp: 2 of 2 cpus online",
        ];
        assert!(missing_markers(&log, &markers).is_empty());
        assert_eq!(
            missing_markers(&log, &["usable", "tessera: verdict pass", "svm: revision "]),
            ["tessera: verdict pass", "svm: revision "]
        );
    }

    #[test]
    fn markers_are_substrings_not_lines() {
        let log = "svm: revision 1, 16 asids, nested paging yes, nrip-save no\n";
        assert!(missing_markers(log, &["svm: revision ", "nested paging yes"]).is_empty());
        assert_eq!(
            missing_markers(log, &["nested paging no"]),
            ["nested paging no"]
        );
    }

    #[test]
    fn line_with_finds_the_first_line_holding_the_text() {
        let log = "a Call Trace:\nb\nCall Trace again\n";
        assert_eq!(line_with(log, "Call Trace"), Some("a Call Trace:"));
        assert_eq!(line_with(log, "BUG:"), None);
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), ["b", "c"]);
        assert_eq!(tail("a\nb", 40), ["a", "b"]);
        assert!(tail("", 40).is_empty());
    }
}
