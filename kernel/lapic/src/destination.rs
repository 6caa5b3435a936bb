//! Which APICs a message reaches: physical and logical (flat and cluster)
//! destinations, the broadcast IDs, the ICR shorthands, and the
//! lowest-priority arbitration — pure functions over a view of the
//! partition's APICs.
//!
//! Intel SDM Vol. 3A §10.6.2 "Determining IPI Destination" (§10.6.2.1
//! physical, §10.6.2.2 logical, §10.6.2.3 broadcast/self, §10.6.2.4 lowest
//! priority) and §10.12.10 "Determining IPI Destination in x2APIC Mode".

use crate::bits::{MAX_VPS, VpIndexSet};
use crate::message::Target;

/// Physical or logical (ICR bit 11, redirection entry bit 11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DestinationMode {
    /// The ID is an APIC ID.
    Physical,
    /// The ID is a message destination address matched against each
    /// APIC's LDR (and DFR).
    Logical,
}

/// How wide the destination field was where the message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdWidth {
    /// 8 bits: an xAPIC ICR (bits 63:56), an I/O APIC redirection entry
    /// (bits 63:56), an MSI address. `0xFF` is the broadcast ID.
    Xapic,
    /// 32 bits: an x2APIC ICR (bits 63:32). `0xFFFF_FFFF` is the broadcast
    /// ID.
    X2apic,
}

/// A destination field with its mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Destination {
    /// Physical or logical.
    pub mode: DestinationMode,
    /// The field's value (8 or 32 bits).
    pub id: u32,
    /// Where it came from.
    pub width: IdWidth,
}

/// How an APIC interprets a logical destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogicalModel {
    /// xAPIC, DFR model `1111b`: LDR bits 31:24 are a bit mask; a message
    /// matches if `MDA & LDR[31:24] ≠ 0` (SDM §10.6.2.2 "Flat Model").
    Flat,
    /// xAPIC, DFR model `0000b`: LDR bits 31:28 are a cluster, 27:24 a
    /// mask; a message matches if the clusters are equal and the masks
    /// intersect, or its cluster is `1111b` (all clusters; SDM §10.6.2.2
    /// "Cluster Model").
    Cluster,
    /// x2APIC: the 32-bit LDR is cluster (31:16) and mask (15:0); a
    /// message matches if the clusters are equal and the masks intersect
    /// (SDM §10.12.10.1).
    X2apic,
}

/// One APIC as destination matching sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ApicAddress {
    /// Its APIC ID (8 significant bits in xAPIC mode, 32 in x2APIC mode).
    pub id: u32,
    /// Its logical destination register.
    pub ldr: u32,
    /// How it reads logical destinations.
    pub model: LogicalModel,
    /// Whether it takes messages at all: `false` while globally disabled
    /// through `IA32_APIC_BASE` (a disabled APIC is off the bus; the
    /// software-enable bit does not matter here — see
    /// [`LocalApic::accept`](crate::LocalApic::accept)).
    pub enabled: bool,
}

const XAPIC_BROADCAST: u32 = 0xFF;
const X2APIC_BROADCAST: u32 = 0xFFFF_FFFF;

impl Destination {
    /// Whether the field is the broadcast ID of its width (SDM
    /// §10.6.2.1: "a broadcast ... FFH"; §10.12.10: "FFFF_FFFFH").
    #[must_use]
    pub const fn is_broadcast(&self) -> bool {
        match self.width {
            IdWidth::Xapic => self.id & 0xFF == XAPIC_BROADCAST,
            IdWidth::X2apic => self.id == X2APIC_BROADCAST,
        }
    }

    /// Whether `apic` is among this destination's APICs.
    ///
    /// An 8-bit field read by an x2APIC-mode APIC is zero-extended (as an
    /// I/O APIC's message is in x2APIC systems without interrupt
    /// remapping), except that `0xFF` stays the broadcast ID. A 32-bit
    /// field above `0xFF` matches no xAPIC-mode APIC unless it is the
    /// broadcast ID. Mixed xAPIC/x2APIC partitions are a guest error the
    /// TLFS lets the hypervisor resolve as it likes; these rules are
    /// Linux KVM's (`kvm_apic_mda`).
    #[must_use]
    pub fn matches(&self, apic: &ApicAddress) -> bool {
        if !apic.enabled {
            return false;
        }
        if self.is_broadcast() {
            return true;
        }
        let id = self.id;
        match (self.mode, apic.model) {
            (DestinationMode::Physical, LogicalModel::X2apic) => id == apic.id,
            (DestinationMode::Physical, _) => id <= 0xFF && id == apic.id & 0xFF,
            (DestinationMode::Logical, LogicalModel::X2apic) => {
                id >> 16 == apic.ldr >> 16 && id & apic.ldr & 0xFFFF != 0
            }
            (DestinationMode::Logical, _) if id > 0xFF => false,
            (DestinationMode::Logical, LogicalModel::Flat) => id & (apic.ldr >> 24) != 0,
            (DestinationMode::Logical, LogicalModel::Cluster) => {
                let logical = apic.ldr >> 24;
                // Cluster 1111b addresses every cluster (SDM §10.6.2.2).
                (id >> 4 == 0xF || id >> 4 == logical >> 4) && id & logical & 0xF != 0
            }
        }
    }
}

