//! Cross-record consistency: endpoints, grants, capability slots,
//! priorities and call cycles.

use super::names::{checked_name, name_of};
use super::{BootPlan, idx};
use crate::manager::MANAGER_DATA_SLOT;
use crate::{
    CSPACE_SLOTS, EndpointKind, FIRST_FREE_SLOT, GrantKind, MAX_COMPONENTS, NO_TARGET, PlanError,
    Rights, Section, route,
};

impl BootPlan<'_> {
    pub(super) fn check_capabilities(&self) -> Result<(), PlanError> {
        // One bit per slot per component (CSPACE_SLOTS == 64).
        const _: () = assert!(CSPACE_SLOTS as u32 == u64::BITS);
        const _: () = assert!(MAX_COMPONENTS <= u64::BITS);
        let mut used = [0u64; MAX_COMPONENTS as usize];
        // calls[c]: bit s set if component c calls component s.
        let mut calls = [0u64; MAX_COMPONENTS as usize];
        let components = self.components.len();

        let section = Section::Endpoints;
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            let index = idx(i);
            let name = name_of(&endpoint.name).ok_or(PlanError::BadName { section, index })?;
            if endpoint.reserved != [0; 4] {
                return Err(PlanError::ReservedNotZero { section, index });
            }
            let owner = usize::from(endpoint.owner.get());
            if owner >= components {
                return Err(PlanError::IndexOutOfRange {
                    section,
                    index,
                    field: "owner",
                });
            }
            if EndpointKind::from_u8(endpoint.kind).is_none() {
                return Err(PlanError::BadValue {
                    section,
                    index,
                    field: "kind",
                });
            }
            claim_slot(&mut used, owner, endpoint.slot, section, index)?;
            if self
                .endpoints
                .iter()
                .take(i)
                .any(|e| e.owner.get() == endpoint.owner.get() && checked_name(&e.name) == name)
            {
                return Err(PlanError::DuplicateName { section, index });
            }
        }

        let section = Section::Grants;
        let mut verdict_seen = false;
        for (i, grant) in self.grants.iter().enumerate() {
            let index = idx(i);
            let holder = usize::from(grant.holder.get());
            let Some(holder_record) = self.components.get(holder) else {
                return Err(PlanError::IndexOutOfRange {
                    section,
                    index,
                    field: "holder",
                });
            };
            let kind = GrantKind::from_u8(grant.kind).ok_or(PlanError::BadValue {
                section,
                index,
                field: "kind",
            })?;
            let rights = Rights(grant.rights.get());
            if !kind.rights_valid(rights) {
                return Err(PlanError::BadValue {
                    section,
                    index,
                    field: "rights",
                });
            }
            let target = grant.target.get();
            match kind.target_kind() {
                None => {
                    if target != NO_TARGET {
                        return Err(PlanError::KindMismatch { index });
                    }
                    if grant.badge.get() != 0 {
                        return Err(PlanError::BadValue {
                            section,
                            index,
                            field: "badge",
                        });
                    }
                    // Console and verdict grants sit in their fixed,
                    // kernel-reserved slot, once per holder.
                    let bad_slot = PlanError::BadSlot {
                        section,
                        index,
                        slot: grant.slot,
                    };
                    if kind.fixed_slot() != Some(grant.slot) {
                        return Err(bad_slot);
                    }
                    let bit = 1u64 << grant.slot;
                    if used[holder] & bit != 0 {
                        return Err(bad_slot);
                    }
                    used[holder] |= bit;
                    if kind == GrantKind::Verdict {
                        if verdict_seen {
                            return Err(PlanError::DuplicateVerdict { index });
                        }
                        verdict_seen = true;
                    }
                }
                Some(wanted) => {
                    let Some(endpoint) = self.endpoints.get(usize::from(target)) else {
                        return Err(PlanError::IndexOutOfRange {
                            section,
                            index,
                            field: "target",
                        });
                    };
                    if EndpointKind::from_u8(endpoint.kind) != Some(wanted) {
                        return Err(PlanError::KindMismatch { index });
                    }
                    let owner = usize::from(endpoint.owner.get());
                    if owner == holder {
                        return Err(PlanError::SelfGrant { index });
                    }
                    claim_slot(&mut used, holder, grant.slot, section, index)?;
                    if kind == GrantKind::Call {
                        let owner_priority =
                            self.components.get(owner).map_or(0, |owner| owner.priority);
                        if holder_record.priority > owner_priority {
                            return Err(PlanError::PriorityInversion { index });
                        }
                        calls[holder] |= 1u64 << owner;
                    }
                }
            }
        }

        self.check_routes(&mut used, &mut calls)?;

        // Transitive closure (Warshall) over at most 64 components.
        let n = components.min(calls.len());
        for k in 0..n {
            let via = calls[k];
            for row in calls.iter_mut().take(n) {
                if *row & (1u64 << k) != 0 {
                    *row |= via;
                }
            }
        }
        for (c, row) in calls.iter().enumerate().take(n) {
            if row & (1u64 << c) != 0 {
                return Err(PlanError::CallCycle { component: idx(c) });
            }
        }
        Ok(())
    }
}

