//! One operation: a system call with random arguments, or a short
//! sequence that builds something the kernel must tear down again.
use fuzz_syscalls::model::{Kind, PARTNER, PROTECTED, VERDICT};
use fuzz_syscalls::programs;
use tessera_fuzz::Draw;
use tessera_rt::abi::vm::{self, intercept, map};
use tessera_rt::abi::{CSPACE_SLOTS, CapTransfer, NO_SELECTOR, REGION_WINDOW, Syscall, page};
use tessera_rt::syscall::Registers;

use super::Fuzzer;

/// The fuzzer's priority (its manifest); what it makes may not exceed it.
const PRIORITY: u64 = 5;

/// Slots where creations land: a small range, so later calls hit them.
fn slot(draw: &mut Draw) -> u64 {
    match draw.below(20) {
        0 => draw.below(u64::from(CSPACE_SLOTS)),
        1 => draw.edgy(),
        _ => draw.between(u64::from(PROTECTED), 40),
    }
}

fn pages(draw: &mut Draw) -> u64 {
    match draw.below(10) {
        0 => 0,
        1 => draw.edgy(),
        2 => draw.between(17, 300),
        _ => draw.between(1, 16),
    }
}

/// Somewhere in the region window, 1 MiB apart.
fn window(draw: &mut Draw) -> u64 {
    if draw.chance(1, 8) {
        draw.edgy() & !0xFFF
    } else {
        REGION_WINDOW.start + (1 << 32) + draw.below(1024) * (1 << 20)
    }
}

fn gpa(draw: &mut Draw) -> u64 {
    match draw.below(6) {
        0 => 0,
        1 => draw.pick(&[0x10_0000, 0xFFFF_0000, 0xFED0_0000, vm::GPA_LIMIT - 0x1000]),
        2 => draw.edgy(),
        _ => draw.below(vm::GPA_LIMIT >> 12) << 12,
    }
}

fn cpu(draw: &mut Draw) -> u64 {
    if draw.chance(1, 10) {
        draw.edgy()
    } else {
        draw.below(2)
    }
}

fn priority(draw: &mut Draw) -> u64 {
    if draw.chance(1, 10) {
        draw.edgy() & 0x1FF
    } else {
        draw.below(PRIORITY + 1)
    }
}

/// A VP's CPU and priority: on the fuzzer's CPU (0) below the fuzzer's
/// priority, so a spinning guest cannot slow the run down; elsewhere any.
fn vp_placement(draw: &mut Draw) -> (u64, u64) {
    let cpu = cpu(draw);
    let priority = priority(draw);
    (
        cpu,
        if cpu == 0 {
            priority.min(PRIORITY - 1)
        } else {
            priority
        },
    )
}

fn rights(draw: &mut Draw) -> u64 {
    if draw.chance(1, 10) {
        draw.edgy()
    } else {
        draw.below(1 << 11)
    }
}

/// A transfer word: mostly none; sometimes a slot to send (never the
/// verdict or an unknown one) or one to receive into.
fn transfer(fuzzer: &mut Fuzzer, draw: &mut Draw) -> u64 {
    let mut send = NO_SELECTOR;
    let mut receive = NO_SELECTOR;
    if draw.chance(1, 6) {
        let candidate = slot(draw);
        if fuzzer.slots.kind(candidate) != Kind::Unknown {
            send = candidate as u32;
        }
    }
    if draw.chance(1, 6) {
        receive = slot(draw) as u32;
        fuzzer.slots.maybe(u64::from(receive));
    }
    CapTransfer { send, receive }.to_word()
}

