//! Arguments: slots, sizes, addresses, CPUs, priorities, rights, transfer
//! words, register lists and Hv#1 configurations, each drawn mostly from
//! where they matter and now and then from the edges.
use fuzz_syscalls::model::{Kind, PROTECTED};
use tessera_fuzz::Draw;
use tessera_rt::abi::vm;
use tessera_rt::abi::{CSPACE_SLOTS, CapTransfer, NO_SELECTOR, REGION_WINDOW};

use super::super::Fuzzer;

/// The fuzzer's priority (its manifest); what it makes may not exceed it.
pub const PRIORITY: u64 = 5;

/// Slots where creations land: a small range, so later calls hit them.
pub fn slot(draw: &mut Draw) -> u64 {
    match draw.below(20) {
        0 => draw.below(u64::from(CSPACE_SLOTS)),
        1 => draw.edgy(),
        _ => draw.between(u64::from(PROTECTED), 40),
    }
}

pub fn pages(draw: &mut Draw) -> u64 {
    match draw.below(10) {
        0 => 0,
        1 => draw.edgy(),
        2 => draw.between(17, 300),
        _ => draw.between(1, 16),
    }
}

/// Somewhere in the region window, 1 MiB apart.
pub fn window(draw: &mut Draw) -> u64 {
    if draw.chance(1, 8) {
        draw.edgy() & !0xFFF
    } else {
        REGION_WINDOW.start + (1 << 32) + draw.below(1024) * (1 << 20)
    }
}

pub fn gpa(draw: &mut Draw) -> u64 {
    match draw.below(6) {
        0 => 0,
        1 => draw.pick(&[0x10_0000, 0xFFFF_0000, 0xFED0_0000, vm::GPA_LIMIT - 0x1000]),
        2 => draw.edgy(),
        _ => draw.below(vm::GPA_LIMIT >> 12) << 12,
    }
}

pub fn cpu(draw: &mut Draw) -> u64 {
    if draw.chance(1, 10) {
        draw.edgy()
    } else {
        draw.below(2)
    }
}

pub fn priority(draw: &mut Draw) -> u64 {
    if draw.chance(1, 10) {
        draw.edgy() & 0x1FF
    } else {
        draw.below(PRIORITY + 1)
    }
}

/// A VP's CPU and priority: on the fuzzer's CPU (0) below the fuzzer's
/// priority, so a spinning guest cannot slow the run down; elsewhere any.
pub fn vp_placement(draw: &mut Draw) -> (u64, u64) {
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

pub fn rights(draw: &mut Draw) -> u64 {
    if draw.chance(1, 10) {
        draw.edgy()
    } else {
        draw.below(1 << 11)
    }
}

/// A transfer word: mostly none; sometimes a slot to send (never the
/// verdict or an unknown one) or one to receive into.
pub fn transfer(fuzzer: &mut Fuzzer, draw: &mut Draw) -> u64 {
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

/// A slot holding `kind`, if one is known; otherwise a random one.
pub fn holding(fuzzer: &Fuzzer, draw: &mut Draw, kind: Kind) -> u64 {
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

pub fn register_triples(draw: &mut Draw, count: usize) {
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
pub fn hv1_words(draw: &mut Draw) {
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
