//! What an exit message means for its partition, and the reply to it.
//!
//! The manager serves its `exits` endpoint; routes send it the partition's
//! lifecycle exits and the exit port ([`guest_ports::EXIT`]), and, if the
//! manifest routes them, the reset port ([`RESET_PORT`]) and the ACPI
//! sleep registers a Linux guest powers off through (the FADT's, from
//! `tessera-acpi-tables`):
//!
//! | exit | reply | the partition |
//! | --- | --- | --- |
//! | `OUT` to the exit port | stop | ends: passed if the value is `EXIT_PASS`, else failed with the value |
//! | `IN` from the exit port | all ones, advance RIP | runs on |
//! | `OUT` to the reset port with bit 2 (reset CPU) set | stop | is reset: image reloaded, VP 0 restarted |
//! | other `OUT` to the reset port | advance RIP | runs on |
//! | `IN` from the reset port | 0, advance RIP | runs on |
//! | `OUT` to the ACPI sleep control register ([`SLEEP_CONTROL_PORT`]) asking for S5 | stop | ends: powered off |
//! | other `OUT` to the sleep control or status register | advance RIP | runs on |
//! | `IN` from either | 0 (never woken), advance RIP | runs on |
//! | `UNRECOVERABLE_EXCEPTION` | stop | ends: triple fault (invalid VP state for exit code `u64::MAX`) |
//! | `UNMAPPED_GPA`, `GPA_INTERCEPT` | stop | ends: memory fault |
//! | `X64_HALT` (lifecycle: nothing can wake it) | stop | ends: halted |
//! | `TESSERA_HANDLER_DIED` | stop | ends: a handler died |
//! | `TESSERA_UNSUPPORTED` | stop | ends: unsupported exit |
//! | `TESSERA_RESET_REQUEST` (the guest wrote `HV_X64_MSR_RESET`) | stop | is reset, as through the reset port |
//! | `TESSERA_GUEST_CRASH` (the guest wrote CrashNotify to `HV_X64_MSR_CRASH_CTL`) | stop | ends: guest crash (P0-P3 logged) |
//! | anything else | stop | ends: unexpected exit |

use core::fmt;

use tessera_abi::vm::{guest_ports, state};
use tessera_rt::vm_exit::{
    Exit, ExitError, ExitMessage, ExitReply, GuestRegisters, Intercept, MemoryAccess,
};
use tlfs::intercept::HvX64InterceptMessageHeader;
use zerocopy::{FromBytes, IntoBytes};

use crate::outcome::Outcome;

use tessera_guest_loader::acpi::power::{self, SleepRequest};
pub use tessera_guest_loader::acpi::power::{SLEEP_CONTROL_PORT, SLEEP_STATUS_PORT};

/// The reset control register (as on a PC chipset): writing a value with
/// [`RESET_CPU`] set resets the machine.
pub const RESET_PORT: u16 = 0xCF9;
/// Bit 2 of the reset control register: reset the CPU.
pub const RESET_CPU: u32 = 0x04;

/// What becomes of the partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// It runs on.
    Continue,
    /// It has ended, with this outcome (its VPs are to be stopped).
    End(Outcome),
    /// The guest asked for a reset: reload and restart it once the VP has
    /// stopped (after the reply).
    Reset,
}