fn call(number: Syscall, rdi: u64, words: [u64; 6]) -> Registers {
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
fn create(fuzzer: &mut Fuzzer, registers: Registers, slot: u64, kind: Kind) -> bool {
    let ok = fuzzer.sys(registers).rax == 0;
    if ok {
        fuzzer.slots.created(slot, kind);
    }
    ok
}

/// A slot holding `kind`, if one is known; otherwise a random one.
fn holding(fuzzer: &Fuzzer, draw: &mut Draw, kind: Kind) -> u64 {
    let known: heapless_slots::Known = (0..u64::from(CSPACE_SLOTS))
        .filter(|&s| fuzzer.slots.kind(s) == kind)
        .collect();
    if known.is_empty() || draw.chance(1, 5) {
        slot(draw)
    } else {
        known.pick(draw)
    }
}

/// A fixed-capacity list of slots (the component has a heap, but the
/// fuzzer keeps its own allocations out of the way of what it measures).
mod heapless_slots {
    use tessera_fuzz::Draw;

    pub struct Known {
        slots: [u64; 64],
        len: usize,
    }

    impl FromIterator<u64> for Known {
        fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
            let mut known = Self {
                slots: [0; 64],
                len: 0,
            };
            for slot in iter.into_iter().take(64) {
                known.slots[known.len] = slot;
                known.len += 1;
            }
            known
        }
    }

    impl Known {
        pub fn is_empty(&self) -> bool {
            self.len == 0
        }

        pub fn pick(&self, draw: &mut Draw) -> u64 {
            self.slots[draw.index(self.len)]
        }
    }
}

/// Register names for `VpGetRegisters`/`VpSetRegisters`: general
/// registers, RIP, RFLAGS, XMM, control, debug, segment and table
/// registers, EFER, PAT, synthetic ones, and names that are none.
const REGISTERS: [u64; 18] = [
    0x2_0000, 0x2_0004, 0x2_0010, 0x2_0011, 0x3_0000, 0x3_0018, 0x4_0000, 0x4_0002, 0x4_0003,
    0x5_0005, 0x6_0001, 0x6_0002, 0x7_0000, 0x8_0001, 0x8_0004, 0x9_0002, 0x12_3456, 0,
];

fn register_triples(draw: &mut Draw, count: usize) {
    let mut list = [0u64; 15];
    for triple in list.chunks_mut(3).take(count) {
        triple[0] = if draw.chance(1, 8) {
            draw.edgy()
        } else {
            draw.pick(&REGISTERS)
        };
        triple[1] = draw.edgy();
        triple[2] = if draw.chance(1, 2) { 0 } else { draw.edgy() };
    }
    let _ = tessera_rt::message_buffer::write(&list[..count * 3]);
}

