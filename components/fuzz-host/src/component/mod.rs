//! The component: set-up, the exits of both partitions, and the end.
mod judge;
mod setup;

use alloc::vec::Vec;

use fuzz_host::{Canary, Control};
use partition_manager::slots::{Slots, Window};
use probe_device::Probe;
use tessera_fuzz::guest::{self, command, stopped};
use tessera_rt::abi::vm::action;
use tessera_rt::abi::vm::guest_ports::{self, probe};
use tessera_rt::abi::{CapTransfer, Syscall};
use tessera_rt::message_buffer;
use tessera_rt::syscall::{Registers, invoke, invoke_with_buffer};
use tessera_rt::vm_exit::{Exit, ExitMessage, ExitReply, ReplyMessage};
use tessera_rt::{Error, Message};

use self::setup::Partition;

tessera_rt::entry!(main);

/// The receive capability of the `exits` endpoint (first of `provides`).
const EXITS: u32 = 4;
/// How many findings are printed during the run (the count is always
/// reported, and the end's findings always printed).
const PRINTED_FINDINGS: u64 = 40;

/// Where the fuzz guest's recovery point lives (its registered GPAs).
#[derive(Debug, Default, Clone, Copy)]
struct Recovery {
    rip: u64,
    rsp: u64,
    vector: u64,
    error: u64,
}

/// The run as the host sees it.
pub struct Host {
    fuzz: Partition,
    canary: Partition,
    control: Control,
    canary_device: Canary,
    probe: Probe,
    recovery: Recovery,
    /// The fuzz guest's last reported operation.
    pub operation: u64,
    pub findings: u64,
    /// The guest's own finding count (its DONE command).
    guest_findings: Option<u64>,
    /// How the partitions ended: the value written to the exit port.
    fuzz_end: Option<u32>,
    canary_end: Option<u32>,
    stops: u64,
    hotplug: judge::Hotplug,
    slots: Slots,
    /// Print every finding (the end's oracles), not only the first ones.
    print_all: bool,
}

impl Host {
    pub fn finding(&mut self, what: core::fmt::Arguments<'_>) {
        self.findings += 1;
        if self.findings > PRINTED_FINDINGS && !self.print_all {
            return;
        }
        log::error!("fuzz-host: FINDING at operation {}: {what}", self.operation);
    }
}

fn wait() -> Result<Registers, Error> {
    invoke(Syscall::Wait, EXITS, [0; 6], CapTransfer::NONE)
}

fn reply(reply: ExitReply) -> Result<(), Error> {
    let message: Message = reply.into_message()?;
    invoke_with_buffer(
        Syscall::Reply,
        EXITS,
        message.words,
        CapTransfer::NONE,
        message.buffer_words,
    )
    .map(drop)
}

/// What to do after answering an exit.
enum After {
    Nothing,
    /// The fuzz guest's VP was stopped: resume it at its recovery point
    /// with this pseudo vector and message type.
    Resume(u8, u64),
    /// A partition ended; the run may be over.
    Ended,
}

fn main() {
    let data = match setup::manager_data() {
        Ok(data) => data,
        Err(what) => {
            log::error!("fuzz-host: {what} failed");
            tessera_rt::verdict(false);
        }
    };
    let Some(baseline) = judge::audit() else {
        tessera_rt::verdict(false);
    };
    let mut slots = Slots::new(data.used_slots());
    let mut window = Window::default();
    let specs: Vec<_> = data.partitions().collect();
    let mut built = Vec::new();
    for spec in specs {
        let name = spec.name;
        match setup::build(spec, &mut slots, &mut window) {
            Ok(partition) => built.push(partition),
            Err((what, e)) => {
                log::error!("fuzz-host: partition {name}: {what} failed: {e}");
                tessera_rt::verdict(false);
            }
        }
    }
    let (Some(canary), Some(fuzz)) = (built.pop(), built.pop()) else {
        log::error!(
            "fuzz-host: the deployment must give it two partitions, the fuzz guest's first"
        );
        tessera_rt::verdict(false);
    };
    let mut host = Host {
        fuzz,
        canary,
        control: Control::default(),
        canary_device: Canary::default(),
        probe: Probe::new(),
        recovery: Recovery::default(),
        operation: 0,
        findings: 0,
        guest_findings: None,
        fuzz_end: None,
        canary_end: None,
        stops: 0,
        hotplug: judge::Hotplug::default(),
        slots,
        print_all: false,
    };
    serve(&mut host);
    judge::finish(&mut host, &baseline)
}

