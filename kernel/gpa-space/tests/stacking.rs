//! The overlay rules, one scenario each: what the guest sees at a GPA is
//! the top overlay, else RAM, else nothing; and no frame that goes back to
//! the pool stays mapped.

mod common;

use common::{LARGE, PAGE, frames, space};
use tessera_gpa_space::{MapError, OverlayId};
use tessera_npt::{GuestRights, NptError, PageSize};

const HYPERCALL: OverlayId = OverlayId::HypercallPage;
const ASSIST_0: OverlayId = OverlayId::VpAssistPage(0);
const ASSIST_1: OverlayId = OverlayId::VpAssistPage(1);
const RX: GuestRights = GuestRights::READ_EXECUTE;
const RW: GuestRights = GuestRights::READ_WRITE;

/// Issue 9, finding 1: the hypercall page and the VP assist page on one
/// RAM page; the hypercall page goes, then the RAM. The assist page stays
/// visible throughout, and the RAM frame is never mapped once unmapped.
#[test]
fn the_overlay_escape_leaves_no_freed_frame_mapped() {
    let (mut mem, mut space) = space();
    let ram = frames(0x10_0000, 4);
    let x = 0x2000;
    space
        .map_ram(&mut mem, 0, common::slice(&ram), GuestRights::ALL, 1)
        .unwrap();
    space
        .place_overlay(&mut mem, HYPERCALL, x, 0xA000, RX)
        .unwrap();
    space
        .place_overlay(&mut mem, ASSIST_0, x, 0xB000, RW)
        .unwrap();
    assert_eq!(space.npt().translate(&mem, x).unwrap().hpa, 0xB000);

    let gone = space.remove_overlay(&mut mem, HYPERCALL).unwrap();
    assert_eq!((gone.gpa, gone.frame), (x, 0xA000));
    let seen = space.npt().translate(&mem, x).unwrap();
    assert_eq!(
        (seen.hpa, seen.rights),
        (0xB000, RW),
        "the assist page still shows"
    );

    let unmapped = space.unmap_ram(&mut mem, |m| m.owner == 1);
    assert_eq!(unmapped, 1);
    let leaves = mem.leaves(space.npt().root());
    assert_eq!(leaves.len(), 1, "only the overlay is left: {leaves:x?}");
    assert_eq!(leaves[&x], 0xB000);
    assert!(ram.iter().all(|frame| !leaves.values().any(|f| f == frame)));

    space.remove_overlay(&mut mem, ASSIST_0).unwrap();
    assert!(mem.leaves(space.npt().root()).is_empty());
    assert!(space.destroy(&mut mem).is_empty());
    assert_eq!(mem.live(), 0);
}

/// Two VPs' assist pages at one GPA: each is removed by its own identity,
/// and removing the covered one changes nothing the guest sees.
#[test]
fn two_vps_assist_pages_at_one_gpa_are_told_apart() {
    let (mut mem, mut space) = space();
    space
        .place_overlay(&mut mem, ASSIST_0, 0x5000, 0xA000, RW)
        .unwrap();
    space
        .place_overlay(&mut mem, ASSIST_1, 0x5000, 0xB000, RW)
        .unwrap();
    assert_eq!(space.overlay_at(0x5123).unwrap().id, ASSIST_1);
    assert_eq!(
        space.remove_overlay(&mut mem, ASSIST_0).unwrap().frame,
        0xA000
    );
    assert_eq!(space.npt().translate(&mem, 0x5000).unwrap().hpa, 0xB000);
    assert_eq!(space.remove_overlay(&mut mem, ASSIST_0), None);
    assert_eq!(
        space.remove_overlay(&mut mem, ASSIST_1).unwrap().frame,
        0xB000
    );
    assert_eq!(space.npt().translate(&mem, 0x5000), None);
}

/// The last placed is on top; removing the top shows the next one down,
/// then the RAM page, contents unchanged.
#[test]
fn removing_the_top_shows_the_next_one_down_then_ram() {
    let (mut mem, mut space) = space();
    space
        .map_ram(
            &mut mem,
            0,
            common::slice(&frames(0x10_0000, 1)),
            GuestRights::ALL,
            1,
        )
        .unwrap();
    space
        .place_overlay(&mut mem, ASSIST_0, 0, 0xA000, RW)
        .unwrap();
    space
        .place_overlay(&mut mem, HYPERCALL, 0, 0xB000, RX)
        .unwrap();
    assert_eq!(space.overlay_at(0).unwrap().id, HYPERCALL);
    space.remove_overlay(&mut mem, HYPERCALL);
    assert_eq!(space.npt().translate(&mem, 0).unwrap().rights, RW);
    space.remove_overlay(&mut mem, ASSIST_0);
    let ram = space.npt().translate(&mem, 0).unwrap();
    assert_eq!((ram.hpa, ram.rights), (0x10_0000, GuestRights::ALL));
}

/// Moving an overlay uncovers its old GPA and puts it on top at the new
/// one; placing it again at the same GPA swaps its frame.
#[test]
fn moving_an_overlay_uncovers_where_it_was() {
    let (mut mem, mut space) = space();
    space
        .map_ram(
            &mut mem,
            0,
            common::slice(&frames(0x10_0000, 2)),
            GuestRights::ALL,
            1,
        )
        .unwrap();
    space
        .place_overlay(&mut mem, ASSIST_1, PAGE, 0xC000, RW)
        .unwrap();
    space
        .place_overlay(&mut mem, HYPERCALL, 0, 0xA000, RX)
        .unwrap();
    let old = space
        .place_overlay(&mut mem, HYPERCALL, PAGE, 0xB000, RX)
        .unwrap();
    assert_eq!(old.unwrap().frame, 0xA000);
    assert_eq!(space.npt().translate(&mem, 0).unwrap().hpa, 0x10_0000);
    assert_eq!(
        space.overlay_at(PAGE).unwrap().id,
        HYPERCALL,
        "moved onto the top"
    );
    let swapped = space
        .place_overlay(&mut mem, HYPERCALL, PAGE, 0xD000, RX)
        .unwrap();
    assert_eq!(swapped.unwrap().frame, 0xB000);
    assert_eq!(space.npt().translate(&mem, PAGE).unwrap().hpa, 0xD000);
    assert_eq!(space.overlays().count(), 2);
}

