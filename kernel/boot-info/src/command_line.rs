//! The kernel's own command line options.
//!
//! Words are separated by ASCII whitespace and have the form `key=value`:
//!
//! | word | effect |
//! | --- | --- |
//! | `log=error\|warn\|info\|debug\|trace` | [`KernelOptions::log_level`] (default `info`) |
//! | `debug-exit=PORT` | [`KernelOptions::debug_exit_port`]; `0xf4` (hex with `0x`) or `244` |
//! | `inject-fault=invalid-opcode\|stack-overflow\|panic` | [`KernelOptions::inject_fault`], for the system tests of fault reporting |
//! | `exit-stats=on` | [`KernelOptions::exit_stats`] |
//!
//! A later word overrides an earlier one with the same key. The first word
//! is skipped silently if it has no `=`, because QEMU's Multiboot1 loader
//! puts the kernel's path there. Every other word that is not understood (an
//! unknown key, a bad value, a later word without `=`) is handed back so the
//! kernel can warn about it rather than ignore a typo.

use core::fmt;

use heapless::Vec;

/// How many not-understood words [`parse_command_line`] returns.
pub const MAX_UNRECOGNISED: usize = 16;

/// Verbosity of the kernel log, least verbose first (so `Debug > Info`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// The default.
    #[default]
    Info,
    /// For debugging the kernel.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// All levels, least verbose first.
    pub const ALL: [Self; 5] = [
        Self::Error,
        Self::Warn,
        Self::Info,
        Self::Debug,
        Self::Trace,
    ];

    /// The name used on the command line (`"debug"`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }

    /// The level for a command line name, ignoring ASCII case.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|level| level.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fault the kernel raises on purpose once it is up, so the system tests
/// can check that faults are reported (and end the run) as promised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InjectedFault {
    /// `ud2` in the kernel: an exception report with the registers.
    InvalidOpcode,
    /// Unbounded recursion into the guard page below the boot stack: a page
    /// fault that cannot be delivered on the same stack, so a double fault
    /// on its own interrupt stack.
    StackOverflow,
    /// A Rust panic: message, location and CPU.
    Panic,
}

impl InjectedFault {
    /// All faults, in command line order.
    pub const ALL: [Self; 3] = [Self::InvalidOpcode, Self::StackOverflow, Self::Panic];

    /// The name used on the command line (`"stack-overflow"`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::InvalidOpcode => "invalid-opcode",
            Self::StackOverflow => "stack-overflow",
            Self::Panic => "panic",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|fault| fault.name() == name)
    }
}

/// What the kernel command line asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelOptions {
    /// `log=`.
    pub log_level: LogLevel,
    /// `debug-exit=`: the I/O port of QEMU's `isa-debug-exit` device, which the
    /// kernel writes to end the test run; `None` if not given.
    pub debug_exit_port: Option<u16>,
    /// `inject-fault=`: a fault to raise after bring-up; `None` normally.
    pub inject_fault: Option<InjectedFault>,
    /// `inject-nmis=on`: every CPU's timer tick sends an NMI to every other
    /// CPU, so host NMIs land in guests, components and the kernel (a
    /// system test: the kernel must go on).
    pub inject_nmis: bool,
    /// `exit-stats=on`: at the end of the deployment the kernel logs each
    /// partition's exits by reason and outcome (`cargo xtask run --stats`).
    pub exit_stats: bool,
    /// Not-understood words beyond the [`MAX_UNRECOGNISED`] returned, so the
    /// kernel can say "and N more" instead of losing them without a trace.
    pub unrecognised_overflow: usize,
}

/// Parses the kernel command line.
///
/// Returns the options and the words (up to [`MAX_UNRECOGNISED`], in order)
/// that were not understood; how many more there were is in
/// [`KernelOptions::unrecognised_overflow`].
#[must_use]
pub fn parse_command_line(s: &str) -> (KernelOptions, Vec<&str, MAX_UNRECOGNISED>) {
    let mut options = KernelOptions::default();
    let mut unrecognised = Vec::new();
    for (i, word) in s.split_ascii_whitespace().enumerate() {
        let understood = match word.split_once('=') {
            None => i == 0,
            Some(("log", value)) => LogLevel::from_name(value)
                .map(|level| options.log_level = level)
                .is_some(),
            Some(("debug-exit", value)) => parse_port(value)
                .map(|port| options.debug_exit_port = Some(port))
                .is_some(),
            Some(("inject-fault", value)) => InjectedFault::from_name(value)
                .map(|fault| options.inject_fault = Some(fault))
                .is_some(),
            Some(("inject-nmis", "on")) => {
                options.inject_nmis = true;
                true
            }
            Some(("exit-stats", "on")) => {
                options.exit_stats = true;
                true
            }
            Some(_) => false,
        };
        if !understood && unrecognised.push(word).is_err() {
            options.unrecognised_overflow += 1;
        }
    }
    (options, unrecognised)
}

