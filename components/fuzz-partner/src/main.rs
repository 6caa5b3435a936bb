//! `fuzz-partner`: the other end of `fuzz-syscalls`.
//!
//! It serves one endpoint (slot 4). A call without a badge comes from the
//! fuzzer itself: the answer echoes its words, each plus one, so the
//! fuzzer's calls complete. A call with a badge is an exit of one of the
//! fuzzer's VPs (the fuzzer routes them here through badged copies of the
//! endpoint capability): the answer is drawn from the run's seed — stop,
//! advance, inject an event, set registers, or words the kernel must
//! refuse (then a stop follows, since the VP still waits for its reply).
//! Every status the kernel gives back must be one the ABI lists; the
//! partner counts the ones that are not and tells the fuzzer when asked.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use fuzz_syscalls::partner::ASK_FINDINGS;
use tessera_fuzz::Draw;
use tessera_fuzz::params::{self, ParamBlock};
use tessera_rt::abi::vm::{action, event};
use tessera_rt::abi::{CapTransfer, Status, Syscall};
use tessera_rt::message_buffer;
use tessera_rt::syscall::{Registers, raw};

tessera_rt::entry!(main);

/// Written by xtask (`cargo xtask fuzz syscalls`): the seed of the run.
static PARAMS: ParamBlock = ParamBlock::new(params::DEFAULTS);

/// The receive capability (the manifest's first `provides`).
const CALLS: u64 = 4;
/// The stream of decisions for VP exits is this far from the fuzzer's.
const STREAM: u64 = 1 << 40;

fn reply_wait(words: [u64; 6], buffer_words: u64) -> Registers {
    raw(Registers {
        rax: Syscall::ReplyWait as u64,
        rdi: CALLS,
        words,
        r13: CapTransfer::NONE.to_word(),
        r14: buffer_words,
    })
}

fn wait() -> Registers {
    raw(Registers {
        rax: Syscall::Wait as u64,
        rdi: CALLS,
        words: [0; 6],
        r13: CapTransfer::NONE.to_word(),
        r14: 0,
    })
}

fn reply(words: [u64; 6]) -> u64 {
    raw(Registers {
        rax: Syscall::Reply as u64,
        rdi: CALLS,
        words,
        r13: CapTransfer::NONE.to_word(),
        r14: 0,
    })
    .rax
}

/// A reply to a VP's exit, and how many message-buffer words go with it.
fn exit_reply(draw: &mut Draw) -> ([u64; 6], u64) {
    let mut words = [0u64; 6];
    let mut buffer = 0;
    match draw.weighted(&[5, 3, 1, 1, 1, 1]) {
        0 => words[0] = action::STOP,
        1 => words[0] = action::ADVANCE_RIP | (draw.below(2) * action::RESULT),
        2 => {
            words[0] = action::INJECT;
            let kind = draw.pick(&[
                event::TYPE_EXCEPTION,
                event::TYPE_EXTERNAL,
                event::TYPE_NMI,
                1,
                7,
            ]);
            words[1] = event::new(draw.below(256) as u8, kind)
                | draw.pick(&[0, event::ERROR_CODE_VALID, 1 << 40]);
        }
        3 => {
            words[0] = action::SET_REGISTERS | action::ADVANCE_RIP;
            let pairs = draw.between(1, 4) as usize;
            let mut list = [0u64; 8];
            for pair in list.chunks_mut(2).take(pairs) {
                // General registers 0x20000-0x2000F, RIP 0x20010, RFLAGS
                // 0x20011 (HV_REGISTER_NAME), and a few that are none.
                pair[0] = draw.pick(&[
                    0x2_0000, 0x2_0003, 0x2_0004, 0x2_0010, 0x2_0011, 0x4_0000, 0,
                ]);
                pair[1] = draw.edgy();
            }
            let _ = message_buffer::write(&list[..pairs * 2]);
            buffer = pairs as u64 * 2;
        }
        4 => words[0] = action::RESULT | action::FAULT,
        _ => {
            words = core::array::from_fn(|_| draw.edgy());
            buffer = draw.pick(&[0, 1, 513]);
        }
    }
    (words, buffer)
}

fn main() {
    let params = PARAMS.read();
    let mut exits = 0u64;
    let findings = core::cell::Cell::new(0u64);
    let known = |code: u64| {
        if Status::from_code(code).is_none() {
            findings.set(findings.get() + 1);
            log::error!("fuzz-partner: FINDING: status {code:#x} is not in the ABI");
        }
    };
    let mut request = wait();
    loop {
        if request.rax != 0 {
            known(request.rax);
            request = wait();
            continue;
        }
        let (words, buffer) = if request.rdi == 0 {
            if request.words[0] == ASK_FINDINGS {
                ([0, findings.get(), exits, 0, 0, 0], 0)
            } else {
                (request.words.map(|w| w.wrapping_add(1)), 0)
            }
        } else {
            exits += 1;
            exit_reply(&mut Draw::for_operation(params.seed, STREAM + exits))
        };
        let answered = reply_wait(words, buffer);
        known(answered.rax);
        request = match Status::from_code(answered.rax) {
            Some(Status::Success) => answered,
            // The caller went away before its reply.
            Some(Status::NoCaller) => wait(),
            // The kernel refused the reply (to a VP: words it must
            // refuse): the caller still waits, so answer with a stop, a
            // reply the kernel accepts from anyone, then wait.
            _ => {
                let code = reply([action::STOP, 0, 0, 0, 0, 0]);
                if code != Status::NoCaller.code() {
                    known(code);
                }
                wait()
            }
        };
    }
}
