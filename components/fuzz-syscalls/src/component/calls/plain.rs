//! One system call with arguments drawn for what it is, kept from ending
//! or blocking the fuzzer.
use fuzz_syscalls::model::{Kind, PARTNER, PROTECTED, VERDICT};
use tessera_fuzz::Draw;
use tessera_rt::abi::vm::{self, intercept, map};
use tessera_rt::abi::{CSPACE_SLOTS, CapTransfer, Syscall};
use tessera_rt::syscall::Registers;

use super::super::Fuzzer;
use super::args::*;
use super::{call, learn};

pub fn plain(fuzzer: &mut Fuzzer, draw: &mut Draw, number: Syscall) {
    let mut words: [u64; 6] = core::array::from_fn(|_| draw.edgy());
    let mut rdi = slot(draw);
    let mut r13 = CapTransfer::NONE.to_word();
    let mut r14 = 0;
    match number {
        // Never: the fuzzer's own end.
        Syscall::Exit => return,
        Syscall::Verdict
            if fuzzer.slots.kind(rdi) == Kind::Unknown || rdi == u64::from(VERDICT) =>
        {
            return;
        }
        Syscall::ConsoleWrite => {
            words[0] = draw.between(0, 48);
            // The real console only now and then, with a whole line (a
            // line cut short would run into the next log line).
            if draw.chance(1, 16) {
                rdi = 2;
                words[0] = draw.pick(&[0, 5]);
                words[1] = u64::from_le_bytes(*b"fuzz\n\0\0\0");
            }
        }
        Syscall::Call => {
            if !fuzzer.slots.call_returns(rdi) || draw.chance(1, 2) {
                rdi = u64::from(PARTNER);
            }
            r13 = transfer(fuzzer, draw);
            r14 = draw.pick(&[0, 0, 1, 8, 512, 513]);
        }
        Syscall::Wait | Syscall::ReplyWait => {
            if !fuzzer.slots.wait_returns(rdi) {
                return;
            }
            r13 = transfer(fuzzer, draw);
        }
        Syscall::Reply => r13 = transfer(fuzzer, draw),
        Syscall::Signal | Syscall::WaitNotification => {
            let notification = holding(fuzzer, draw, Kind::Notification);
            if number == Syscall::Signal || draw.chance(1, 2) {
                words[0] = draw.edgy() | 1;
                let signalled = fuzzer.sys(call(Syscall::Signal, notification, words)).rax == 0;
                if signalled && number == Syscall::WaitNotification {
                    // Bits are pending: the wait returns at once.
                    fuzzer.sys(call(Syscall::WaitNotification, notification, words));
                }
                return;
            }
            if !fuzzer.slots.wait_returns(rdi) {
                return;
            }
        }
        Syscall::CapDerive => {
            words[0] = slot(draw);
            words[1] = rights(draw);
            words[2] = if draw.chance(1, 2) { 0 } else { draw.edgy() };
        }
        Syscall::CapDelete if rdi < u64::from(PROTECTED) => return,
        Syscall::DomainCreate => {
            rdi = if draw.chance(3, 4) {
                0
            } else {
                holding(fuzzer, draw, Kind::Domain)
            };
            words[0] = slot(draw);
            words[1] = draw.pick(&[16 << 10, 64 << 10, 256 << 10, 0, 1 << 40]);
            words[2] = u64::from_le_bytes(*b"fuzz-chi");
            words[3] = if draw.chance(1, 4) {
                draw.edgy()
            } else {
                u64::from(b'd')
            };
        }
        Syscall::DomainMap => {
            rdi = holding(fuzzer, draw, Kind::Domain);
            words[0] = if draw.chance(1, 2) {
                0x1_0000
            } else {
                window(draw)
            };
            words[1] = pages(draw) & 0xF;
            words[2] = draw.below(4);
        }
        Syscall::DomainWrite => {
            rdi = holding(fuzzer, draw, Kind::Domain);
            if matches!(fuzzer.slots.kind(rdi), Kind::Unknown) {
                return;
            }
            words[0] = draw.pick(&[0x1_0000, 0x1_0FF0, 0]);
            words[1] = draw.between(0, 40);
        }
        Syscall::ThreadCreate => {
            rdi = holding(fuzzer, draw, Kind::Domain);
            words[0] = slot(draw);
            words[1] = draw.pick(&[0x1_0000, 0, 0x0000_8000_0000_0000]);
            words[2] = draw.pick(&[0x2_1000, 0x2_0FF8, 0x0000_8000_0000_0000]);
            words[3] = priority(draw);
            words[4] = cpu(draw);
        }
        Syscall::ThreadStart => rdi = holding(fuzzer, draw, Kind::Thread),
        Syscall::EndpointCreate => {
            rdi = if draw.chance(3, 4) {
                0
            } else {
                holding(fuzzer, draw, Kind::Domain)
            };
            words[0] = slot(draw);
            words[1] = draw.pick(&[0, 0, 1, 2]);
            words[2] = priority(draw);
        }
        Syscall::CapInstall => {
            rdi = if draw.chance(1, 4) {
                0
            } else {
                holding(fuzzer, draw, Kind::Domain)
            };
            words[0] = slot(draw);
            if fuzzer.slots.kind(words[0]) == Kind::Unknown {
                return;
            }
            words[1] = draw.below(u64::from(CSPACE_SLOTS) + 2);
            words[2] = rights(draw);
            words[3] = if draw.chance(1, 2) { 0 } else { draw.edgy() };
        }
        Syscall::MemoryCreate => {
            words[0] = slot(draw);
            words[1] = pages(draw);
        }
        Syscall::MemoryMap => {
            rdi = holding(fuzzer, draw, Kind::Memory);
            words[0] = if draw.chance(1, 2) {
                0
            } else {
                holding(fuzzer, draw, Kind::Domain)
            };
            words[1] = window(draw);
            words[2] = draw.below(4);
        }
        Syscall::PartitionCreate => {
            words[0] = slot(draw);
            words[1] = u64::from_le_bytes(*b"fuzz-par");
        }
        Syscall::PartitionMapGpa => {
            rdi = holding(fuzzer, draw, Kind::Partition);
            words[0] = holding(fuzzer, draw, Kind::Memory);
            words[1] = gpa(draw);
            words[2] = if draw.chance(1, 4) {
                draw.edgy()
            } else {
                draw.below(map::ALL + 1)
            };
        }
        Syscall::PartitionUnmapGpa => {
            rdi = holding(fuzzer, draw, Kind::Partition);
            words[0] = gpa(draw);
        }
        Syscall::PartitionInstallIntercept => {
            rdi = holding(fuzzer, draw, Kind::Partition);
            let edge = draw.edgy();
            words[0] = draw.pick(&[
                intercept::IO_PORT,
                intercept::MSR,
                intercept::CPUID,
                intercept::EXCEPTION,
                intercept::HYPERCALL,
                intercept::LIFECYCLE,
                intercept::HLT,
                intercept::MEMORY,
                edge,
            ]);
            words[1] = if draw.chance(1, 2) { 0 } else { draw.edgy() };
            words[2] = if draw.chance(1, 2) {
                u64::from(PARTNER)
            } else {
                slot(draw)
            };
            words[3] = draw.below(1 << 17);
        }
        Syscall::VpCreate => {
            rdi = holding(fuzzer, draw, Kind::Partition);
            words[0] = slot(draw);
            words[1] = draw.pick(&[0, 0, 1, 2, 63, 64]);
            (words[2], words[3]) = vp_placement(draw);
        }
        Syscall::VpGetRegisters | Syscall::VpSetRegisters => {
            rdi = holding(fuzzer, draw, Kind::Vp);
            let count = draw.between(0, 5) as usize;
            register_triples(draw, count);
            words[0] = if draw.chance(1, 8) {
                draw.edgy()
            } else {
                count as u64
            };
        }
        Syscall::VpStart | Syscall::VpStop => rdi = holding(fuzzer, draw, Kind::Vp),
        Syscall::VpAssertInterrupt => {
            rdi = holding(fuzzer, draw, Kind::Vp);
            if draw.chance(1, 2) {
                words[0] = vm::event::new(draw.between(32, 255) as u8, vm::event::TYPE_EXTERNAL);
            }
        }
        Syscall::PartitionSetHv1 => {
            rdi = holding(fuzzer, draw, Kind::Partition);
            hv1_words(draw);
        }
        _ => {}
    }
    let registers = Registers {
        rax: number as u64,
        rdi,
        words,
        r13,
        r14,
    };
    if fuzzer.sys(registers).rax == 0 {
        learn(fuzzer, number, &registers);
    }
}