/// `0x`-prefixed hex or plain decimal, digits only (no sign, no `_`).
fn parse_port(value: &str) -> Option<u16> {
    let (digits, radix) = match value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        Some(hex) => (hex, 16),
        None => (value, 10),
    };
    // `from_str_radix` would accept a leading `+`.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u16::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nmi_injection_is_asked_for_by_name() {
        let (options, unrecognised) = parse_command_line("/kernel inject-nmis=on");
        assert!(options.inject_nmis && unrecognised.is_empty());
        let (options, unrecognised) = parse_command_line("/kernel inject-nmis=yes");
        assert!(!options.inject_nmis);
        assert_eq!(unrecognised.as_slice(), ["inject-nmis=yes"]);
    }

    #[test]
    fn exit_statistics_are_asked_for_by_name() {
        let (options, unrecognised) = parse_command_line("/kernel exit-stats=on");
        assert!(options.exit_stats && unrecognised.is_empty());
        let (options, unrecognised) = parse_command_line("/kernel exit-stats=1");
        assert!(!options.exit_stats);
        assert_eq!(unrecognised.as_slice(), ["exit-stats=1"]);
    }

    #[test]
    fn inject_fault_names_each_fault_and_rejects_others() {
        for (word, fault) in [
            ("inject-fault=invalid-opcode", InjectedFault::InvalidOpcode),
            ("inject-fault=stack-overflow", InjectedFault::StackOverflow),
            ("inject-fault=panic", InjectedFault::Panic),
        ] {
            let (options, unknown) = parse_command_line(word);
            assert_eq!(options.inject_fault, Some(fault), "{word}");
            assert!(unknown.is_empty(), "{word}");
        }
        let (options, unknown) = parse_command_line("kernel inject-fault=reboot");
        assert_eq!(options.inject_fault, None);
        assert_eq!(unknown.as_slice(), ["inject-fault=reboot"]);
    }

    #[test]
    fn defaults_for_empty_line() {
        let (options, unknown) = parse_command_line("");
        assert_eq!(options, KernelOptions::default());
        assert_eq!(options.log_level, LogLevel::Info);
        assert_eq!(options.debug_exit_port, None);
        assert!(unknown.is_empty());
    }

    #[test]
    fn parses_known_words() {
        let (options, unknown) = parse_command_line("log=debug debug-exit=0xf4");
        assert_eq!(options.log_level, LogLevel::Debug);
        assert_eq!(options.debug_exit_port, Some(0xf4));
        assert!(unknown.is_empty());

        let (options, _) = parse_command_line("debug-exit=244 log=TRACE");
        assert_eq!(options.debug_exit_port, Some(244));
        assert_eq!(options.log_level, LogLevel::Trace);

        let (options, _) = parse_command_line("debug-exit=0XFFFF");
        assert_eq!(options.debug_exit_port, Some(0xffff));
    }

    #[test]
    fn qemu_kernel_path_is_skipped_but_only_first() {
        let (options, unknown) = parse_command_line("/boot/tessera.elf log=warn");
        assert_eq!(options.log_level, LogLevel::Warn);
        assert!(unknown.is_empty());

        let (_, unknown) = parse_command_line("/boot/tessera.elf log=warn quiet");
        assert_eq!(unknown.as_slice(), ["quiet"]);
    }

    #[test]
    fn whitespace_of_any_kind_separates() {
        let (options, unknown) = parse_command_line("  \tlog=error\n\n debug-exit=0x501  ");
        assert_eq!(options.log_level, LogLevel::Error);
        assert_eq!(options.debug_exit_port, Some(0x501));
        assert!(unknown.is_empty());
    }

    #[test]
    fn later_word_wins() {
        let (options, _) = parse_command_line("log=trace log=error");
        assert_eq!(options.log_level, LogLevel::Error);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_returned() {
        let (options, unknown) = parse_command_line(
            "log=debug log=loud debug-exit=0x10000 debug-exit=+4 debug-exit=0x debug-exit= \
             debug-exit=-1 debug-exit=0xg1 frobnicate=1 =x log",
        );
        // The bad `log=` did not undo the good one.
        assert_eq!(options.log_level, LogLevel::Debug);
        assert_eq!(options.debug_exit_port, None);
        assert_eq!(
            unknown.as_slice(),
            [
                "log=loud",
                "debug-exit=0x10000",
                "debug-exit=+4",
                "debug-exit=0x",
                "debug-exit=",
                "debug-exit=-1",
                "debug-exit=0xg1",
                "frobnicate=1",
                "=x",
                "log",
            ]
        );
        assert_eq!(options.unrecognised_overflow, 0);
    }

    #[test]
    fn first_word_with_equals_is_parsed() {
        let (options, unknown) = parse_command_line("log=trace");
        assert_eq!(options.log_level, LogLevel::Trace);
        assert!(unknown.is_empty());
        let (_, unknown) = parse_command_line("nope=1");
        assert_eq!(unknown.as_slice(), ["nope=1"]);
    }

    #[test]
    fn overflow_is_counted_not_lost() {
        let line = "kernel a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9 j=10 k=11 l=12 m=13 n=14 o=15 p=16 \
                    q=17 r=18 log=debug";
        let (options, unknown) = parse_command_line(line);
        assert_eq!(unknown.len(), MAX_UNRECOGNISED);
        assert_eq!(unknown[0], "a=1");
        assert_eq!(unknown[15], "p=16");
        assert_eq!(options.unrecognised_overflow, 2);
        assert_eq!(options.log_level, LogLevel::Debug);
    }

    #[test]
    fn level_names_round_trip() {
        for level in LogLevel::ALL {
            assert_eq!(LogLevel::from_name(level.name()), Some(level));
            assert_eq!(std::format!("{level}"), level.name());
        }
        assert!(LogLevel::Error < LogLevel::Trace);
        assert_eq!(LogLevel::from_name(""), None);
    }
}
