//! Domains that capabilities still name but that nothing can ever run or
//! reach again ([`tessera_capability::unreachable`]): a domain given a
//! capability to itself or to a thread of its own, or a ring of domains
//! naming each other, none with a thread that was started. Reference
//! counting keeps such a group forever, and with it the quota of whoever
//! made it; here it ends as abandoned and gives everything back.
use alloc::vec::Vec;

use crate::state::{Ending, Kernel};
use tessera_capability::unreachable::{Naming, unreachable};
use tessera_capability::{DomainId, Object, SlotAddr};

impl Kernel {
    /// Ends every unreachable domain. Runs after a capability to a domain
    /// or a thread was deleted (only that can cut a group's last outside
    /// name); re-entered from the ends it causes, it returns at once.
    pub fn end_unreachable_domains(&mut self) {
        if self.ending_unreachable {
            return;
        }
        self.ending_unreachable = true;
        while let Some(group) = self.unreachable_domains() {
            for domain in group {
                if let Some(record) = self.domains.get(domain) {
                    log::info!(
                        "component {}: abandoned (only capabilities held by domains that cannot run name it)",
                        record.name
                    );
                }
                self.end_domain(domain, Ending::Abandoned);
            }
        }
        self.ending_unreachable = false;
    }

    /// The unreachable domains, if there are any (and memory to look).
    fn unreachable_domains(&mut self) -> Option<Vec<DomainId>> {
        let holders: Vec<DomainId> = self
            .domains
            .iter()
            .filter(|(_, d)| d.ending.is_none())
            .map(|(id, _)| id)
            .collect();
        let index = |domain: DomainId| holders.iter().position(|&d| d == domain);
        let mut gone = Vec::new();
        let mut refs = Vec::new();
        gone.try_reserve_exact(holders.len()).ok()?;
        refs.try_reserve_exact(holders.len()).ok()?;
        for &domain in &holders {
            // A thread that was started, or runs a VP, may act.
            let can_run = self
                .threads
                .iter()
                .any(|(_, t)| t.domain == domain && !t.dead && (t.started || t.vp.is_some()));
            gone.push(!can_run);
            refs.push(0u32);
        }
        if !gone.contains(&true) {
            return None;
        }
        // Every capability held by a holder that names a holder's domain
        // or living thread; each named object's count of names, once.
        let mut namings = Vec::new();
        let mut counted: Vec<Object> = Vec::new();
        for (by, &holder) in holders.iter().enumerate() {
            let cspace = self.domains.get(holder)?.cspace;
            let slots = self.caps.slots(cspace).ok()?;
            for selector in 0..slots {
                let at = SlotAddr::new(cspace, selector);
                let Ok(cap) = self.caps.get(at) else {
                    continue;
                };
                let named = match cap.object {
                    Object::Domain(d) => index(d),
                    Object::Thread(t) => self
                        .threads
                        .get(&t)
                        .filter(|t| !t.dead)
                        .and_then(|t| index(t.domain)),
                    _ => None,
                };
                let Some(named) = named else {
                    continue;
                };
                namings.try_reserve(1).ok()?;
                namings.push(Naming { by, named });
                if !counted.contains(&cap.object) {
                    counted.try_reserve(1).ok()?;
                    counted.push(cap.object);
                    let total = self.caps.object_refs(at).ok()?;
                    refs[named] = refs[named].saturating_add(total);
                }
            }
        }
        // A domain or living thread named from no holder's space but not
        // known to be nameless may be named from elsewhere: keep it.
        for (i, &domain) in holders.iter().enumerate() {
            let record = self.domains.get(domain)?;
            let domain_unseen = !record.unnamed && !counted.contains(&Object::Domain(domain));
            let thread_unseen = self.threads.iter().any(|(id, t)| {
                t.domain == domain && !t.dead && !counted.contains(&Object::Thread(id))
            });
            if domain_unseen || thread_unseen {
                refs[i] = u32::MAX;
            }
        }
        unreachable(&mut gone, &refs, &namings);
        let group: Vec<DomainId> = holders
            .iter()
            .zip(&gone)
            .filter(|&(_, &g)| g)
            .map(|(&d, _)| d)
            .collect();
        (!group.is_empty()).then_some(group)
    }
}
