//! Routes: which exits of a partition go to which component endpoint, in
//! the terms of `PartitionInstallIntercept` (`tessera_abi::vm`): an
//! intercept kind, its parameter word and a register mask.
//!
//! | kind | parameter word |
//! | --- | --- |
//! | [`intercept::IO_PORT`] | ports `first..=last`: `first \| last << 16`, both `<= 0xFFFF` |
//! | [`intercept::MSR`] | MSRs `first..=last`: `first \| last << 32` |
//! | [`intercept::CPUID`] | leaves `first..=last`: `first \| last << 32` |
//! | [`intercept::EXCEPTION`] | a non-zero mask of vectors 0-31, without NMI (2) |
//! | [`intercept::MEMORY`] | GPA pages `first..=last` (page numbers, GPA >> 12): `first \| last << 32`, below [`GPA_LIMIT`] `>> 12` |
//! | [`intercept::HYPERCALL`] | call codes `first..=last`: `first \| last << 32`, both `<= 0xFFFF` |
//! | [`intercept::LIFECYCLE`], [`intercept::HLT`], [`intercept::EOI`] | 0 |
//!
//! The helpers here are what the boot plan's decoder, the manager data's
//! decoder and the manifest compiler all check against.

pub use tessera_abi::vm::{GPA_LIMIT, intercept, state};

/// The size of the GPA pages a [`intercept::MEMORY`] route names.
pub const GPA_PAGE_SIZE: u64 = 4096;

/// Every intercept kind a route may name.
pub const KINDS: [u64; 9] = [
    intercept::IO_PORT,
    intercept::MSR,
    intercept::CPUID,
    intercept::EXCEPTION,
    intercept::LIFECYCLE,
    intercept::HLT,
    intercept::MEMORY,
    intercept::HYPERCALL,
    intercept::EOI,
];

/// The register names of [`state`] masks, bit `n` for name `n`.
pub const STATE_REGISTERS: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];

/// The vector of NMI, which cannot be intercepted.
pub const NMI_VECTOR: u8 = 2;

/// The manifest's name of intercept `kind` (`"io"`, `"msr"`, ...).
pub const fn kind_name(kind: u64) -> Option<&'static str> {
    match kind {
        intercept::IO_PORT => Some("io"),
        intercept::MSR => Some("msr"),
        intercept::CPUID => Some("cpuid"),
        intercept::EXCEPTION => Some("exception"),
        intercept::LIFECYCLE => Some("lifecycle"),
        intercept::HLT => Some("hlt"),
        intercept::MEMORY => Some("memory"),
        intercept::HYPERCALL => Some("hypercall"),
        intercept::EOI => Some("eoi"),
        _ => None,
    }
}

/// The intercept kind the manifest calls `name`.
pub fn kind_of_name(name: &str) -> Option<u64> {
    KINDS.into_iter().find(|&k| kind_name(k) == Some(name))
}

/// What a kind's parameter is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterShape {
    /// An inclusive range of values up to `max`, packed with the last value
    /// shifted left by `shift` bits.
    Range { max: u64, shift: u32 },
    /// A bit mask of exception vectors.
    Vectors,
    /// No parameter: the word is 0.
    None,
}

/// The shape of `kind`'s parameter (`None` for an unknown kind).
pub const fn shape(kind: u64) -> Option<ParameterShape> {
    match kind {
        intercept::IO_PORT => Some(ParameterShape::Range {
            max: 0xFFFF,
            shift: 16,
        }),
        intercept::MSR | intercept::CPUID | intercept::MEMORY => Some(ParameterShape::Range {
            max: 0xFFFF_FFFF,
            shift: 32,
        }),
        // Call codes are 16 bits, packed like MSRs.
        intercept::HYPERCALL => Some(ParameterShape::Range {
            max: 0xFFFF,
            shift: 32,
        }),
        intercept::EXCEPTION => Some(ParameterShape::Vectors),
        intercept::LIFECYCLE | intercept::HLT | intercept::EOI => Some(ParameterShape::None),
        _ => None,
    }
}

