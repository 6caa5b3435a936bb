//! Instructions the hypervisor handles for the guest: CPUID leaves, the
//! exiting instructions with prefixes (which must leave RIP after the
//! whole instruction, every register as the plain form does), and
//! exceptions the guest raises on purpose.
use tessera_fuzz::Draw;
use tessera_guest_framework::cpu::{self, msr as arch};
use tessera_guest_framework::guest_ports::probe;

use super::{note_stop, stopped_by_host};
use crate::Fuzz;
use crate::machine::{self, Gprs, Raise};

pub fn cpuid(fuzz: &mut Fuzz, draw: &mut Draw) {
    let leaf = match draw.below(6) {
        0 => draw.below(0x21) as u32,
        1 => 0x8000_0000 + draw.below(0x22) as u32,
        2 | 3 => 0x4000_0000 + draw.below(0x100) as u32,
        4 => *probe::CPUID_LEAVES.start() + draw.below(0x101) as u32,
        _ => draw.word() as u32,
    };
    let subleaf = if draw.chance(1, 2) {
        0
    } else {
        draw.word() as u32
    };
    let first = cpu::cpuid(leaf, subleaf);
    let second = cpu::cpuid(leaf, subleaf);
    if first != second {
        fuzz.finding(format_args!(
            "CPUID {leaf:#x}.{subleaf:#x} answered {first} then {second}"
        ));
    }
    if probe::CPUID_LEAVES.contains(&leaf)
        && (first.eax != leaf ^ probe::CPUID_XOR
            || first.ebx != subleaf
            || first.edx != probe::CPUID_SIGNATURE)
    {
        fuzz.finding(format_args!(
            "the probe's CPUID leaf {leaf:#x}.{subleaf:#x} answered {first}"
        ));
    }
}

/// What the plain instruction does to the registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    /// Nothing the guest can see.
    Nothing,
    /// EAX, EBX, ECX, EDX: CPUID of the leaf in RAX, subleaf in RCX.
    Cpuid,
    /// EDX:EAX: the MSR in RCX.
    Rdmsr,
    /// EDX:EAX (RDTSC, RDPMC), and ECX for RDTSCP: any values.
    Counter { rcx: bool },
    /// AL: all ones (an unrouted port).
    InAllOnes,
    /// RAX: a hypercall status, when the hypercall page is enabled; #UD
    /// otherwise.
    Hypercall,
    /// #UD: instructions the guest does not have (SVM, XSAVE, MONITOR).
    InvalidOpcode,
    /// EDX:EAX, or #GP (a counter that does not exist), or #UD (QEMU's
    /// TCG does not implement RDPMC: `helper_rdpmc` raises #UD).
    CounterOrGp,
}

/// An exiting instruction: bytes, whether `F2`/`F3` leave it alone, and
/// its effect.
struct Exiting {
    name: &'static str,
    bytes: &'static [u8],
    rep_prefix_ok: bool,
    effect: Effect,
}

