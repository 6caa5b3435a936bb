use std::collections::BTreeSet;
use std::string::ToString;
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use crate::{FRAME_SIZE, Frame, FrameAllocator, FrameError, find_storage};

const MIB: u64 = 1 << 20;

fn frame(addr: u64) -> Frame {
    Frame::from_addr(addr).unwrap()
}

fn storage_for(end: u64) -> Vec<u64> {
    vec![0xA5A5_A5A5_A5A5_A5A5; FrameAllocator::storage_words(end)]
}

/// Allocates until exhaustion and returns every frame handed out.
fn drain(alloc: &mut FrameAllocator<'_>) -> Vec<Frame> {
    let mut frames = Vec::new();
    while let Some(f) = alloc.allocate() {
        frames.push(f);
    }
    frames
}

#[test]
fn frame_constructors() {
    assert_eq!(Frame::containing(0x1234).addr(), 0x1000);
    assert_eq!(Frame::containing(u64::MAX).addr(), !0xfff);
    assert_eq!(Frame::from_addr(0x5000).unwrap().number(), 5);
    assert_eq!(
        Frame::from_addr(0x5001),
        Err(FrameError::Unaligned { addr: 0x5001 })
    );
    assert_eq!(Frame::from_number(3).unwrap().addr(), 0x3000);
    assert_eq!(Frame::from_number(u64::MAX / FRAME_SIZE + 1), None);
    assert_eq!(frame(0x1000).checked_add(2), Some(frame(0x3000)));
    assert_eq!(Frame::containing(u64::MAX).checked_add(1), None);
    assert_eq!(std::format!("{:?}", frame(0x2000)), "Frame(0x2000)");
}

#[test]
fn storage_words_covers_two_bitmaps() {
    assert_eq!(FrameAllocator::storage_words(0), 0);
    assert_eq!(FrameAllocator::storage_words(1), 2);
    assert_eq!(FrameAllocator::storage_words(64 * FRAME_SIZE), 2);
    assert_eq!(FrameAllocator::storage_words(64 * FRAME_SIZE + 1), 4);
    assert_eq!(FrameAllocator::storage_words(4 << 30), 2 * 16384);
    assert_eq!(FrameAllocator::storage_bytes(4 << 30), 2 * 16384 * 8);
    // Does not overflow for the whole address space.
    assert!(FrameAllocator::storage_words(u64::MAX) > 0);
}

#[test]
fn storage_too_small_is_rejected() {
    let mut storage = vec![0u64; 3];
    let err = FrameAllocator::new(&mut storage, [(0, 8 * MIB)], []).unwrap_err();
    assert_eq!(
        err,
        FrameError::StorageTooSmall {
            needed: FrameAllocator::storage_words(8 * MIB),
            given: 3
        }
    );
    let text = err.to_string();
    assert!(text.contains("64 words needed"), "{text}");
    assert!(text.contains("3 given"), "{text}");

    // The highest range decides, wherever it is in the list.
    let mut storage = storage_for(MIB);
    let err = FrameAllocator::new(
        &mut storage,
        [(0, MIB), (16 * MIB, 17 * MIB), (MIB, 2 * MIB)],
        [],
    );
    assert!(matches!(err, Err(FrameError::StorageTooSmall { .. })));

    // Exactly enough is enough, and a partial frame at the end needs nothing.
    let mut storage = storage_for(MIB);
    assert!(FrameAllocator::new(&mut storage, [(0, MIB + 0xfff)], []).is_ok());
    let mut empty: [u64; 0] = [];
    let alloc = FrameAllocator::new(&mut empty, [(0, 0xfff)], []).unwrap();
    assert_eq!(alloc.free_frames(), 0);
}

#[test]
fn usable_shrinks_inward_reserved_grows_outward() {
    let mut storage = storage_for(MIB);
    let mut alloc = FrameAllocator::new(
        &mut storage,
        [(0x1001, 0x4fff), (0x10000, 0x14000)],
        [(0x11001, 0x11002), (0x12fff, 0x13001)],
    )
    .unwrap();
    // 0x2000, 0x3000 from the first range; 0x10000 from the second (0x11000,
    // 0x12000 and 0x13000 reserved).
    assert_eq!(alloc.managed_frames(), 2 + 4);
    assert_eq!(alloc.free_frames(), 3);
    assert_eq!(
        drain(&mut alloc),
        [frame(0x2000), frame(0x3000), frame(0x10000)]
    );
    assert_eq!(alloc.free_frames(), 0);
}