/// The VP indices a message reaches: `apics[i]` is VP `i`'s APIC (at most
/// [`MAX_VPS`] are looked at); `sender` is the VP that wrote the ICR
/// (`None` for a message from an I/O APIC or a device), which the
/// shorthands need. A shorthand without a sender reaches nobody.
#[must_use]
pub fn resolve(target: &Target, sender: Option<usize>, apics: &[ApicAddress]) -> VpIndexSet {
    let mut out = VpIndexSet::EMPTY;
    let apics = &apics[..apics.len().min(MAX_VPS)];
    let alive = |i: usize| apics[i].enabled;
    match target {
        Target::Destination(destination) => {
            for (i, apic) in apics.iter().enumerate() {
                if destination.matches(apic) {
                    out.insert(i as u8);
                }
            }
        }
        Target::SelfOnly => {
            if let Some(s) = sender.filter(|&s| s < apics.len() && alive(s)) {
                out.insert(s as u8);
            }
        }
        Target::AllIncludingSelf | Target::AllExcludingSelf => {
            if sender.is_none() {
                return out;
            }
            for i in (0..apics.len()).filter(|&i| alive(i)) {
                if *target == Target::AllIncludingSelf || Some(i) != sender {
                    out.insert(i as u8);
                }
            }
        }
    }
    out
}

/// A candidate of lowest-priority arbitration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Contender {
    /// Its processor priority (PPR).
    pub ppr: u8,
    /// Whether the vector is already in its IRR or ISR (it is the "focus
    /// processor" for it).
    pub has_vector: bool,
    /// Whether it accepts fixed interrupts (software-enabled).
    pub accepts: bool,
}

/// A published contender's bits: PPR in bits 7:0, `accepts` in bit 8, and
/// bit 9 set in every published word (0 means nothing published yet).
const PUBLISHED_ACCEPTS: u16 = 1 << 8;
const PUBLISHED: u16 = 1 << 9;

impl Contender {
    /// This contender as one word a VP publishes for senders on other
    /// CPUs, which may not read its APIC while it runs: its PPR and whether
    /// it accepts. Whether it holds a given vector is not in it (a running
    /// VP is never the focus processor).
    #[must_use]
    #[inline]
    pub const fn published(self) -> u16 {
        self.ppr as u16 | if self.accepts { PUBLISHED_ACCEPTS } else { 0 } | PUBLISHED
    }

    /// The contender a [`published`](Self::published) word describes;
    /// `None` for a word nothing was published in (0).
    #[must_use]
    pub const fn from_published(word: u16) -> Option<Self> {
        if word & PUBLISHED == 0 {
            return None;
        }
        Some(Self {
            ppr: word as u8,
            has_vector: false,
            accepts: word & PUBLISHED_ACCEPTS != 0,
        })
    }
}

/// The VP that wins lowest-priority arbitration among `candidates`, or
/// `None` if none accepts fixed interrupts.
///
/// **The rule implemented** (the SDM leaves the choice "model specific",
/// §10.6.2.4; AMD APM Vol. 2 chapter 16 arbitrates on the arbitration
/// priority, with focus-processor checking):
///
/// 1. a candidate that already has the vector pending or in service (the
///    focus processor) wins;
/// 2. otherwise the one with the lowest processor priority class
///    (PPR\[7:4\]) wins;
/// 3. ties go to the first candidate at or after VP index `start`,
///    wrapping around: the caller rotates `start` to spread the load
///    (round robin).
pub fn arbitrate(
    candidates: &VpIndexSet,
    start: u8,
    contender: impl Fn(u8) -> Contender,
) -> Option<u8> {
    let order = (start..=255).chain(0..start);
    let mut best: Option<(u8, Contender)> = None;
    for vp in order.filter(|&vp| candidates.contains(vp)) {
        let c = contender(vp);
        if !c.accepts {
            continue;
        }
        if c.has_vector {
            return Some(vp);
        }
        if best.is_none_or(|(_, b)| c.ppr >> 4 < b.ppr >> 4) {
            best = Some((vp, c));
        }
    }
    best.map(|(vp, _)| vp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xapic(id: u32, logical: u32, model: LogicalModel) -> ApicAddress {
        ApicAddress {
            id,
            ldr: logical << 24,
            model,
            enabled: true,
        }
    }

    fn logical(id: u32) -> Destination {
        Destination {
            mode: DestinationMode::Logical,
            id,
            width: IdWidth::Xapic,
        }
    }

    #[test]
    fn flat_logical() {
        let apic = xapic(3, 0b0000_0100, LogicalModel::Flat);
        let dest = logical;
        assert!(dest(0b0000_0110).matches(&apic));
        assert!(!dest(0b0000_0011).matches(&apic));
        assert!(dest(0xFF).matches(&apic));
        assert!(!dest(0x100).matches(&apic));
    }

    #[test]
    fn cluster_logical() {
        let apic = xapic(3, 0x21, LogicalModel::Cluster);
        let dest = logical;
        assert!(dest(0x21).matches(&apic));
        assert!(dest(0x23).matches(&apic));
        assert!(!dest(0x31).matches(&apic));
        assert!(!dest(0x22).matches(&apic));
        // Cluster 0xF: every cluster.
        assert!(dest(0xF1).matches(&apic));
    }
}
