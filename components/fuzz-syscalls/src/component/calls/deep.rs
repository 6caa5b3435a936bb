//! Short sequences that reach deep: a domain running a program, a
//! partition running a guest.
use fuzz_syscalls::model::{Kind, PARTNER};
use fuzz_syscalls::programs;
use tessera_fuzz::Draw;
use tessera_rt::abi::vm::{intercept, map};
use tessera_rt::abi::{REGION_WINDOW, Syscall, page};

use super::super::Fuzzer;
use super::args::*;
use super::{call, create};

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