/// The parameter word of the range `first..=last` for `kind`, if `kind`
/// takes a range and the range is valid for it.
pub const fn range_parameter(kind: u64, first: u64, last: u64) -> Option<u64> {
    match shape(kind) {
        Some(ParameterShape::Range { max, shift })
            if first <= last && last <= max && below_limit(kind, last) =>
        {
            Some(first | last << shift)
        }
        _ => None,
    }
}

/// Whether the last value of a range of `kind` is one the kernel takes:
/// memory routes name GPA pages, which end at [`GPA_LIMIT`] (the shape's
/// 32-bit field would hold more).
const fn below_limit(kind: u64, last: u64) -> bool {
    kind != intercept::MEMORY || last < GPA_LIMIT / GPA_PAGE_SIZE
}

/// The parameter word of a [`intercept::MEMORY`] route for the GPA bytes
/// `first..=last`, if they are whole pages (`first` at the start of one,
/// `last` at the end of one) below [`GPA_LIMIT`].
pub const fn memory_parameter(first: u64, last: u64) -> Option<u64> {
    let whole_pages =
        first.is_multiple_of(GPA_PAGE_SIZE) && last % GPA_PAGE_SIZE == GPA_PAGE_SIZE - 1;
    if !whole_pages || last >= GPA_LIMIT {
        return None;
    }
    range_parameter(
        intercept::MEMORY,
        first / GPA_PAGE_SIZE,
        last / GPA_PAGE_SIZE,
    )
}

/// The range `first..=last` a range parameter stands for.
pub const fn range_of(kind: u64, parameter: u64) -> Option<(u64, u64)> {
    match shape(kind) {
        Some(ParameterShape::Range { max, shift }) => {
            Some((parameter & max, (parameter >> shift) & max))
        }
        _ => None,
    }
}

/// The parameter word of the exception vectors `vectors`, if they may be
/// intercepted (each below 32, not NMI, at least one).
pub fn vectors_parameter(vectors: impl IntoIterator<Item = u64>) -> Option<u64> {
    let mut mask = 0u64;
    for vector in vectors {
        if vector >= 32 || vector == u64::from(NMI_VECTOR) {
            return None;
        }
        mask |= 1 << vector;
    }
    (mask != 0).then_some(mask)
}

/// Whether `parameter` is valid for `kind` (and `kind` is known).
pub const fn parameter_valid(kind: u64, parameter: u64) -> bool {
    match shape(kind) {
        None => false,
        Some(ParameterShape::None) => parameter == 0,
        Some(ParameterShape::Vectors) => {
            parameter != 0 && parameter >> 32 == 0 && parameter & (1 << NMI_VECTOR) == 0
        }
        Some(ParameterShape::Range { max, shift }) => {
            let first = parameter & max;
            let last = (parameter >> shift) & max;
            // Nothing outside the two fields, and a non-empty range.
            (first | last << shift) == parameter && first <= last && below_limit(kind, last)
        }
    }
}

/// Whether `posted` is a valid posted-ports mask for a route of `kind`
/// with `parameter` (`tessera_abi::vm::posted`): 0, or for an `io` route
/// ports of its first [`MAX_POSTED_PORTS`] within the range.
pub const fn posted_valid(kind: u64, parameter: u64, posted: u64) -> bool {
    if posted == 0 {
        return true;
    }
    if kind != intercept::IO_PORT {
        return false;
    }
    let Some((first, last)) = range_of(kind, parameter) else {
        return false;
    };
    let ports = last - first + 1;
    let within = (1u64 << min(ports, MAX_POSTED_PORTS)) - 1;
    posted & !within == 0
}

const fn min(a: u64, b: u64) -> u64 {
    if a < b { a } else { b }
}

/// The ports a route may post, counted from its first.
pub const MAX_POSTED_PORTS: u64 = tessera_abi::vm::posted::MAX_PORTS;

