//! Model-based test: any sequence of overlay placements and removals and
//! RAM mappings and unmappings, at colliding GPAs and with table memory
//! running out, leaves the nested table mapping exactly the top overlay,
//! else RAM, else nothing at every GPA — and never a freed frame.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{LARGE, PAGE, Tables, space};
use proptest::prelude::*;
use tessera_gpa_space::{GpaSpace, OverlayId};
use tessera_npt::GuestRights;

/// The GPA pages the operations use: 2 MiB boundaries and their
/// neighbours, so large pages, splits and collisions all happen.
const PAGES: [u64; 8] = [0, 1, 2, 511, 512, 513, 1023, 1024];
/// RAM sizes in pages.
const SIZES: [u64; 5] = [1, 2, 512, 513, 1024];
const IDS: [OverlayId; 6] = [
    OverlayId::HypercallPage,
    OverlayId::ReferenceTscPage,
    OverlayId::VpAssistPage(0),
    OverlayId::VpAssistPage(1),
    OverlayId::SynicMessagePage(0),
    OverlayId::SynicEventFlagsPage(1),
];
const RIGHTS: [GuestRights; 3] = [
    GuestRights::ALL,
    GuestRights::READ_WRITE,
    GuestRights::READ_EXECUTE,
];

#[derive(Clone, Debug)]
enum Op {
    MapRam {
        page: usize,
        size: usize,
        rights: usize,
        /// Frames in aligned 2 MiB runs (large pages possible) or scattered.
        contiguous: bool,
    },
    UnmapRam {
        pick: usize,
    },
    Place {
        id: usize,
        page: usize,
        rights: usize,
    },
    Remove {
        id: usize,
    },
    /// Table allocations still allowed from here (`None`: unlimited).
    Budget(Option<usize>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..PAGES.len(), 0..SIZES.len(), 0..RIGHTS.len(), any::<bool>()).prop_map(
            |(page, size, rights, contiguous)| Op::MapRam { page, size, rights, contiguous }
        ),
        2 => any::<usize>().prop_map(|pick| Op::UnmapRam { pick }),
        4 => (0..IDS.len(), 0..PAGES.len(), 0..RIGHTS.len())
            .prop_map(|(id, page, rights)| Op::Place { id, page, rights }),
        3 => (0..IDS.len()).prop_map(|id| Op::Remove { id }),
        1 => proptest::option::of(0..4usize).prop_map(Op::Budget),
    ]
}

/// What the guest must see, kept the simple way.
#[derive(Debug, Default)]
struct Model {
    /// (first GPA, frames, rights, owner).
    ram: Vec<(u64, Vec<u64>, GuestRights, u32)>,
    /// In placement order: the last one at a GPA is on top.
    overlays: Vec<(OverlayId, u64, u64, GuestRights)>,
}

impl Model {
    fn expected(&self, gpa: u64) -> Option<(u64, GuestRights)> {
        if let Some(&(_, _, frame, rights)) = self.overlays.iter().rev().find(|o| o.1 == gpa) {
            return Some((frame, rights));
        }
        self.ram.iter().find_map(|(first, frames, rights, _)| {
            let index = gpa.checked_sub(*first)? / PAGE;
            frames.get(index as usize).map(|&frame| (frame, *rights))
        })
    }

    fn overlaps(&self, gpa: u64, pages: u64) -> bool {
        self.ram.iter().any(|(first, frames, ..)| {
            gpa < first + frames.len() as u64 * PAGE && *first < gpa + pages * PAGE
        })
    }
}

/// Frames handed out once each, never reused, so a stale mapping shows.
struct Frames {
    next: u64,
    freed: BTreeSet<u64>,
}

impl Frames {
    fn take(&mut self, count: u64, contiguous: bool) -> Vec<u64> {
        self.next = self.next.next_multiple_of(LARGE);
        let stride = if contiguous { PAGE } else { 2 * PAGE };
        let frames = (0..count).map(|i| self.next + i * stride).collect();
        self.next += count * stride;
        frames
    }
}