/// Serves both partitions' exits until both have ended.
fn serve(host: &mut Host) {
    while host.fuzz_end.is_none() || host.canary_end.is_none() {
        let request = match wait() {
            Ok(request) => request,
            Err(e) => {
                host.finding(format_args!("waiting for exits failed: {e}"));
                return;
            }
        };
        let buffer = message_buffer::read(u16::try_from(request.r14).unwrap_or(0));
        let message = ExitMessage::decode(&request.words, &buffer);
        let badge = request.rdi;
        let (answer, after) = if badge == host.fuzz.spec.badge {
            fuzz_exit(host, &message)
        } else if badge == host.canary.spec.badge {
            canary_exit(host, &message)
        } else {
            (ExitReply::new().stop(), After::Nothing)
        };
        if let Err(e) = reply(answer) {
            host.finding(format_args!(
                "the reply to {:#x} was refused: {e}",
                message.message_type
            ));
            let _ = reply(ExitReply::new().stop());
        }
        match after {
            After::Nothing | After::Ended => {}
            After::Resume(vector, message_type) => resume(host, vector, message_type),
        }
    }
}

fn exit_port(message: &ExitMessage) -> Option<u32> {
    match message.exit {
        Ok(Exit::IoPort {
            port: guest_ports::EXIT,
            write: true,
            value,
            ..
        }) => Some(value),
        _ => None,
    }
}

fn fuzz_exit(host: &mut Host, message: &ExitMessage) -> (ExitReply, After) {
    if let Some(value) = exit_port(message) {
        host.fuzz_end = Some(value);
        log::info!("fuzz-host: the fuzz guest ended with {value:#x}");
        return (ExitReply::new().stop(), After::Ended);
    }
    match message.exit {
        Ok(Exit::IoPort {
            port, write, value, ..
        }) if (guest::ports::FIRST..=guest::ports::LAST).contains(&port) => {
            if write {
                if let Some(command) = host.control.write(port, value) {
                    let result = run_command(host, command.code, command.argument);
                    host.control.set_result(result);
                }
                (ExitReply::new().advance_rip(), After::Nothing)
            } else {
                let read = host.control.read(port);
                (
                    ExitReply::new().io_read_result(read).advance_rip(),
                    After::Nothing,
                )
            }
        }
        Ok(Exit::ResetRequest) => (
            ExitReply::new().stop(),
            After::Resume(stopped::RESET, message.message_type),
        ),
        Ok(Exit::GuestCrash { .. }) => (
            ExitReply::new().stop(),
            After::Resume(stopped::CRASH, message.message_type),
        ),
        Ok(Exit::UnrecoverableException {
            rip,
            exit_code,
            rsp,
        }) => {
            host.finding(format_args!(
                "the fuzz guest's VP ended unrecoverably (exit code {exit_code:#x}, rip {rip:#x}, rsp {rsp:#x})"
            ));
            host.fuzz_end = Some(u32::MAX);
            (ExitReply::new().stop(), After::Ended)
        }
        Ok(Exit::Memory { gpa, size, .. }) if !(size != 0 && probe::MMIO.contains(&gpa)) => (
            ExitReply::new().stop(),
            After::Resume(stopped::BY_EXIT, message.message_type),
        ),
        _ if message.is_lifecycle() => (
            ExitReply::new().stop(),
            After::Resume(stopped::BY_EXIT, message.message_type),
        ),
        _ => {
            let handled = host.probe.handle(host.fuzz.spec.badge, message);
            for (level, line) in &handled.log {
                log::log!(*level, "fuzz-host: {line}");
            }
            if handled.reply.actions() & action::STOP != 0 {
                (
                    handled.reply,
                    After::Resume(stopped::BY_EXIT, message.message_type),
                )
            } else {
                (handled.reply, After::Nothing)
            }
        }
    }
}