/// Whether `state` is a valid register mask.
pub const fn state_valid(state: u64) -> bool {
    state & !state::ALL == 0
}

/// The mask bit of register `name` (`"rax"` .. `"r15"`).
pub fn state_bit(name: &str) -> Option<u64> {
    STATE_REGISTERS
        .iter()
        .position(|&r| r == name)
        .map(|bit| 1u64 << bit)
}

/// Whether two valid routes of one kind, with parameters `a` and `b`, would
/// catch a common exit (`PartitionInstallIntercept` refuses the second with
/// `Overlap`). Routes of different kinds never overlap.
pub const fn overlap(kind: u64, a: u64, b: u64) -> bool {
    match shape(kind) {
        None | Some(ParameterShape::None) => true,
        Some(ParameterShape::Vectors) => a & b != 0,
        Some(ParameterShape::Range { max, shift }) => {
            let (a_first, a_last) = (a & max, (a >> shift) & max);
            let (b_first, b_last) = (b & max, (b >> shift) & max);
            a_first <= b_last && b_first <= a_last
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in KINDS {
            assert_eq!(kind_of_name(kind_name(kind).unwrap()), Some(kind));
        }
        assert_eq!(kind_of_name("port"), None);
        assert_eq!(kind_name(7), None);
        assert_eq!(state_bit("rax"), Some(state::RAX));
        assert_eq!(state_bit("rdi"), Some(state::RDI));
        assert_eq!(state_bit("r15"), Some(1 << 15));
        assert_eq!(state_bit("rip"), None);
    }

    #[test]
    fn parameters() {
        let io = intercept::IO_PORT;
        assert_eq!(range_parameter(io, 0x3f8, 0x3ff), Some(0x3f8 | 0x3ff << 16));
        assert_eq!(range_parameter(io, 0xf4, 0xf4), Some(0xf4 | 0xf4 << 16));
        assert_eq!(range_parameter(io, 0x3ff, 0x3f8), None);
        assert_eq!(range_parameter(io, 0, 0x1_0000), None);
        let msr = intercept::MSR;
        assert_eq!(
            range_parameter(msr, 0x4c00_0000, 0x4c00_000f),
            Some(0x4c00_0000 | 0x4c00_000f << 32)
        );
        assert_eq!(range_parameter(msr, 0, 1 << 32), None);
        assert_eq!(range_parameter(intercept::HLT, 0, 0), None);
        // Memory routes: GPA page numbers.
        let memory = intercept::MEMORY;
        assert_eq!(
            range_parameter(memory, 0xfed00, 0xfed00),
            Some(0xfed00 | 0xfed00 << 32)
        );
        assert_eq!(range_parameter(memory, 0xfed01, 0xfed00), None);
        assert_eq!(range_parameter(memory, 0, 1 << 32), None);
        let pages = GPA_LIMIT / 4096;
        assert_eq!(range_parameter(memory, 0, pages), None, "at GPA_LIMIT");
        assert!(parameter_valid(memory, (pages - 1) << 32));
        assert!(!parameter_valid(memory, pages << 32));
        assert_eq!(
            range_of(memory, 0xfed00 | 0xfed0f << 32),
            Some((0xfed00, 0xfed0f))
        );
        assert!(parameter_valid(memory, 0), "page 0 alone");
        assert!(!parameter_valid(memory, 1), "pages 1..=0 run backwards");
        assert_eq!(
            memory_parameter(0xfed0_0000, 0xfed0_0fff),
            Some(0xfed00 | 0xfed00 << 32)
        );
        assert_eq!(
            memory_parameter(0, GPA_LIMIT - 1),
            Some((GPA_LIMIT / 4096 - 1) << 32)
        );
        assert_eq!(memory_parameter(0xfed0_0001, 0xfed0_0fff), None);
        assert_eq!(memory_parameter(0xfed0_0000, 0xfed0_0ffe), None);
        assert_eq!(memory_parameter(0xfed0_0000, GPA_LIMIT + 4095), None);
        assert_eq!(memory_parameter(0xfed0_1000, 0xfed0_0fff), None);
        // Hypercall routes: 16-bit call codes in the MSR layout.
        let hypercall = intercept::HYPERCALL;
        assert_eq!(range_parameter(hypercall, 8, 8), Some(8 | 8 << 32));
        assert_eq!(
            range_parameter(hypercall, 0, 0xFFFF),
            Some(0xFFFF << 32),
            "every code"
        );
        assert_eq!(range_parameter(hypercall, 0, 0x1_0000), None);
        assert_eq!(range_parameter(hypercall, 9, 8), None);
        assert_eq!(range_of(hypercall, 2 | 0x14 << 32), Some((2, 0x14)));
        assert!(parameter_valid(hypercall, 0x8 | 0x8 << 32));
        assert!(!parameter_valid(hypercall, 0x1_0000 << 32), "code 0x10000");
        assert!(!parameter_valid(hypercall, 1 << 16 | 1 << 33), "bits 31:16");
        assert!(!parameter_valid(hypercall, 9 | 8 << 32), "backwards");
        assert_eq!(range_of(io, 0x3f8 | 0x3ff << 16), Some((0x3f8, 0x3ff)));
        for kind in [io, msr, intercept::CPUID, memory, hypercall] {
            assert!(parameter_valid(kind, range_parameter(kind, 5, 9).unwrap()));
            assert!(!parameter_valid(
                kind,
                9 | 5 << if kind == io { 16 } else { 32 }
            ));
        }
        assert!(!parameter_valid(io, 1 << 40));
        assert!(parameter_valid(intercept::LIFECYCLE, 0));
        assert!(!parameter_valid(intercept::LIFECYCLE, 1));
        assert!(!parameter_valid(0x1234, 0));

        assert_eq!(vectors_parameter([6, 13]), Some(1 << 6 | 1 << 13));
        assert_eq!(vectors_parameter([2]), None);
        assert_eq!(vectors_parameter([32]), None);
        assert_eq!(vectors_parameter([]), None);
        let ex = intercept::EXCEPTION;
        assert!(parameter_valid(ex, 1 << 6));
        assert!(!parameter_valid(ex, 1 << 2));
        assert!(!parameter_valid(ex, 0));
        assert!(!parameter_valid(ex, 1 << 32));
        assert!(state_valid(state::ALL) && !state_valid(1 << 16));
    }

    #[test]
    fn overlaps() {
        let io = intercept::IO_PORT;
        let p = |a, b| range_parameter(io, a, b).unwrap();
        assert!(overlap(io, p(0x3f8, 0x3ff), p(0x3ff, 0x400)));
        assert!(overlap(io, p(0x3f8, 0x3ff), p(0x3fa, 0x3fa)));
        assert!(!overlap(io, p(0x3f8, 0x3ff), p(0x400, 0x400)));
        assert!(overlap(intercept::EXCEPTION, 0b110, 0b100));
        assert!(!overlap(intercept::EXCEPTION, 0b010, 0b100));
        assert!(overlap(intercept::LIFECYCLE, 0, 0));
        let memory = intercept::MEMORY;
        let m = |a, b| range_parameter(memory, a, b).unwrap();
        assert!(overlap(memory, m(0xfed00, 0xfed00), m(0xfe000, 0xfefff)));
        assert!(!overlap(memory, m(0xfed00, 0xfed00), m(0xfed01, 0xfed0f)));
        let hypercall = intercept::HYPERCALL;
        let h = |a, b| range_parameter(hypercall, a, b).unwrap();
        assert!(overlap(hypercall, h(8, 8), h(0, 0xFFFF)));
        assert!(overlap(hypercall, h(2, 3), h(3, 0x14)));
        assert!(!overlap(hypercall, h(8, 8), h(9, 0x14)));
    }
}
