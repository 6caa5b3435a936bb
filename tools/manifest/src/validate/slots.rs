//! Capability slots of provided endpoints and connections.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use tessera_boot_plan::manager::MANAGER_DATA_SLOT;
use tessera_boot_plan::{CSPACE_SLOTS, FIRST_FREE_SLOT};

use super::Info;
use crate::error::Report;
use crate::error::check::*;

/// A capability slot claimed by an entry, for collision reports.
struct Claim {
    slot: i64,
    entry: String,
    span: Option<Range<usize>>,
    what: String,
    automatic: bool,
}

/// Capability slots: reserved, in range, and one capability each; in a
/// partition manager (one of `managers`), slot 63 holds the manager data.
pub(super) fn check_slots(infos: &[Info<'_>], managers: &BTreeSet<&str>, report: &mut Report<'_>) {
    for info in infos {
        let manager = managers.contains(info.name);
        let entry = format!("component.{}", info.name);
        let mut claims = Vec::new();
        for (i, provide) in info.raw.provides.iter().enumerate() {
            let p = provide.get_ref();
            let (slot, span, automatic) = match &p.slot {
                Some(slot) => (*slot.get_ref(), Some(slot.span()), false),
                None => (
                    i64::from(FIRST_FREE_SLOT) + i as i64,
                    Some(provide.span()),
                    true,
                ),
            };
            claims.push(Claim {
                slot,
                entry: format!("{entry}.provides[{i}]"),
                span,
                what: format!("endpoint `{}`", p.name.get_ref()),
                automatic,
            });
        }
        for (j, connect) in info.raw.connects.iter().enumerate() {
            let c = connect.get_ref();
            claims.push(Claim {
                slot: *c.slot.get_ref(),
                entry: format!("{entry}.connects[{j}]"),
                span: Some(c.slot.span()),
                what: format!("the connection to `{}`", c.endpoint.get_ref()),
                automatic: false,
            });
        }

        let mut taken: BTreeMap<i64, usize> = BTreeMap::new();
        let mut collisions = Vec::new();
        for (k, claim) in claims.iter().enumerate() {
            let slot_field = if claim.automatic {
                claim.entry.clone()
            } else {
                format!("{}.slot", claim.entry)
            };
            if (0..i64::from(FIRST_FREE_SLOT)).contains(&claim.slot) {
                report.push(
                    SLOT_RESERVED,
                    slot_field,
                    claim.span.clone(),
                    format!("slot {} is reserved for the kernel", claim.slot),
                    format!(
                        "slots 0 to 3 hold the component's own domain, thread, console and verdict \
                         capabilities: use a slot from {FIRST_FREE_SLOT} to {}",
                        CSPACE_SLOTS - 1
                    ),
                );
            } else if manager && claim.slot == i64::from(MANAGER_DATA_SLOT) {
                report.push(
                    SLOT_RESERVED,
                    slot_field,
                    claim.span.clone(),
                    format!(
                        "slot {MANAGER_DATA_SLOT} of `{}` holds its manager data, as it manages \
                         partitions",
                        info.name
                    ),
                    format!(
                        "init installs the manager data region in slot {MANAGER_DATA_SLOT} of a \
                         partition manager (and its route capabilities in free slots from {} \
                         down): use a slot from {FIRST_FREE_SLOT} to {}",
                        MANAGER_DATA_SLOT - 1,
                        MANAGER_DATA_SLOT - 1
                    ),
                );
            } else if !(0..i64::from(CSPACE_SLOTS)).contains(&claim.slot) {
                let message = if claim.automatic {
                    format!(
                        "{} would get slot {}, past the {CSPACE_SLOTS} slots of a capability space",
                        claim.what, claim.slot
                    )
                } else {
                    format!(
                        "slot {} is outside the capability space (slots 0 to {})",
                        claim.slot,
                        CSPACE_SLOTS - 1
                    )
                };
                report.push(
                    SLOT_OUT_OF_RANGE,
                    slot_field,
                    claim.span.clone(),
                    message,
                    format!("use a slot from {FIRST_FREE_SLOT} to {}", CSPACE_SLOTS - 1),
                );
            } else if let Some(&first) = taken.get(&claim.slot) {
                collisions.push((first, k, slot_field));
            } else {
                taken.insert(claim.slot, k);
            }
        }
        for (first, k, slot_field) in collisions {
            let (a, b) = (&claims[first], &claims[k]);
            let free: Vec<String> = (i64::from(FIRST_FREE_SLOT)..i64::from(CSPACE_SLOTS))
                .filter(|s| !taken.contains_key(s))
                .take(3)
                .map(|s| s.to_string())
                .collect();
            let how = if a.automatic {
                format!(
                    " (an endpoint without `slot` gets slot {FIRST_FREE_SLOT} + its position in `provides`)"
                )
            } else {
                String::new()
            };
            report.push(
                SLOT_COLLISION,
                slot_field,
                b.span.clone(),
                format!(
                    "slot {} of `{}` already holds {}, from {}{how}",
                    b.slot, info.name, a.what, a.entry
                ),
                if free.is_empty() {
                    "the capability space is full: remove a connection".to_owned()
                } else {
                    format!(
                        "give one of the two another slot; free slots: {}",
                        free.join(", ")
                    )
                },
            );
        }
    }
}