/// What to log about an exit (after `partition NAME: `).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// The guest wrote `value` to the exit port.
    ExitPort {
        value: u32,
    },
    /// The guest wrote `value` to the reset port.
    ResetRequested {
        value: u32,
    },
    /// The guest wrote `HV_X64_MSR_RESET` (`TESSERA_RESET_REQUEST`).
    ResetMsr,
    /// The guest wrote `value`, S5 with `SLP_EN`, to the ACPI sleep
    /// control register.
    PowerOff {
        value: u32,
    },
    /// The guest reported a crash (`TESSERA_GUEST_CRASH`): P0-P3.
    GuestCrash {
        parameters: [u64; 4],
    },
    /// A triple fault (or, with `exit_code == u64::MAX`, a state `VMRUN`
    /// refused), with the TLFS header if the buffer held it.
    Unrecoverable {
        rip: u64,
        rsp: u64,
        exit_code: u64,
        header: Option<HvX64InterceptMessageHeader>,
    },
    Memory {
        gpa: u64,
        access: MemoryAccess,
        rip: u64,
        unmapped: bool,
    },
    /// `HLT` with interrupts disabled: quick word 2 (RFLAGS for a routed
    /// HLT exit) and the TLFS header (RIP and RFLAGS), if the buffer held
    /// it.
    Halted {
        rflags: u64,
        header: Option<HvX64InterceptMessageHeader>,
    },
    HandlerDied {
        message_type: u64,
        name: Option<&'static str>,
    },
    Unsupported {
        exit_code: u64,
        rip: u64,
    },
    Unexpected {
        message_type: u64,
        name: Option<&'static str>,
        vp: u64,
        exit: Result<Exit, ExitError>,
    },
}

impl Report {
    pub const fn level(&self) -> log::Level {
        match self {
            Self::ExitPort { .. }
            | Self::ResetRequested { .. }
            | Self::ResetMsr
            | Self::PowerOff { .. } => log::Level::Info,
            Self::Unexpected { .. } => log::Level::Warn,
            _ => log::Level::Error,
        }
    }
}

/// A message type's name, or its number.
struct TypeName(u64, Option<&'static str>);

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(name) => write!(f, "{name} ({:#x})", self.0),
            None => write!(f, "message type {:#x}", self.0),
        }
    }
}

fn access_name(access: MemoryAccess) -> &'static str {
    match access {
        MemoryAccess::Read => "read",
        MemoryAccess::Write => "write",
        MemoryAccess::Execute => "execute",
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ExitPort { value } => write!(
                f,
                "the guest wrote {value:#x} to the exit port ({:#x})",
                guest_ports::EXIT
            ),
            Self::ResetRequested { value } => write!(
                f,
                "the guest asked for a reset (wrote {value:#x} to port {RESET_PORT:#x})"
            ),
            Self::ResetMsr => f.write_str("the guest asked for a reset (HV_X64_MSR_RESET)"),
            Self::PowerOff { value } => write!(
                f,
                "the guest powered off (wrote {value:#x}, S5, to the ACPI sleep control register, \
                 port {SLEEP_CONTROL_PORT:#x})"
            ),
            Self::GuestCrash {
                parameters: [p0, p1, p2, p3],
            } => write!(
                f,
                "guest crash (P0 {p0:#x} P1 {p1:#x} P2 {p2:#x} P3 {p3:#x}); stopped"
            ),
            Self::Unrecoverable {
                rip,
                rsp,
                exit_code,
                header,
            } => {
                if exit_code == u64::MAX {
                    write!(
                        f,
                        "invalid VP state (VMRUN refused it) at rip {rip:#x} (rsp {rsp:#x}"
                    )?;
                } else {
                    write!(
                        f,
                        "triple fault at rip {rip:#x} (rsp {rsp:#x}, SVM exit code {exit_code:#x}"
                    )?;
                }
                if let Some(header) = header {
                    let state = header.execution_state;
                    write!(
                        f,
                        "; vp {}, cs {:#x}, rflags {:#x}, cpl {}, {}",
                        header.vp_index,
                        header.cs_segment.selector,
                        header.rflags,
                        state.cpl(),
                        match (state.cr0_pe(), state.efer_lma()) {
                            (_, true) => "long mode",
                            (true, false) => "protected mode",
                            (false, false) => "real mode",
                        }
                    )?;
                }
                f.write_str("); stopped")
            }
            Self::Memory {
                gpa,
                access,
                rip,
                unmapped,
            } => {
                if unmapped {
                    write!(f, "unmapped GPA {gpa:#x} ")?;
                } else {
                    write!(f, "GPA {gpa:#x} refused by its mapping ")?;
                }
                write!(f, "({}) at rip {rip:#x}; stopped", access_name(access))
            }
            Self::Halted {
                header: Some(header),
                ..
            } => write!(
                f,
                "HLT with interrupts disabled at rip {:#x} (rflags {:#x}); stopped",
                header.rip, header.rflags
            ),
            Self::Halted {
                rflags,
                header: None,
            } => write!(
                f,
                "HLT with interrupts disabled (rflags {rflags:#x}); stopped"
            ),
            Self::HandlerDied { message_type, name } => write!(
                f,
                "the handler of its {} exits died; stopped",
                TypeName(message_type, name)
            ),
            Self::Unsupported { exit_code, rip } => write!(
                f,
                "unsupported exit (SVM exit code {exit_code:#x}) at rip {rip:#x}; stopped"
            ),
            Self::Unexpected {
                message_type,
                name,
                vp,
                exit,
            } => {
                let name = TypeName(message_type, name);
                match exit {
                    Ok(exit) => write!(f, "unexpected exit {name} from VP {vp}: {exit:?}"),
                    Err(error) => write!(f, "unexpected exit {name} from VP {vp}: {error:?}"),
                }?;
                f.write_str("; stopped")
            }
        }
    }
}