const EXITING: [Exiting; 22] = [
    Exiting {
        name: "CPUID",
        bytes: &[0x0F, 0xA2],
        rep_prefix_ok: true,
        effect: Effect::Cpuid,
    },
    Exiting {
        name: "RDMSR",
        bytes: &[0x0F, 0x32],
        rep_prefix_ok: true,
        effect: Effect::Rdmsr,
    },
    Exiting {
        name: "WRMSR",
        bytes: &[0x0F, 0x30],
        rep_prefix_ok: true,
        effect: Effect::Nothing,
    },
    Exiting {
        name: "HLT",
        bytes: &[0xF4],
        rep_prefix_ok: true,
        effect: Effect::Nothing,
    },
    Exiting {
        name: "VMMCALL",
        bytes: &[0x0F, 0x01, 0xD9],
        rep_prefix_ok: false,
        effect: Effect::Hypercall,
    },
    Exiting {
        name: "INVD",
        bytes: &[0x0F, 0x08],
        rep_prefix_ok: true,
        effect: Effect::Nothing,
    },
    Exiting {
        name: "WBINVD",
        bytes: &[0x0F, 0x09],
        rep_prefix_ok: false,
        effect: Effect::Nothing,
    },
    Exiting {
        name: "RDTSC",
        bytes: &[0x0F, 0x31],
        rep_prefix_ok: true,
        effect: Effect::Counter { rcx: false },
    },
    Exiting {
        name: "RDTSCP",
        bytes: &[0x0F, 0x01, 0xF9],
        rep_prefix_ok: false,
        effect: Effect::Counter { rcx: true },
    },
    Exiting {
        name: "RDPMC",
        bytes: &[0x0F, 0x33],
        rep_prefix_ok: true,
        effect: Effect::CounterOrGp,
    },
    Exiting {
        name: "IN AL, DX",
        bytes: &[0xEC],
        rep_prefix_ok: true,
        effect: Effect::InAllOnes,
    },
    Exiting {
        name: "OUT DX, AL",
        bytes: &[0xEE],
        rep_prefix_ok: true,
        effect: Effect::Nothing,
    },
    Exiting {
        name: "PAUSE",
        bytes: &[0xF3, 0x90],
        rep_prefix_ok: true,
        effect: Effect::Nothing,
    },
    Exiting {
        name: "VMRUN",
        bytes: &[0x0F, 0x01, 0xD8],
        rep_prefix_ok: false,
        effect: Effect::InvalidOpcode,
    },
    Exiting {
        name: "VMLOAD",
        bytes: &[0x0F, 0x01, 0xDA],
        rep_prefix_ok: false,
        effect: Effect::InvalidOpcode,
    },
    Exiting {
        name: "VMSAVE",
        bytes: &[0x0F, 0x01, 0xDB],
        rep_prefix_ok: false,
        effect: Effect::InvalidOpcode,
    },
    Exiting {
        name: "STGI",
        bytes: &[0x0F, 0x01, 0xDC],
        rep_prefix_ok: false,
        effect: Effect::InvalidOpcode,
    },
    Exiting {
        name: "CLGI",
        bytes: &[0x0F, 0x01, 0xDD],
        rep_prefix_ok: false,
        effect: Effect::InvalidOpcode,
    },
    Exiting {
        name: "INVLPGA",
        bytes: &[0x0F, 0x01, 0xDF],
        rep_prefix_ok: false,
        effect: Effect::InvalidOpcode,
    },
    Exiting {
        name: "XSETBV",
        bytes: &[0x0F, 0x01, 0xD1],
        rep_prefix_ok: false,
        effect: Effect::InvalidOpcode,
    },
    Exiting {
        name: "MONITOR",
        bytes: &[0x0F, 0x01, 0xC8],
        rep_prefix_ok: false,
        effect: Effect::InvalidOpcode,
    },
    Exiting {
        name: "MWAIT",
        bytes: &[0x0F, 0x01, 0xC9],
        rep_prefix_ok: false,
        effect: Effect::InvalidOpcode,
    },
];

/// Prefixes that change nothing for these instructions: segment
/// overrides, operand and address size; `F2`/`F3` where the instruction
/// allows. (Not LOCK: it makes each of them #UD on hardware, but QEMU's
/// TCG ignores it on some, HLT among them.)
const SEGMENTS: [u8; 6] = [0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65];

/// The guest's port nobody serves, for `IN`/`OUT`.
const NOBODYS_PORT: u64 = 0x6E0;

