//! Decoded views of checked records.

#[cfg(doc)]
use super::BootPlan;
use super::names::checked_name;
use crate::layout::{ComponentRecord, EndpointRecord, GrantRecord, ImageRecord};
use crate::{EndpointKind, GrantKind, MAX_ENDPOINTS, MAX_GRANTS, NO_TARGET, Rights};

/// A component image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image<'a> {
    /// Index in the image section.
    pub index: u16,
    /// Image name (the module string xtask gives the module).
    pub name: &'a str,
    /// Multiboot module index, `1..module_count`.
    pub module: u16,
}

/// A component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component<'a> {
    /// Index in the component section (what grants and endpoints refer to).
    pub index: u16,
    /// Component name; the kernel tags the component's console lines with it.
    pub name: &'a str,
    /// Index of its image ([`BootPlan::image`]).
    pub image: u16,
    /// Memory quota in bytes (non-zero, page multiple).
    pub memory: u64,
    /// Number of threads, `1..=MAX_THREADS`.
    pub threads: u16,
    /// Priority, higher is more important.
    pub priority: u8,
    /// CPUs it may run on (bit `n` = CPU `n`), non-empty, within the deployment's CPUs.
    pub affinity: u64,
}

/// An endpoint or notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint<'a> {
    /// Index in the endpoint section (what grants refer to).
    pub index: u16,
    /// Endpoint name, unique within its owner.
    pub name: &'a str,
    /// Index of the component that serves it.
    pub owner: u16,
    /// IPC endpoint or notification.
    pub kind: EndpointKind,
    /// Slot of the owner's receive/wait capability.
    pub slot: u8,
}

/// A capability to put into a component's capability space before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Index in the grant section.
    pub index: u16,
    /// Index of the component that holds it.
    pub holder: u16,
    /// What it is.
    pub kind: GrantKind,
    /// Slot in the holder's capability space.
    pub slot: u8,
    /// The endpoint it names (`None` for console).
    pub target: Option<u16>,
    /// Rights, non-empty and allowed for `kind`.
    pub rights: Rights,
    /// Badge the endpoint's owner sees.
    pub badge: u64,
}

// Views of records `parse` has checked (counts fit in u16: MAX_GRANTS < 65536).

pub(super) fn image_view(index: u16, record: &ImageRecord) -> Image<'_> {
    Image {
        index,
        name: checked_name(&record.name),
        module: record.module.get(),
    }
}

pub(super) fn component_view(index: u16, record: &ComponentRecord) -> Component<'_> {
    Component {
        index,
        name: checked_name(&record.name),
        image: record.image.get(),
        memory: record.memory.get(),
        threads: record.threads.get(),
        priority: record.priority,
        affinity: record.affinity.get(),
    }
}

pub(super) fn endpoint_view(index: u16, record: &EndpointRecord) -> Endpoint<'_> {
    Endpoint {
        index,
        name: checked_name(&record.name),
        owner: record.owner.get(),
        kind: EndpointKind::from_u8(record.kind).unwrap_or(EndpointKind::Ipc),
        slot: record.slot,
    }
}

pub(super) fn grant_view(index: u16, record: &GrantRecord) -> Grant {
    let target = record.target.get();
    Grant {
        index,
        holder: record.holder.get(),
        kind: GrantKind::from_u8(record.kind).unwrap_or(GrantKind::Console),
        slot: record.slot,
        target: (target != NO_TARGET).then_some(target),
        rights: Rights(record.rights.get()),
        badge: record.badge.get(),
    }
}

const _: () = assert!(MAX_GRANTS <= u16::MAX as u32);
const _: () = assert!(MAX_ENDPOINTS <= u16::MAX as u32);