fn check(mem: &Tables, space: &GpaSpace<u32>, model: &Model, frames: &Frames) {
    let leaves = mem.leaves(space.npt().root());
    let mut expected = BTreeMap::new();
    for page in 0..=2 * 1024 + 1 {
        let gpa = page * PAGE;
        if let Some((frame, rights)) = model.expected(gpa) {
            expected.insert(gpa, frame);
            let seen = space.npt().translate(mem, gpa).expect("mapped");
            assert_eq!((seen.hpa, seen.rights), (frame, rights), "GPA {gpa:#x}");
        }
    }
    assert_eq!(leaves, expected, "the nested table maps exactly the model");
    for frame in leaves.values() {
        assert!(
            !frames.freed.contains(frame),
            "freed frame {frame:#x} still mapped"
        );
    }
    let top = |gpa| {
        model
            .overlays
            .iter()
            .rev()
            .find(|o| o.1 == gpa)
            .map(|o| o.0)
    };
    for page in PAGES {
        assert_eq!(
            space.overlay_at(page * PAGE).map(|o| o.id),
            top(page * PAGE)
        );
    }
}

fn run(ops: Vec<Op>) {
    let (mut mem, mut space) = space();
    let mut model = Model::default();
    let mut frames = Frames {
        next: 0x1_0000_0000,
        freed: BTreeSet::new(),
    };
    let mut overlay_frames = 0x4000_0000u64;
    let mut owner = 0u32;
    for op in ops {
        match op {
            Op::MapRam {
                page,
                size,
                rights,
                contiguous,
            } => {
                let (gpa, pages) = (PAGES[page] * PAGE, SIZES[size]);
                let ram = frames.take(pages, contiguous);
                owner += 1;
                match space.map_ram(&mut mem, gpa, common::slice(&ram), RIGHTS[rights], owner) {
                    Ok(()) => {
                        assert!(!model.overlaps(gpa, pages));
                        model.ram.push((gpa, ram, RIGHTS[rights], owner));
                    }
                    Err(tessera_gpa_space::MapError::Overlap) => {
                        assert!(model.overlaps(gpa, pages));
                    }
                    Err(error) => assert!(mem.budget.is_some(), "{error:?} with memory left"),
                }
            }
            Op::UnmapRam { pick } => {
                if model.ram.is_empty() {
                    continue;
                }
                let (_, ram, _, gone) = model.ram.remove(pick % model.ram.len());
                let removed = space.unmap_ram(&mut mem, |m| m.owner == gone);
                assert_eq!(removed, 1);
                // The region's frames go back to the pool.
                frames.freed.extend(ram);
            }
            Op::Place { id, page, rights } => {
                let (id, gpa) = (IDS[id], PAGES[page] * PAGE);
                overlay_frames += PAGE;
                match space.place_overlay(&mut mem, id, gpa, overlay_frames, RIGHTS[rights]) {
                    Ok(old) => {
                        let position = model.overlays.iter().position(|o| o.0 == id);
                        let was = position.map(|p| model.overlays.remove(p));
                        assert_eq!(old.map(|o| o.frame), was.map(|o| o.2));
                        frames.freed.extend(was.map(|o| o.2));
                        model
                            .overlays
                            .push((id, gpa, overlay_frames, RIGHTS[rights]));
                    }
                    Err(error) => assert!(mem.budget.is_some(), "{error:?} with memory left"),
                }
            }
            Op::Remove { id } => {
                let id = IDS[id];
                let position = model.overlays.iter().position(|o| o.0 == id);
                let was = position.map(|p| model.overlays.remove(p));
                let gone = space.remove_overlay(&mut mem, id);
                assert_eq!(gone.map(|o| o.frame), was.map(|o| o.2));
                frames.freed.extend(was.map(|o| o.2));
            }
            Op::Budget(budget) => mem.budget = budget,
        }
        check(&mem, &space, &model, &frames);
    }
    mem.budget = None;
    let left = space.destroy(&mut mem);
    assert_eq!(left.len(), model.overlays.len());
    assert_eq!(mem.live(), 0, "every table frame is given back");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_nested_table_is_always_top_overlay_else_ram_else_nothing(
        ops in proptest::collection::vec(op(), 1..40)
    ) {
        run(ops);
    }
}
