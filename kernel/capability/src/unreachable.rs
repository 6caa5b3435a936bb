//! Holders of capabilities that can never act again and are named only by
//! each other: garbage that reference counting cannot see.
//!
//! A protection domain given a capability to itself, or two domains given
//! capabilities to each other, stay named after every outside capability
//! to them is deleted. If none of them has a thread that can run, none of
//! those capabilities can ever be used: the group is unreachable. Each
//! holder here is one domain (its own object and its threads' objects
//! together); which holders are inert and who names whom is the kernel's
//! to say.

/// One capability naming something of holder `named`, held in the space
/// of holder `by`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Naming {
    pub by: usize,
    pub named: usize,
}

/// Which holders are unreachable: `gone[i]` comes in as whether holder `i`
/// has nothing that can run, and goes out as whether it is unreachable. `refs[i]`: how many capabilities name holder `i`'s objects in
/// all, wherever they are held (`u32::MAX` if that is not known: such a
/// holder is kept). `namings`: every capability held by one of the holders
/// that names one of them.
///
/// The answer is the largest set of inert holders all of whose names are
/// held inside the set: no holder that can act, and no capability held
/// outside, reaches it. O(holders × namings) at worst.
/// It allocates nothing (the kernel calls it under its lock).
pub fn unreachable(gone: &mut [bool], refs: &[u32], namings: &[Naming]) {
    loop {
        let mut changed = false;
        for named in 0..gone.len() {
            if !gone[named] {
                continue;
            }
            let inside = namings
                .iter()
                .filter(|n| n.named == named && gone.get(n.by).copied().unwrap_or(false))
                .count();
            let total = refs.get(named).copied().unwrap_or(u32::MAX);
            if total == u32::MAX || u64::from(total) > inside as u64 {
                gone[named] = false;
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(by: usize, named: usize) -> Naming {
        Naming { by, named }
    }

    fn unreachable<const N: usize>(
        inert: &[bool; N],
        refs: &[u32],
        namings: &[Naming],
    ) -> [bool; N] {
        let mut gone = *inert;
        super::unreachable(&mut gone, refs, namings);
        gone
    }

    #[test]
    fn a_domain_named_only_by_itself_is_unreachable() {
        assert_eq!(unreachable(&[true], &[1], &[n(0, 0)]), [true]);
    }

    #[test]
    fn a_domain_that_can_run_is_never_unreachable() {
        assert_eq!(unreachable(&[false], &[1], &[n(0, 0)]), [false]);
        assert_eq!(unreachable(&[false], &[0], &[]), [false]);
    }

    #[test]
    fn a_capability_held_outside_the_holders_keeps_a_domain() {
        // Two names: one from itself, one from a space not among the holders.
        assert_eq!(unreachable(&[true], &[2], &[n(0, 0)]), [false]);
        assert_eq!(unreachable(&[true], &[u32::MAX], &[]), [false]);
    }

    #[test]
    fn a_cycle_of_inert_domains_goes_whole() {
        let namings = [n(0, 1), n(1, 2), n(2, 0)];
        assert_eq!(unreachable(&[true; 3], &[1; 3], &namings), [true; 3]);
    }

    #[test]
    fn a_domain_that_can_act_keeps_what_it_names_and_what_that_names() {
        // 0 runs and names 1; 1 names 2; 2 names itself; 3 only itself.
        let namings = [n(0, 1), n(1, 2), n(2, 2), n(3, 3)];
        assert_eq!(
            unreachable(&[false, true, true, true], &[0, 1, 2, 1], &namings),
            [false, false, false, true]
        );
    }

    #[test]
    fn a_cycle_held_from_outside_is_kept_whole() {
        // 0 <-> 1, and 1 also named from a space that is not a holder.
        let namings = [n(0, 1), n(1, 0)];
        assert_eq!(
            unreachable(&[true, true], &[1, 2], &namings),
            [false, false]
        );
    }

    #[test]
    fn namings_out_of_range_change_nothing() {
        assert_eq!(unreachable(&[true], &[1], &[n(7, 0)]), [false]);
        assert_eq!(unreachable(&[true], &[], &[]), [false]);
    }
}