/// An overlay outside RAM stays when RAM comes and goes beneath it; RAM
/// mapped under an overlay shows when the overlay goes.
#[test]
fn overlays_live_in_a_map_of_their_own() {
    let (mut mem, mut space) = space();
    space
        .place_overlay(&mut mem, ASSIST_0, 0x3000, 0xA000, RW)
        .unwrap();
    space
        .map_ram(
            &mut mem,
            0,
            common::slice(&frames(0x10_0000, 8)),
            GuestRights::ALL,
            7,
        )
        .unwrap();
    assert_eq!(space.npt().translate(&mem, 0x3000).unwrap().hpa, 0xA000);
    assert_eq!(space.npt().translate(&mem, 0x4000).unwrap().hpa, 0x10_4000);
    space.remove_overlay(&mut mem, ASSIST_0);
    assert_eq!(space.npt().translate(&mem, 0x3000).unwrap().hpa, 0x10_3000);
    space
        .place_overlay(&mut mem, ASSIST_0, 0x3000, 0xA000, RW)
        .unwrap();
    space.unmap_ram(&mut mem, |_| true);
    assert_eq!(mem.leaves(space.npt().root()).len(), 1);
    assert_eq!(space.npt().translate(&mem, 0x3000).unwrap().hpa, 0xA000);
}

/// An overlay over a 2 MiB page splits it: only its own 4 KiB is hidden.
/// RAM mapped with an overlay in its 2 MiB window gets no large page there.
#[test]
fn large_pages_split_under_an_overlay() {
    let (mut mem, mut space) = space();
    let ram = frames(0x4000_0000, 512);
    space
        .map_ram(&mut mem, LARGE, common::slice(&ram), GuestRights::ALL, 1)
        .unwrap();
    assert_eq!(
        space.npt().translate(&mem, LARGE).unwrap().size,
        PageSize::Size2M
    );
    let x = LARGE + 9 * PAGE;
    space
        .place_overlay(&mut mem, HYPERCALL, x, 0xA000, RX)
        .unwrap();
    let leaves = mem.leaves(space.npt().root());
    assert_eq!(leaves.len(), 512);
    assert_eq!(leaves[&x], 0xA000);
    assert_eq!(leaves[&(x + PAGE)], 0x4000_0000 + 10 * PAGE);
    space.unmap_ram(&mut mem, |_| true);
    assert_eq!(mem.leaves(space.npt().root()).len(), 1);

    space
        .map_ram(&mut mem, LARGE, common::slice(&ram), GuestRights::ALL, 2)
        .unwrap();
    assert_eq!(
        space.npt().translate(&mem, LARGE).unwrap().size,
        PageSize::Size4K
    );
    space.remove_overlay(&mut mem, HYPERCALL);
    assert_eq!(
        space.npt().translate(&mem, x).unwrap().hpa,
        0x4000_0000 + 9 * PAGE
    );
}

/// Running out of table memory while placing changes nothing, not even
/// the placement being moved.
#[test]
fn a_placement_that_runs_out_of_memory_changes_nothing() {
    let (mut mem, mut space) = space();
    space
        .place_overlay(&mut mem, HYPERCALL, 0x1000, 0xA000, RX)
        .unwrap();
    mem.budget = Some(0);
    assert_eq!(
        space.place_overlay(&mut mem, HYPERCALL, 0x4000_0000, 0xB000, RX),
        Err(NptError::OutOfMemory)
    );
    assert_eq!(space.overlay(HYPERCALL).unwrap().gpa, 0x1000);
    assert_eq!(space.npt().translate(&mem, 0x1000).unwrap().hpa, 0xA000);
    assert_eq!(space.npt().translate(&mem, 0x4000_0000), None);
    assert_eq!(
        space.map_ram(
            &mut mem,
            0x4000_0000,
            common::slice(&frames(0x10_0000, 1)),
            RW,
            1
        ),
        Err(MapError::Table(NptError::OutOfMemory))
    );
    assert!(space.ram().is_empty());
}

#[test]
fn ram_ranges_are_checked() {
    let (mut mem, mut space) = space();
    space
        .map_ram(&mut mem, 0, common::slice(&frames(0x10_0000, 2)), RW, 1)
        .unwrap();
    assert_eq!(
        space.map_ram(&mut mem, PAGE, common::slice(&frames(0x20_0000, 1)), RW, 2),
        Err(MapError::Overlap)
    );
    assert_eq!(
        space.map_ram(&mut mem, 0x800, common::slice(&frames(0x20_0000, 1)), RW, 2),
        Err(MapError::InvalidRange)
    );
    assert_eq!(
        space.map_ram(&mut mem, 0x4000, common::slice(&[]), RW, 2),
        Err(MapError::InvalidRange)
    );
    assert_eq!(
        space.map_ram(
            &mut mem,
            (1 << 40) - PAGE,
            common::slice(&frames(0x20_0000, 2)),
            RW,
            2
        ),
        Err(MapError::InvalidRange)
    );
    assert_eq!(
        space.map_ram(
            &mut mem,
            !0xFFF,
            common::slice(&frames(0x20_0000, 2)),
            RW,
            2
        ),
        Err(MapError::InvalidRange)
    );
    assert_eq!(space.ram().len(), 1);
}