impl BootPlan<'_> {
    /// Routes, and the slots of each manager they and its manager data fill.
    /// Runs after the partitions are checked (their manager indices are in
    /// range).
    fn check_routes(&self, used: &mut [u64], calls: &mut [u64]) -> Result<(), PlanError> {
        // The manager data slot of every manager.
        let data_bit = 1u64 << MANAGER_DATA_SLOT;
        let mut managers = 0u64;
        for (i, partition) in self.partitions.iter().enumerate() {
            let manager = usize::from(partition.manager.get());
            if managers & (1u64 << manager) != 0 {
                continue;
            }
            managers |= 1u64 << manager;
            let bits = used.get_mut(manager).ok_or(PlanError::IndexOutOfRange {
                section: Section::Partitions,
                index: idx(i),
                field: "manager",
            })?;
            if *bits & data_bit != 0 {
                return Err(PlanError::BadSlot {
                    section: Section::Partitions,
                    index: idx(i),
                    slot: MANAGER_DATA_SLOT as u8,
                });
            }
            *bits |= data_bit;
        }

        let section = Section::Routes;
        for (i, route) in self.routes.iter().enumerate() {
            let index = idx(i);
            let value = |field| PlanError::BadValue {
                section,
                index,
                field,
            };
            if route.reserved != [0; 3] || route.reserved2.get() != 0 {
                return Err(PlanError::ReservedNotZero { section, index });
            }
            let partition_index = route.partition.get();
            let Some(partition) = self.partitions.get(usize::from(partition_index)) else {
                return Err(PlanError::IndexOutOfRange {
                    section,
                    index,
                    field: "partition",
                });
            };
            let target_index = route.target.get();
            let Some(target) = self.endpoints.get(usize::from(target_index)) else {
                return Err(PlanError::IndexOutOfRange {
                    section,
                    index,
                    field: "target",
                });
            };
            if EndpointKind::from_u8(target.kind) != Some(EndpointKind::Ipc) {
                return Err(value("target"));
            }
            let kind = route.kind.get();
            let parameter = route.parameter.get();
            if route::shape(kind).is_none() {
                return Err(value("kind"));
            }
            if !route::parameter_valid(kind, parameter) {
                return Err(value("parameter"));
            }
            if !route::state_valid(route.state.get()) {
                return Err(value("state"));
            }
            if !route::posted_valid(kind, parameter, u64::from(route.posted.get())) {
                return Err(value("posted"));
            }

            // Priorities: the VPs call the target, and so does the manager
            // (through the route capability), unless it is the target.
            let manager = usize::from(partition.manager.get());
            let owner = usize::from(target.owner.get());
            let priority_of = |c: usize| self.components.get(c).map_or(0, |c| c.priority);
            if partition.priority > priority_of(owner) {
                return Err(PlanError::RoutePriority { index });
            }
            if owner != manager {
                if priority_of(manager) > priority_of(owner) {
                    return Err(PlanError::RoutePriority { index });
                }
                if let Some(row) = calls.get_mut(manager) {
                    *row |= 1u64 << owner;
                }
            }

            let earlier = &self.routes[..i];
            if earlier.iter().any(|r| {
                r.partition.get() == partition_index
                    && r.kind.get() == kind
                    && route::overlap(kind, r.parameter.get(), parameter)
            }) {
                return Err(PlanError::RouteOverlap { index });
            }

            // One slot per (partition, target) pair, distinct within the manager.
            let bad_slot = PlanError::BadSlot {
                section,
                index,
                slot: route.slot,
            };
            let same_pair = |r: &&crate::layout::RouteRecord| {
                r.partition.get() == partition_index && r.target.get() == target_index
            };
            if let Some(pair) = earlier.iter().find(same_pair) {
                if pair.slot != route.slot {
                    return Err(bad_slot);
                }
            } else {
                claim_slot(used, manager, route.slot, section, index)?;
            }

            let badge = partition.badge.get();
            if self.grants.iter().any(|g| {
                g.kind == GrantKind::Call as u8
                    && g.target.get() == target_index
                    && g.badge.get() == badge
            }) {
                return Err(PlanError::BadgeCollision { index });
            }
        }

        for (p, _) in self.partitions.iter().enumerate() {
            let lifecycle = self.routes.iter().any(|r| {
                usize::from(r.partition.get()) == p && r.kind.get() == route::intercept::LIFECYCLE
            });
            if !lifecycle {
                return Err(PlanError::NoLifecycleRoute { partition: idx(p) });
            }
        }
        Ok(())
    }
}

/// Marks `slot` of component `owner` as used, or says why it cannot be.
fn claim_slot(
    used: &mut [u64],
    owner: usize,
    slot: u8,
    section: Section,
    index: u32,
) -> Result<(), PlanError> {
    let bad = PlanError::BadSlot {
        section,
        index,
        slot,
    };
    if !(FIRST_FREE_SLOT..CSPACE_SLOTS).contains(&slot) {
        return Err(bad);
    }
    let bits = used.get_mut(owner).ok_or(bad)?;
    let bit = 1u64 << slot;
    if *bits & bit != 0 {
        return Err(bad);
    }
    *bits |= bit;
    Ok(())
}