pub fn prefixed(fuzz: &mut Fuzz, draw: &mut Draw) {
    let instruction = &EXITING[draw.index(EXITING.len())];
    let mut bytes = [0u8; 32];
    let mut len = 0;
    let count = draw.pick(&[0, 1, 1, 2, 3, 4, 14]);
    for _ in 0..count {
        let prefix = match draw.below(12) {
            0..=5 => draw.pick(&SEGMENTS),
            6 => 0x66,
            7 => 0x67,
            8 if instruction.rep_prefix_ok => draw.pick(&[0xF2, 0xF3]),
            _ => draw.pick(&SEGMENTS),
        };
        bytes[len] = prefix;
        len += 1;
    }
    // A REX prefix right before the opcode changes nothing either (W has
    // no meaning for these; PAUSE and the one-byte forms excepted).
    if instruction.bytes[0] == 0x0F && draw.chance(1, 3) {
        bytes[len] = 0x40 | draw.below(16) as u8;
        len += 1;
    }
    bytes[len..len + instruction.bytes.len()].copy_from_slice(instruction.bytes);
    len += instruction.bytes.len();
    let too_long = len > 15;
    // After it: RET, then INT3 padding a misplaced RIP runs into.
    bytes[len] = 0xC3;
    for byte in &mut bytes[len + 1..] {
        *byte = 0xCC;
    }
    machine::write_bytes(fuzz.layout.code, &bytes);

    let mut input: Gprs =
        core::array::from_fn(|i| 0x1111_1111_1111_1111u64.wrapping_mul(i as u64 + 1));
    input[4] = 0;
    let leaf = match draw.below(4) {
        0 => 0,
        1 => 0x4000_0001,
        2 => 0x8000_0001,
        _ => 7,
    };
    match instruction.effect {
        Effect::Cpuid => (input[0], input[1]) = (leaf, 0),
        Effect::Rdmsr => input[1] = u64::from(arch::EFER),
        Effect::Nothing if instruction.name == "WRMSR" => {
            let star = cpu::rdmsr(arch::STAR).unwrap_or(0);
            (input[1], input[0], input[2]) =
                (u64::from(arch::STAR), star & 0xFFFF_FFFF, star >> 32);
        }
        Effect::Hypercall => (input[1], input[2], input[8]) = (0x1_0008, 0, 0),
        Effect::CounterOrGp => input[1] = 0,
        // Operands that raise no exception of their own, which the
        // processor checks before the intercept (a page-aligned physical
        // address in RAX, no MONITOR/MWAIT extensions, XCR0 with x87): so
        // only the intercept, and the #UD it brings, is left.
        Effect::InvalidOpcode => {
            (input[0], input[1], input[2]) = (fuzz.layout.scratch, 0, 0);
            if instruction.name == "XSETBV" {
                input[0] = 1;
            }
        }
        _ => {}
    }
    input[2] = if matches!(instruction.effect, Effect::InAllOnes | Effect::Nothing)
        && instruction.name.contains("DX")
    {
        NOBODYS_PORT
    } else {
        input[2]
    };
    let outcome = machine::run_code(fuzz.layout.code, &input);
    let described = |fuzz: &mut Fuzz, what: core::fmt::Arguments<'_>| {
        fuzz.finding(format_args!(
            "{} with prefixes {:02x?} ({} bytes): {what}",
            instruction.name,
            &bytes[..len - instruction.bytes.len()],
            len
        ));
    };
    if too_long {
        // AMD64 APM vol. 3, 1.1: an instruction longer than 15 bytes is #GP.
        let vector = 13;
        match outcome {
            Err(caught) if caught.vector == vector => {}
            Err(caught) if stopped_by_host(&caught) => {
                note_stop(fuzz, &caught);
                described(
                    fuzz,
                    format_args!("stopped the VP instead of raising vector {vector}"),
                );
            }
            other => described(
                fuzz,
                format_args!("expected vector {vector}, got {other:x?}"),
            ),
        }
        return;
    }
    let output = match outcome {
        Ok(output) => output,
        Err(caught) if caught.vector == 6 && instruction.effect == Effect::InvalidOpcode => return,
        Err(caught)
            if caught.vector == 6
                && instruction.effect == Effect::Hypercall
                && !fuzz.overlays.hypercalls_enabled() =>
        {
            return;
        }
        Err(caught)
            if matches!(caught.vector, 6 | 13) && instruction.effect == Effect::CounterOrGp =>
        {
            return;
        }
        Err(caught)
            if caught.vector == 6
                && instruction.name == "RDTSCP"
                && cpu::cpuid(0x8000_0001, 0).edx & (1 << 27) == 0 =>
        {
            return;
        }
        Err(caught) if stopped_by_host(&caught) => {
            note_stop(fuzz, &caught);
            return described(fuzz, format_args!("stopped the VP"));
        }
        Err(caught) => return described(fuzz, format_args!("raised {caught}")),
    };
    if instruction.effect == Effect::InvalidOpcode {
        return described(fuzz, format_args!("completed; it must raise #UD"));
    }
    // Registers the instruction may write, and what they must hold.
    let mut changed = [false; 16];
    let mut expected = input;
    match instruction.effect {
        Effect::Cpuid => {
            let plain = cpu::cpuid(leaf as u32, 0);
            expected[0] = u64::from(plain.eax);
            expected[3] = u64::from(plain.ebx);
            expected[1] = u64::from(plain.ecx);
            expected[2] = u64::from(plain.edx);
        }
        Effect::Rdmsr => {
            let efer = cpu::rdmsr(arch::EFER).unwrap_or(0);
            (expected[0], expected[2]) = (efer & 0xFFFF_FFFF, efer >> 32);
        }
        Effect::Counter { rcx } => {
            (changed[0], changed[2], changed[1]) = (true, true, rcx);
        }
        Effect::CounterOrGp => (changed[0], changed[2]) = (true, true),
        Effect::InAllOnes => expected[0] = (input[0] & !0xFF) | 0xFF,
        Effect::Hypercall => changed[0] = true,
        Effect::Nothing | Effect::InvalidOpcode => {}
    }
    for (index, (&got, &want)) in output.iter().zip(&expected).enumerate() {
        if index != 4 && !changed[index] && got != want {
            return described(
                fuzz,
                format_args!(
                    "register {index} is {got:#x} afterwards, expected {want:#x} (RIP not after the instruction?)"
                ),
            );
        }
    }
}