/// An Hv#1 configuration: a real one made from `hv-*` names, or damaged.
fn hv1_words(draw: &mut Draw) {
    let sets: [&[&str]; 4] = [
        &[],
        &["hv-relaxed", "hv-vpindex", "hv-time"],
        &["hv-crash", "hv-reset", "hv-tlbflush", "hv-xmm-input"],
        &["hv-spinlocks=0x1fff", "hv-runtime", "hv-tlbflush-ext"],
    ];
    let mut words = tessera_hv1::Hv1Config::from_features(draw.pick(&sets).iter().copied())
        .map(|config| config.to_words())
        .unwrap_or_default();
    if draw.chance(1, 3) {
        let index = draw.index(words.len());
        words[index] = draw.edgy();
    }
    let _ = tessera_rt::message_buffer::write(&words);
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
            44,
            45,
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
fn learn(fuzzer: &mut Fuzzer, call: Syscall, registers: &Registers) {
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

fn plain(fuzzer: &mut Fuzzer, draw: &mut Draw, number: Syscall) {
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

/// A component domain that runs one of `programs::component`: created,
/// given a code page and a stack, a thread, started.
pub fn domain_with_program(fuzzer: &mut Fuzzer, draw: &mut Draw) {
    let domain = fuzzer.slots.empty_from(slot(draw));
    let thread = fuzzer.slots.empty_from(domain + 1);
    let name = [u64::from_le_bytes(*b"fuzz-run"), 0, 0, 0];
    let quota = draw.pick(&[64 << 10, 128 << 10]);
    let made = call(
        Syscall::DomainCreate,
        0,
        [domain, quota, name[0], name[1], name[2], name[3]],
    );
    if !create(fuzzer, made, domain, Kind::Domain) {
        return;
    }
    let code = programs::component(draw);
    let mut bytes = [0u8; 32];
    bytes[..code.len].copy_from_slice(code.as_slice());
    let word = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    let steps = [
        call(
            Syscall::DomainMap,
            domain,
            [0x1_0000, 1, page::EXECUTE, 0, 0, 0],
        ),
        call(
            Syscall::DomainWrite,
            domain,
            [
                0x1_0000,
                code.len as u64,
                word(0),
                word(1),
                word(2),
                word(3),
            ],
        ),
        call(
            Syscall::DomainMap,
            domain,
            [0x2_0000, 1, page::WRITE, 0, 0, 0],
        ),
    ];
    for step in steps {
        if fuzzer.sys(step).rax != 0 {
            return;
        }
    }
    let made = call(
        Syscall::ThreadCreate,
        domain,
        [thread, 0x1_0000, 0x2_0FF8, priority(draw), cpu(draw), 0],
    );
    if create(fuzzer, made, thread, Kind::Thread) {
        fuzzer.sys(call(Syscall::ThreadStart, thread, [0; 6]));
    }
}

/// A partition whose VP runs one of `programs::guest` from its reset
/// vector, its exits routed to the partner through a badged copy of the
/// partner's endpoint.
pub fn partition_with_guest(fuzzer: &mut Fuzzer, draw: &mut Draw) {
    let partition = fuzzer.slots.empty_from(slot(draw));
    let region = fuzzer.slots.empty_from(partition + 1);
    let route = fuzzer.slots.empty_from(region + 1);
    let vp = fuzzer.slots.empty_from(route + 1);
    let name = u64::from_le_bytes(*b"fuzz-vm\0");
    let made = call(Syscall::PartitionCreate, 0, [partition, name, 0, 0, 0, 0]);
    if !create(fuzzer, made, partition, Kind::Partition) {
        return;
    }
    if draw.chance(1, 2) {
        hv1_words(draw);
        fuzzer.sys(call(Syscall::PartitionSetHv1, partition, [0; 6]));
    }
    const PAGES: u64 = 16;
    let made = call(Syscall::MemoryCreate, 0, [region, PAGES, 0, 0, 0, 0]);
    if !create(fuzzer, made, region, Kind::Memory) {
        return;
    }
    let at = window(draw);
    let mapped = fuzzer
        .sys(call(
            Syscall::MemoryMap,
            region,
            [0, at, page::WRITE, 0, 0, 0],
        ))
        .rax
        == 0;
    let base = programs::RESET_VECTOR & !(PAGES * 4096 - 1);
    if mapped && REGION_WINDOW.start <= at && at + PAGES * 4096 <= REGION_WINDOW.end {
        let code = programs::guest(draw);
        let mut words = [0u64; 2];
        for (index, byte) in code.as_slice().iter().enumerate() {
            words[index / 8] |= u64::from(*byte) << (8 * (index % 8));
        }
        tessera_rt::memory::write(at + (programs::RESET_VECTOR - base), &words);
    }
    let flags = map::READABLE | map::WRITABLE | map::EXECUTABLE;
    fuzzer.sys(call(
        Syscall::PartitionMapGpa,
        partition,
        [region, base, flags, 0, 0, 0],
    ));
    let badge = draw.between(1, 1000);
    let derived = call(
        Syscall::CapDerive,
        u64::from(PARTNER),
        [
            route,
            if draw.chance(3, 4) {
                1 << 3
            } else {
                rights(draw) | 1 << 3
            },
            badge,
            0,
            0,
            0,
        ],
    );
    if fuzzer.sys(derived).rax == 0 {
        fuzzer.slots.derived(u64::from(PARTNER), route);
    }
    let kinds = [
        intercept::LIFECYCLE,
        intercept::HLT,
        intercept::IO_PORT,
        intercept::MSR,
    ];
    for kind in kinds.into_iter().take(draw.between(1, 4) as usize) {
        let parameter = match kind {
            intercept::IO_PORT => 0x80 | 0xF4 << 16,
            intercept::MSR => 0xFFFF_FFFF << 32,
            _ => 0,
        };
        fuzzer.sys(call(
            Syscall::PartitionInstallIntercept,
            partition,
            [kind, parameter, route, draw.below(1 << 16), 0, 0],
        ));
    }
    let (cpu, priority) = vp_placement(draw);
    let made = call(Syscall::VpCreate, partition, [vp, 0, cpu, priority, 0, 0]);
    if create(fuzzer, made, vp, Kind::Vp) {
        fuzzer.sys(call(Syscall::VpStart, vp, [0; 6]));
    }
}