#[test]
fn never_hands_out_reserved_or_unusable_frames_nor_twice() {
    let usable = [(0, 0x9_F000), (MIB, 8 * MIB), (9 * MIB, 12 * MIB)];
    let reserved = [(0, MIB), (2 * MIB, 3 * MIB + 5), (10 * MIB, 10 * MIB + 1)];
    let mut storage = storage_for(12 * MIB);
    let mut alloc = FrameAllocator::new(&mut storage, usable, reserved).unwrap();
    let expected: BTreeSet<u64> = (0..12 * MIB / FRAME_SIZE)
        .map(|n| n * FRAME_SIZE)
        .filter(|&a| usable.iter().any(|&(s, e)| s <= a && a + FRAME_SIZE <= e))
        .filter(|&a| !reserved.iter().any(|&(s, e)| s < a + FRAME_SIZE && a < e))
        .collect();
    assert_eq!(alloc.free_frames(), expected.len());

    let frames = drain(&mut alloc);
    let got: BTreeSet<u64> = frames.iter().map(|f| f.addr()).collect();
    assert_eq!(got.len(), frames.len(), "a frame was handed out twice");
    assert_eq!(got, expected);
    // Lowest first.
    assert!(frames.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(alloc.allocate(), None);
    assert_eq!(alloc.allocate_contiguous(1, 1), None);
}

#[test]
fn free_and_reallocate() {
    let mut storage = storage_for(MIB);
    let mut alloc = FrameAllocator::new(&mut storage, [(0, MIB)], [(0, 0x1000)]).unwrap();
    let a = alloc.allocate().unwrap();
    let b = alloc.allocate().unwrap();
    let c = alloc.allocate().unwrap();
    assert_eq!((a, b, c), (frame(0x1000), frame(0x2000), frame(0x3000)));
    let before = alloc.free_frames();
    alloc.free(b).unwrap();
    assert_eq!(alloc.free_frames(), before + 1);
    assert!(alloc.is_free(b));
    // The freed frame is the lowest free one again.
    assert_eq!(alloc.allocate(), Some(b));
    assert!(!alloc.is_free(b));

    // Free everything held and drain: every managed frame but the reserved one.
    for f in [a, b, c] {
        alloc.free(f).unwrap();
    }
    assert_eq!(drain(&mut alloc).len(), 255);
}

#[test]
fn free_errors() {
    let mut storage = storage_for(2 * MIB);
    let mut alloc = FrameAllocator::new(
        &mut storage,
        [(0, MIB), (MIB + 0x10000, 2 * MIB)],
        [(0, 0x1000)],
    )
    .unwrap();
    let f = alloc.allocate().unwrap();
    alloc.free(f).unwrap();
    assert_eq!(alloc.free(f), Err(FrameError::DoubleFree { frame: f }));
    // Never allocated, still in the pool.
    assert_eq!(
        alloc.free(frame(0x5000)),
        Err(FrameError::DoubleFree {
            frame: frame(0x5000)
        })
    );
    // A hole in the usable map.
    assert_eq!(
        alloc.free(frame(MIB)),
        Err(FrameError::NeverUsable { frame: frame(MIB) })
    );
    // Past the covered memory.
    let far = frame(64 * MIB);
    assert_eq!(
        alloc.free(far),
        Err(FrameError::OutOfRange {
            frame: far,
            limit: alloc.memory_end()
        })
    );
    assert!(alloc.memory_end() >= 2 * MIB);
    // A reserved but usable frame can be handed back.
    let before = alloc.free_frames();
    alloc.free(frame(0)).unwrap();
    assert_eq!(alloc.free_frames(), before + 1);
    for err in [
        FrameError::DoubleFree { frame: f },
        FrameError::NeverUsable { frame: f },
        FrameError::OutOfRange {
            frame: f,
            limit: 0x1000,
        },
        FrameError::Unaligned { addr: 3 },
    ] {
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn contiguous_and_aligned() {
    let mut storage = storage_for(16 * MIB);
    let mut alloc = FrameAllocator::new(
        &mut storage,
        [(0, 16 * MIB)],
        // Spoil the first 2 MiB pages: 0..2 MiB by low memory, 4..6 MiB by one
        // frame in the middle.
        [(0, MIB), (5 * MIB, 5 * MIB + 1)],
    )
    .unwrap();
    let total = alloc.free_frames();

    let big = alloc.allocate_contiguous(512, 512).unwrap();
    assert_eq!(big.addr(), 2 * MIB);
    let big2 = alloc.allocate_contiguous(512, 512).unwrap();
    assert_eq!(big2.addr(), 6 * MIB, "4-6 MiB has a reserved frame");
    assert_eq!(alloc.free_frames(), total - 1024);
    for n in 0..512 {
        assert!(!alloc.is_free(big.checked_add(n).unwrap()));
    }

    // Unaligned runs fill the lowest gap that fits.
    let three = alloc.allocate_contiguous(3, 1).unwrap();
    assert_eq!(three.addr(), MIB);
    let odd = alloc.allocate_contiguous(2, 3).unwrap();
    assert_eq!(odd.number() % 3, 0);
    assert!(odd.addr() >= MIB + 3 * FRAME_SIZE);

    // Single allocations skip what the runs took.
    let single = alloc.allocate().unwrap();
    assert!(single.addr() >= MIB + 3 * FRAME_SIZE && single.addr() < 2 * MIB);

    // Too big, zero-sized, or past the end.
    assert_eq!(alloc.allocate_contiguous(0, 1), None);
    assert_eq!(alloc.allocate_contiguous(4096, 1), None);
    assert_eq!(alloc.allocate_contiguous(512, 8192), None);

    // All or nothing free, then the run can be allocated again.
    assert_eq!(
        alloc.free_contiguous(big, 513),
        Err(FrameError::DoubleFree {
            frame: frame(4 * MIB)
        })
    );
    assert!(
        !alloc.is_free(big),
        "a failed free_contiguous freed nothing"
    );
    alloc.free_contiguous(big, 512).unwrap();
    alloc.free_contiguous(big, 0).unwrap();
    assert_eq!(alloc.allocate_contiguous(512, 512), Some(big));
    assert_eq!(
        alloc.free_contiguous(Frame::containing(u64::MAX), 2),
        Err(FrameError::OutOfRange {
            frame: Frame::containing(u64::MAX),
            limit: alloc.memory_end()
        })
    );
}

#[test]
fn contiguous_exhaustion() {
    let mut storage = storage_for(4 * MIB);
    let mut alloc = FrameAllocator::new(&mut storage, [(0, 4 * MIB)], []).unwrap();
    assert_eq!(
        alloc.allocate_contiguous(512, 512).map(Frame::addr),
        Some(0)
    );
    assert_eq!(
        alloc.allocate_contiguous(512, 512).map(Frame::addr),
        Some(2 * MIB)
    );
    assert_eq!(alloc.allocate_contiguous(512, 512), None);
    assert_eq!(alloc.allocate(), None);
    assert_eq!(alloc.free_frames(), 0);
}

#[test]
fn find_storage_places_bitmap() {
    let usable = [(0x500, 0x9_F000), (MIB, 64 * MIB)];
    let reserved = [(0, MIB), (MIB, 3 * MIB + 17), (4 * MIB, 5 * MIB)];
    // Fits between the reserved ranges at 3 MiB + 4 KiB.
    assert_eq!(
        find_storage(usable, reserved, 0x1000),
        Some(3 * MIB + 0x1000)
    );
    // Too big for that gap: after the second reserved range.
    assert_eq!(find_storage(usable, reserved, MIB), Some(5 * MIB));
    // Low memory is usable when nothing reserves it; the start rounds up.
    assert_eq!(find_storage(usable, [], 0x2000), Some(0x1000));
    assert_eq!(find_storage(usable, reserved, 64 * MIB), None);
    assert_eq!(find_storage([], reserved, 1), None);
    assert_eq!(find_storage([(0x1800, 0x2800)], [], 1), None);
    assert_eq!(find_storage(usable, reserved, u64::MAX), None);
    assert_eq!(find_storage(usable, [(0, u64::MAX)], 1), None);

    // The found storage, reserved, works for the allocator.
    let end = 64 * MIB;
    let bytes = FrameAllocator::storage_bytes(end);
    let at = find_storage(usable, reserved, bytes).unwrap();
    let mut storage = vec![0u64; (bytes / 8) as usize];
    let mut all_reserved = reserved.to_vec();
    all_reserved.push((at, at + bytes));
    let mut alloc = FrameAllocator::new(&mut storage, usable, all_reserved).unwrap();
    let frames = drain(&mut alloc);
    assert!(
        frames
            .iter()
            .all(|f| f.addr() + FRAME_SIZE <= at || f.addr() >= at + bytes)
    );
}

// ----------------------------------------------------------- model test

#[derive(Clone, Debug)]
enum Op {
    Allocate,
    Contiguous(usize, usize),
    /// Free a held frame (index into the held list).
    FreeHeld(usize),
    /// Free an arbitrary frame number.
    FreeAny(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Allocate),
        1 => (1usize..80, prop_oneof![Just(0usize), Just(1), Just(2), Just(8), Just(64)])
            .prop_map(|(n, a)| Op::Contiguous(n, a)),
        5 => any::<usize>().prop_map(Op::FreeHeld),
        1 => (0u64..700).prop_map(Op::FreeAny),
    ]
}

fn range() -> impl Strategy<Value = (u64, u64)> {
    (0u64..600 * FRAME_SIZE, 0u64..200 * FRAME_SIZE).prop_map(|(s, l)| (s, s + l))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn matches_a_set_model(
        usable in proptest::collection::vec(range(), 0..6),
        reserved in proptest::collection::vec(range(), 0..6),
        ops in proptest::collection::vec(op(), 0..300),
    ) {
        let usable_end = usable.iter().map(|&(_, e)| e).max().unwrap_or(0);
        let mut storage = storage_for(usable_end);
        let mut alloc = FrameAllocator::new(&mut storage, usable.iter().copied(), reserved.iter().copied()).unwrap();
        let covered = alloc.memory_end() / FRAME_SIZE;

        let managed: BTreeSet<u64> = (0..covered)
            .filter(|&n| usable.iter().any(|&(s, e)| s <= n * FRAME_SIZE && (n + 1) * FRAME_SIZE <= e))
            .collect();
        let mut free: BTreeSet<u64> = managed
            .iter()
            .copied()
            .filter(|&n| !reserved.iter().any(|&(s, e)| s < (n + 1) * FRAME_SIZE && n * FRAME_SIZE < e))
            .collect();
        let mut held: Vec<u64> = Vec::new();
        prop_assert_eq!(alloc.managed_frames(), managed.len());
        prop_assert_eq!(alloc.free_frames(), free.len());

        for op in ops {
            match op {
                Op::Allocate => {
                    let expected = free.iter().next().copied();
                    let got = alloc.allocate().map(Frame::number);
                    prop_assert_eq!(got, expected);
                    if let Some(n) = got {
                        free.remove(&n);
                        held.push(n);
                    }
                }
                Op::Contiguous(count, align) => {
                    let a = align.max(1) as u64;
                    let expected = (0..covered)
                        .filter(|s| s % a == 0)
                        .find(|&s| (s..s + count as u64).all(|n| free.contains(&n)));
                    let got = alloc.allocate_contiguous(count, align).map(Frame::number);
                    prop_assert_eq!(got, expected);
                    if let Some(s) = got {
                        for n in s..s + count as u64 {
                            free.remove(&n);
                            held.push(n);
                        }
                    }
                }
                Op::FreeHeld(i) => {
                    if !held.is_empty() {
                        let n = held.swap_remove(i % held.len());
                        prop_assert_eq!(alloc.free(Frame::from_number(n).unwrap()), Ok(()));
                        free.insert(n);
                    }
                }
                Op::FreeAny(n) => {
                    let f = Frame::from_number(n).unwrap();
                    let expected = if n >= covered {
                        Err(FrameError::OutOfRange { frame: f, limit: covered * FRAME_SIZE })
                    } else if !managed.contains(&n) {
                        Err(FrameError::NeverUsable { frame: f })
                    } else if free.contains(&n) {
                        Err(FrameError::DoubleFree { frame: f })
                    } else {
                        Ok(())
                    };
                    prop_assert_eq!(alloc.free(f), expected);
                    if expected.is_ok() {
                        free.insert(n);
                        // It may have been held, or reserved at construction.
                        held.retain(|&h| h != n);
                    }
                }
            }
            prop_assert_eq!(alloc.free_frames(), free.len());
        }
    }
}