/// Vectors an `int n` may raise through the guest's IDT: those whose stub
/// expects no error code (a software interrupt never pushes one).
const INT_VECTORS: [u8; 14] = [0, 1, 3, 4, 5, 6, 7, 9, 15, 16, 18, 19, 20, 28];

pub fn exception(fuzz: &mut Fuzz, draw: &mut Draw) {
    let what = draw.below(10);
    let (name, expected, outcome) = if what == 9 {
        let vector = draw.pick(&INT_VECTORS);
        machine::write_bytes(fuzz.layout.code, &[0xCD, vector, 0xC3]);
        let outcome = machine::run_code(fuzz.layout.code, &[0; 16]).map(drop);
        ("INT n", vector, outcome)
    } else {
        let raise = [
            Raise::Ud2,
            Raise::Int3,
            Raise::Icebp,
            Raise::DivideByZero,
            Raise::NonCanonicalRead,
            Raise::UnmappedRead,
            Raise::SingleStep,
            Raise::LockNop,
            Raise::Ud2,
        ][what as usize];
        ("an exception", raise.vector(), machine::raise(raise))
    };
    match outcome {
        Err(caught) if caught.vector == expected => {}
        // ICEBP (F1): QEMU's TCG raises #UD for it (it is #DB on hardware).
        Err(caught) if what == 2 && caught.vector == 6 => {}
        Err(caught) if stopped_by_host(&caught) => {
            note_stop(fuzz, &caught);
            fuzz.finding(format_args!("{name} (vector {expected}) stopped the VP"));
        }
        other => fuzz.finding(format_args!(
            "{name}: expected vector {expected}, got {other:?}"
        )),
    }
}