/// The decision about one exit message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub reply: ExitReply,
    pub effect: Effect,
    pub report: Option<Report>,
}

impl Decision {
    fn run_on(reply: ExitReply) -> Self {
        Self {
            reply,
            effect: Effect::Continue,
            report: None,
        }
    }

    fn end(outcome: Outcome, report: Report) -> Self {
        Self {
            reply: ExitReply::new().stop(),
            effect: Effect::End(outcome),
            report: Some(report),
        }
    }
}

/// The TLFS intercept header at the start of `buffer`, if it holds one.
pub fn header(buffer: &[u64]) -> Option<HvX64InterceptMessageHeader> {
    HvX64InterceptMessageHeader::read_from_prefix(buffer.as_bytes())
        .ok()
        .map(|(header, _)| header)
}

/// What `message` (with its message-buffer words `buffer`) means.
pub fn decide(message: &ExitMessage, buffer: &[u64]) -> Decision {
    let unexpected = || {
        Decision::end(
            Outcome::Unexpected,
            Report::Unexpected {
                message_type: message.message_type,
                name: message.type_name(),
                vp: message.vp_index,
                exit: message.exit,
            },
        )
    };
    match message.exit {
        Ok(Exit::IoPort { .. }) if matches!(message.intercept, Intercept::IoPort(m) if m.access_info.string_op()) => {
            unexpected()
        }
        Ok(Exit::IoPort {
            port: guest_ports::EXIT,
            write: true,
            value,
            ..
        }) => Decision::end(
            Outcome::of_exit_port(u64::from(value)),
            Report::ExitPort { value },
        ),
        Ok(Exit::IoPort {
            port: guest_ports::EXIT,
            write: false,
            ..
        }) => Decision::run_on(ExitReply::new().io_read_result(u32::MAX).advance_rip()),
        Ok(Exit::IoPort {
            port: RESET_PORT,
            write: true,
            value,
            ..
        }) if value & RESET_CPU != 0 => Decision {
            reply: ExitReply::new().stop(),
            effect: Effect::Reset,
            report: Some(Report::ResetRequested { value }),
        },
        Ok(Exit::IoPort {
            port: RESET_PORT,
            write,
            ..
        }) => Decision::run_on(if write {
            ExitReply::new().advance_rip()
        } else {
            ExitReply::new().io_read_result(0).advance_rip()
        }),
        Ok(Exit::IoPort {
            port: SLEEP_CONTROL_PORT,
            write: true,
            value,
            ..
        }) => match power::sleep_control(value as u8) {
            SleepRequest::PowerOff => {
                Decision::end(Outcome::PoweredOff, Report::PowerOff { value })
            }
            SleepRequest::None | SleepRequest::Unsupported(_) => {
                Decision::run_on(ExitReply::new().advance_rip())
            }
        },
        Ok(Exit::IoPort {
            port: SLEEP_CONTROL_PORT | SLEEP_STATUS_PORT,
            write,
            ..
        }) => Decision::run_on(if write {
            // WAK_STS is written to clear it; there is nothing to clear.
            ExitReply::new().advance_rip()
        } else {
            ExitReply::new()
                .io_read_result(u32::from(power::SLEEP_STATUS))
                .advance_rip()
        }),
        Ok(Exit::UnrecoverableException {
            rip,
            exit_code,
            rsp,
        }) => Decision::end(
            if exit_code == u64::MAX {
                Outcome::InvalidState
            } else {
                Outcome::TripleFault
            },
            Report::Unrecoverable {
                rip,
                rsp,
                exit_code,
                header: header(buffer),
            },
        ),
        Ok(Exit::Memory {
            gpa,
            access,
            rip,
            unmapped,
            ..
        }) => Decision::end(
            Outcome::MemoryFault,
            Report::Memory {
                gpa,
                access,
                rip,
                unmapped,
            },
        ),
        Ok(Exit::Halt { rflags }) => Decision::end(
            Outcome::Halted,
            Report::Halted {
                rflags,
                header: header(buffer),
            },
        ),
        Ok(Exit::HandlerDied { message_type }) => Decision::end(
            Outcome::HandlerDied,
            Report::HandlerDied {
                message_type,
                name: u32::try_from(message_type)
                    .ok()
                    .and_then(|t| tlfs::HvMessageType(t).name()),
            },
        ),
        Ok(Exit::Unsupported { exit_code, rip }) => {
            Decision::end(Outcome::Unsupported, Report::Unsupported { exit_code, rip })
        }
        // The kernel stops the VP for these; the reply stops it as well.
        Ok(Exit::ResetRequest) => Decision {
            reply: ExitReply::new().stop(),
            effect: Effect::Reset,
            report: Some(Report::ResetMsr),
        },
        Ok(Exit::GuestCrash { parameters }) => {
            Decision::end(Outcome::GuestCrash, Report::GuestCrash { parameters })
        }
        // Nobody should attach to the manager's own endpoint; accept it
        // anyway (the reply word 0 = 0 is also "no action").
        Ok(Exit::PartitionAttach { .. }) => Decision::run_on(ExitReply::accept_attach()),
        _ => unexpected(),
    }
}

