//! One operation: a system call with random arguments, or a short
//! sequence that builds something the kernel must tear down again.
mod args;
mod deep;
mod plain;

use fuzz_syscalls::model::{Kind, PROTECTED};
use tessera_fuzz::Draw;
use tessera_rt::abi::{CapTransfer, NO_SELECTOR, Syscall};
use tessera_rt::syscall::Registers;

use self::args::slot;
use self::deep::{domain_with_program, partition_with_guest};
use self::plain::plain;
use super::Fuzzer;

pub(super) fn call(number: Syscall, rdi: u64, words: [u64; 6]) -> Registers {
    Registers {
        rax: number as u64,
        rdi,
        words,
        r13: CapTransfer::NONE.to_word(),
        r14: 0,
    }
}

/// Runs `registers` and, on success, tells the model that `slot` now
/// holds a new `kind`.
pub(super) fn create(fuzzer: &mut Fuzzer, registers: Registers, slot: u64, kind: Kind) -> bool {
    let ok = fuzzer.sys(registers).rax == 0;
    if ok {
        fuzzer.slots.created(slot, kind);
    }
    ok
}

/// Runs operation `draw` of the run.
pub fn one(fuzzer: &mut Fuzzer, draw: &mut Draw) {
    // Weights: plain calls by kind, then the building sequences, the
    // unknown numbers and the all-random registers.
    const WEIGHTS: [u32; 38] = [
        // 0..=33: the call of that number (Exit never).
        1, 1, 4, 2, 1, 1, 2, 2, 1, 0, 1, 6, 6, 3, 3, 3, 2, 2, 2, 5, 3, 6, 3, 4, 4, 2, 4, 4, 2, 3, 3,
        2, 2, 2, //
        1, // 34: KernelAudit
        3, // 35: a domain running a program
        3, // 36: a partition running a guest
        5, // 37: an unknown number, or every register random
    ];
    let choice = draw.weighted(&WEIGHTS);
    if fuzzer.trace {
        log::info!(
            "fuzz-syscalls: operation {} kind {choice}",
            fuzzer.operation
        );
    }
    match choice {
        34 => {
            fuzzer.sys(call(Syscall::KernelAudit, slot(draw), [0; 6]));
        }
        35 => domain_with_program(fuzzer, draw),
        36 => partition_with_guest(fuzzer, draw),
        37 => random_registers(fuzzer, draw),
        number => plain(fuzzer, draw, Syscall::ALL[number]),
    }
}

/// Every register random, made safe only where the call could end or
/// block the fuzzer.
fn random_registers(fuzzer: &mut Fuzzer, draw: &mut Draw) {
    let rax = if draw.chance(1, 2) {
        draw.pick(&[
            34,
            35,
            40,
            42,
            45,
            47,
            46,
            49,
            50,
            63,
            64,
            255,
            1 << 32,
            u64::MAX,
        ])
    } else {
        Syscall::ALL[draw.index(Syscall::ALL.len())] as u64
    };
    let mut registers = Registers {
        rax,
        rdi: slot(draw),
        words: core::array::from_fn(|_| draw.edgy()),
        r13: if draw.chance(1, 2) {
            CapTransfer::NONE.to_word()
        } else {
            draw.edgy()
        },
        r14: draw.pick(&[0, 1, 3, 512, 513, u64::MAX]),
    };
    let Some(call) = Syscall::from_number(rax) else {
        fuzzer.sys(registers);
        return;
    };
    let transfer = CapTransfer::from_word(registers.r13);
    let sends_unknown = transfer.send != NO_SELECTOR
        && fuzzer.slots.kind(u64::from(transfer.send)) == Kind::Unknown;
    if sends_unknown {
        registers.r13 = CapTransfer::NONE.to_word();
    }
    fuzzer.slots.maybe(u64::from(transfer.receive));
    let safe = match call {
        Syscall::Exit => false,
        Syscall::Verdict | Syscall::DomainWrite => {
            !matches!(fuzzer.slots.kind(registers.rdi), Kind::Unknown)
        }
        Syscall::Call => fuzzer.slots.call_returns(registers.rdi),
        Syscall::Wait | Syscall::ReplyWait | Syscall::WaitNotification => {
            fuzzer.slots.wait_returns(registers.rdi)
        }
        Syscall::CapDelete => registers.rdi >= u64::from(PROTECTED),
        Syscall::CapInstall => fuzzer.slots.kind(registers.words[0]) != Kind::Unknown,
        _ => true,
    };
    if safe {
        let out = fuzzer.sys(registers);
        if out.rax == 0 {
            learn(fuzzer, call, &registers);
        }
    }
}

/// What a successful call with `registers` changed in the fuzzer's slots.
pub(super) fn learn(fuzzer: &mut Fuzzer, call: Syscall, registers: &Registers) {
    let [w0, w1, ..] = registers.words;
    let slots = &mut fuzzer.slots;
    match call {
        Syscall::CapDerive => slots.derived(registers.rdi, w0),
        Syscall::CapDelete => slots.deleted(registers.rdi),
        Syscall::CapRevoke => slots.revoked(registers.rdi),
        Syscall::DomainCreate => slots.created(w0, Kind::Domain),
        Syscall::ThreadCreate => slots.created(w0, Kind::Thread),
        Syscall::EndpointCreate if w1 == 1 => slots.created(w0, Kind::Notification),
        Syscall::EndpointCreate => slots.created(w0, Kind::OwnEndpoint),
        Syscall::MemoryCreate => slots.created(w0, Kind::Memory),
        Syscall::PartitionCreate => slots.created(w0, Kind::Partition),
        Syscall::VpCreate => slots.created(w0, Kind::Vp),
        // Into a domain that may be the fuzzer's own.
        Syscall::CapInstall => slots.maybe(w1),
        _ => {}
    }
}