fn canary_exit(host: &mut Host, message: &ExitMessage) -> (ExitReply, After) {
    if let Some(value) = exit_port(message) {
        host.canary_end = Some(value);
        log::info!("fuzz-host: the canary ended with {value:#x}");
        return (ExitReply::new().stop(), After::Ended);
    }
    match message.exit {
        Ok(Exit::IoPort {
            port,
            write: true,
            value,
            ..
        }) if (guest::CANARY_FIRST..=guest::CANARY_LAST).contains(&port) => {
            host.canary_device.write(port, value);
            (ExitReply::new().advance_rip(), After::Nothing)
        }
        Ok(Exit::IoPort {
            port: guest::CANARY_POLL,
            write: false,
            ..
        }) => {
            let last = u32::from(host.fuzz_end.is_some());
            (
                ExitReply::new().io_read_result(last).advance_rip(),
                After::Nothing,
            )
        }
        _ => {
            host.finding(format_args!(
                "the canary made an exit it never makes ({:#x}): {:?}",
                message.message_type, message.exit
            ));
            host.canary_end = Some(u32::MAX);
            (ExitReply::new().stop(), After::Ended)
        }
    }
}

fn run_command(host: &mut Host, code: u32, argument: u64) -> u64 {
    match code {
        command::RECOVERY_RIP_AT => host.recovery.rip = argument,
        command::RECOVERY_RSP_AT => host.recovery.rsp = argument,
        command::CAUGHT_VECTOR_AT => host.recovery.vector = argument,
        command::CAUGHT_ERROR_AT => host.recovery.error = argument,
        command::PROGRESS => host.operation = argument,
        command::HOTPLUG => return judge::hotplug(host),
        command::AUDIT => return judge::audit().map_or(u64::MAX, |report| report[0]),
        command::CANARY_READY => {
            return u64::from(
                host.canary_device
                    .range(host.canary.spec.memory_bytes)
                    .is_some(),
            );
        }
        command::DONE => {
            host.guest_findings = Some(argument);
            log::info!(
                "fuzz-host: the fuzz guest is done: {argument} findings, {} stops resumed",
                host.stops
            );
        }
        other => host.finding(format_args!("the fuzz guest sent unknown command {other}")),
    }
    0
}

/// Resumes the fuzz guest's stopped VP at its armed recovery point.
fn resume(host: &mut Host, vector: u8, message_type: u64) {
    let at = host.recovery;
    let ok = [at.rip, at.rsp, at.vector, at.error]
        .iter()
        .all(|&gpa| host.fuzz.in_ram(gpa));
    let rip = if ok { host.fuzz.read(at.rip) } else { 0 };
    let rsp = if ok { host.fuzz.read(at.rsp) } else { 0 };
    if rip == 0 {
        host.finding(format_args!(
            "the fuzz guest's VP stopped (message type {message_type:#x}) outside a guarded operation"
        ));
        host.fuzz_end = Some(u32::MAX);
        return;
    }
    host.stops += 1;
    host.fuzz.write(at.vector, u64::from(vector));
    host.fuzz.write(at.error, message_type);
    host.fuzz.write(at.rip, 0);
    if vector == stopped::RESET
        && let Some(words) = host.fuzz.spec.hv1
    {
        let cap = host.fuzz.cap;
        if let Err(e) = setup::while_stopping(|| tessera_rt::vm::partition_set_hv1(cap, &words)) {
            host.finding(format_args!("resetting the Hv#1 state failed: {e}"));
        }
    }
    log::debug!(
        "fuzz-host: resuming the fuzz guest at {rip:#x} (vector {vector}, message type {message_type:#x})"
    );
    if let Err(e) = setup::resume(host.fuzz.vp, rip, rsp) {
        host.finding(format_args!(
            "resuming the fuzz guest at {rip:#x} failed: {e}"
        ));
        host.fuzz_end = Some(u32::MAX);
    }
}