/// The general registers that came after the TLFS header of a lifecycle
/// message (the kernel sends them all; a route's own `mask` is accepted
/// too), for the log: only if the buffer is exactly the header and those
/// registers (anything else is not such a message).
pub fn registers_after_header(buffer: &[u64], mask: u64) -> Option<GuestRegisters> {
    let header_words = size_of::<HvX64InterceptMessageHeader>() / 8;
    let count = buffer.len().checked_sub(header_words)?;
    let mask = [mask & state::ALL, state::ALL]
        .into_iter()
        .find(|mask| mask.count_ones() as usize == count)?;
    (count > 0)
        .then(|| GuestRegisters::from_buffer(buffer, mask))
        .flatten()
}

/// `rax=0x… rcx=0x… …` for the registers the route sent.
#[derive(Clone, Copy, Debug)]
pub struct RegistersLine(pub GuestRegisters);

const GENERAL_REGISTERS: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];

impl fmt::Display for RegistersLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (bit, name) in GENERAL_REGISTERS.iter().enumerate() {
            if let Some(value) = self.0.get(1 << bit) {
                if !first {
                    f.write_str(" ")?;
                }
                first = false;
                write!(f, "{name}={value:#x}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec::Vec;
    use tessera_abi::vm::{
        TESSERA_GUEST_CRASH, TESSERA_HANDLER_DIED, TESSERA_RESET_REQUEST, TESSERA_UNSUPPORTED,
        action,
    };
    use tlfs::HvMessageType;

    const IO: u64 = HvMessageType::X64_IO_PORT_INTERCEPT.0 as u64;
    const UNRECOVERABLE: u64 = HvMessageType::UNRECOVERABLE_EXCEPTION.0 as u64;
    const UNMAPPED: u64 = HvMessageType::UNMAPPED_GPA.0 as u64;
    const GPA_INTERCEPT: u64 = HvMessageType::GPA_INTERCEPT.0 as u64;
    const HALT: u64 = HvMessageType::X64_HALT.0 as u64;
    const CPUID: u64 = HvMessageType::X64_CPUID_INTERCEPT.0 as u64;

    fn decide_words(words: [u64; 6]) -> Decision {
        decide(&ExitMessage::decode(&words, &[]), &[])
    }

    fn out(port: u16, size: u64, value: u64) -> Decision {
        decide_words([IO, 0, port.into(), size, 1, value])
    }

    fn input(port: u16, size: u64) -> Decision {
        decide_words([IO, 0, port.into(), size, 0, 0])
    }

    #[test]
    fn the_exit_port_ends_the_partition_without_advancing() {
        let pass = out(0xF4, 4, 0x10);
        assert_eq!(pass.effect, Effect::End(Outcome::Passed));
        assert_eq!(pass.reply.words(), [action::STOP, 0, 0, 0, 0, 0]);
        assert_eq!(
            format!("{}", pass.report.unwrap()),
            "the guest wrote 0x10 to the exit port (0xf4)"
        );
        assert_eq!(
            out(0xF4, 1, 0x11).effect,
            Effect::End(Outcome::Failed(0x11))
        );
        // An 8-bit write of 0x10 with garbage above is masked by the parser.
        assert_eq!(out(0xF4, 1, 0xFF10).effect, Effect::End(Outcome::Passed));
        assert_eq!(
            out(0xF4, 4, 0x1_0010).effect,
            Effect::End(Outcome::Failed(0x1_0010))
        );
    }

    #[test]
    fn reading_the_exit_port_reads_all_ones() {
        let read = input(0xF4, 4);
        assert_eq!(read.effect, Effect::Continue);
        assert_eq!(read.report, None);
        assert_eq!(
            read.reply.words(),
            [
                action::RESULT | action::ADVANCE_RIP,
                0,
                0xFFFF_FFFF,
                0,
                0,
                0
            ]
        );
    }

    #[test]
    fn an_acpi_power_off_ends_the_partition() {
        // Linux's acpi_hw_extended_sleep: WAK_STS to the status register,
        // then SLP_TYP(S5) << 2 | SLP_EN to the control register.
        let clear = out(SLEEP_STATUS_PORT, 1, 0x80);
        assert_eq!(clear.effect, Effect::Continue);
        assert_eq!(clear.reply.actions(), action::ADVANCE_RIP);
        let off = out(SLEEP_CONTROL_PORT, 1, 0x34);
        assert_eq!(off.effect, Effect::End(Outcome::PoweredOff));
        assert_eq!(off.reply.actions(), action::STOP);
        assert_eq!(
            format!("{}", off.report.unwrap()),
            "the guest powered off (wrote 0x34, S5, to the ACPI sleep control register, port 0x600)"
        );
        // Another sleep type, or no SLP_EN: the guest runs on.
        for value in [0x14, 0x14 & !0x20, 0x30, 0x04] {
            let other = out(SLEEP_CONTROL_PORT, 1, value);
            assert_eq!(other.effect, Effect::Continue, "{value:#x}");
            assert_eq!(other.reply.actions(), action::ADVANCE_RIP);
        }
        for port in [SLEEP_CONTROL_PORT, SLEEP_STATUS_PORT] {
            let read = input(port, 1);
            assert_eq!(read.effect, Effect::Continue);
            assert_eq!(read.reply.actions(), action::RESULT | action::ADVANCE_RIP);
            assert_eq!(read.reply.words()[2], 0, "never woken");
        }
    }

    #[test]
    fn the_reset_port_resets_only_with_the_cpu_bit() {
        let reset = out(0xCF9, 1, 0x06);
        assert_eq!(reset.effect, Effect::Reset);
        assert_eq!(reset.reply.actions(), action::STOP);
        assert_eq!(
            format!("{}", reset.report.unwrap()),
            "the guest asked for a reset (wrote 0x6 to port 0xcf9)"
        );
        let arm = out(0xCF9, 1, 0x02);
        assert_eq!(arm.effect, Effect::Continue);
        assert_eq!(arm.reply.actions(), action::ADVANCE_RIP);
        let read = input(0xCF9, 1);
        assert_eq!(read.effect, Effect::Continue);
        assert_eq!(read.reply.actions(), action::RESULT | action::ADVANCE_RIP);
        assert_eq!(read.reply.words()[2], 0);
    }

    #[test]
    fn the_reset_msr_resets_like_the_reset_port() {
        let reset = decide_words([TESSERA_RESET_REQUEST, 0, 0, 0, 0, 0]);
        assert_eq!(reset.effect, Effect::Reset);
        assert_eq!(reset.reply.words(), [action::STOP, 0, 0, 0, 0, 0]);
        let report = reset.report.unwrap();
        assert_eq!(report.level(), log::Level::Info);
        assert_eq!(
            format!("{report}"),
            "the guest asked for a reset (HV_X64_MSR_RESET)"
        );
    }

    #[test]
    fn a_guest_crash_ends_the_partition_with_p0_to_p3() {
        let crash = decide_words([TESSERA_GUEST_CRASH, 0, 0xDEAD, 0x1, 0x2000, 0x17]);
        assert_eq!(crash.effect, Effect::End(Outcome::GuestCrash));
        assert_eq!(crash.reply.actions(), action::STOP);
        let report = crash.report.unwrap();
        assert_eq!(report.level(), log::Level::Error);
        assert_eq!(
            format!("{report}"),
            "guest crash (P0 0xdead P1 0x1 P2 0x2000 P3 0x17); stopped"
        );
    }

    #[test]
    fn other_ports_are_unexpected() {
        let other = out(0x3F8, 1, b'x'.into());
        assert_eq!(other.effect, Effect::End(Outcome::Unexpected));
        assert_eq!(other.reply.actions(), action::STOP);
        let report = other.report.unwrap();
        assert_eq!(report.level(), log::Level::Warn);
        assert!(
            format!("{report}").starts_with(
                "unexpected exit HvMessageTypeX64IoPortIntercept (0x80010000) from VP 0: IoPort"
            ),
            "{report}"
        );
    }

    #[test]
    fn a_triple_fault_reports_rip_and_the_header() {
        let message = ExitMessage::decode(&[UNRECOVERABLE, 0, 0x1234, 0x7F, 0x8000, 0], &[]);
        let decision = decide(&message, &[]);
        assert_eq!(decision.effect, Effect::End(Outcome::TripleFault));
        assert_eq!(decision.reply.actions(), action::STOP);
        assert_eq!(
            format!("{}", decision.report.unwrap()),
            "triple fault at rip 0x1234 (rsp 0x8000, SVM exit code 0x7f); stopped"
        );
        let mut header = HvX64InterceptMessageHeader {
            vp_index: 0,
            rip: 0x1234,
            rflags: 0x2,
            ..Default::default()
        };
        header.cs_segment.selector = 0x08;
        header.execution_state = header.execution_state.with_cr0_pe(true).with_efer_lma(true);
        let buffer: Vec<u64> = header
            .as_bytes()
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let decision = decide(&message, &buffer);
        assert_eq!(
            format!("{}", decision.report.unwrap()),
            "triple fault at rip 0x1234 (rsp 0x8000, SVM exit code 0x7f; vp 0, cs 0x8, \
             rflags 0x2, cpl 0, long mode); stopped"
        );
    }

    #[test]
    fn an_invalid_state_is_not_a_triple_fault() {
        let decision = decide_words([UNRECOVERABLE, 0, 0x1000, u64::MAX, 0, 0]);
        assert_eq!(decision.effect, Effect::End(Outcome::InvalidState));
        assert_eq!(
            format!("{}", decision.report.unwrap()),
            "invalid VP state (VMRUN refused it) at rip 0x1000 (rsp 0x0); stopped"
        );
    }

    #[test]
    fn registers_follow_the_header_in_mask_order() {
        let mut buffer = alloc::vec![0u64; 5];
        buffer.extend([0xA, 0xB, 0xC]);
        let mask = state::RAX | state::RSP | 1 << 15;
        let registers = registers_after_header(&buffer, mask).unwrap();
        assert_eq!(
            format!("{}", RegistersLine(registers)),
            "rax=0xa rsp=0xb r15=0xc"
        );
        // A buffer that is not header + registers shows none.
        assert!(registers_after_header(&buffer[1..], mask).is_none());
        assert!(registers_after_header(&buffer[..5], 0).is_none());
        // The kernel's lifecycle messages carry every register, whatever
        // the route asked for.
        let mut all = alloc::vec![0u64; 5];
        all.extend(0..16);
        let registers = registers_after_header(&all, 0).unwrap();
        let line = format!("{}", RegistersLine(registers));
        assert!(line.starts_with("rax=0x0 rcx=0x1 rdx=0x2"), "{line}");
        assert!(line.ends_with("r15=0xf"), "{line}");
    }

    #[test]
    fn memory_faults_name_the_gpa_and_access() {
        let unmapped = decide_words([UNMAPPED, 0, 0x4000_0000, 1, 0x10_0010, 0]);
        assert_eq!(unmapped.effect, Effect::End(Outcome::MemoryFault));
        assert_eq!(unmapped.reply.actions(), action::STOP);
        assert_eq!(
            format!("{}", unmapped.report.unwrap()),
            "unmapped GPA 0x40000000 (write) at rip 0x100010; stopped"
        );
        let refused = decide_words([GPA_INTERCEPT, 0, 0x2000, 2, 0x2000, 0]);
        assert_eq!(refused.effect, Effect::End(Outcome::MemoryFault));
        assert_eq!(
            format!("{}", refused.report.unwrap()),
            "GPA 0x2000 refused by its mapping (execute) at rip 0x2000; stopped"
        );
    }

    #[test]
    fn lifecycle_messages_end_the_partition() {
        let died = decide_words([TESSERA_HANDLER_DIED, 0, IO, 0, 0, 0]);
        assert_eq!(died.effect, Effect::End(Outcome::HandlerDied));
        assert_eq!(died.reply.actions(), action::STOP);
        assert_eq!(
            format!("{}", died.report.unwrap()),
            "the handler of its HvMessageTypeX64IoPortIntercept (0x80010000) exits died; stopped"
        );
        let unsupported = decide_words([TESSERA_UNSUPPORTED, 0, 0x8B, 0x1000, 0, 0]);
        assert_eq!(unsupported.effect, Effect::End(Outcome::Unsupported));
        assert_eq!(
            format!("{}", unsupported.report.unwrap()),
            "unsupported exit (SVM exit code 0x8b) at rip 0x1000; stopped"
        );
        let halted = decide_words([HALT, 0, 0x2, 0, 0, 0]);
        assert_eq!(halted.effect, Effect::End(Outcome::Halted));
        assert_eq!(
            format!("{}", halted.report.unwrap()),
            "HLT with interrupts disabled (rflags 0x2); stopped"
        );
    }

    #[test]
    fn anything_else_stops_as_unexpected() {
        for words in [
            [CPUID, 0, 1, 0, 0, 0],
            [0x1234, 0, 0, 0, 0, 0],
            [IO, 0, 0xF4, 3, 1, 0x10], // malformed size
        ] {
            let decision = decide_words(words);
            assert_eq!(
                decision.effect,
                Effect::End(Outcome::Unexpected),
                "{words:x?}"
            );
            assert_eq!(decision.reply.actions(), action::STOP);
        }
    }

    #[test]
    fn string_io_on_the_exit_port_is_unexpected() {
        use tlfs::intercept::{HvX64IoPortAccessInfo, HvX64IoPortInterceptMessage};
        let intercept = HvX64IoPortInterceptMessage {
            port_number: 0xF4,
            access_info: HvX64IoPortAccessInfo::new()
                .with_access_size(1)
                .with_string_op(true),
            ..Default::default()
        };
        let buffer: Vec<u64> = intercept
            .as_bytes()
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let message = ExitMessage::decode(&[IO, 0, 0xF4, 1, 1, 0x10], &buffer);
        assert_eq!(
            decide(&message, &buffer).effect,
            Effect::End(Outcome::Unexpected)
        );
    }
}
