//! Decoded views of checked records.

#[cfg(doc)]
use super::BootPlan;
use super::names::checked_name;
use crate::layout::{
    ComponentRecord, EndpointRecord, GrantRecord, ImageRecord, ModuleRecord, PartitionRecord,
    RouteRecord,
};
use crate::{
    EndpointKind, Expectation, GrantKind, GuestFormat, ImageKind, MAX_ENDPOINTS, MAX_GRANTS,
    MAX_MODULE_RECORDS, MAX_PARTITIONS, MAX_ROUTES, NO_TARGET, Rights,
};

/// A component image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image<'a> {
    /// Index in the image section.
    pub index: u16,
    /// Image name (the module string xtask gives the module).
    pub name: &'a str,
    /// Multiboot module index, `1..module_count`.
    pub module: u16,
    /// A component's ELF or a guest image.
    pub kind: ImageKind,
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

/// A partition (guest), created by its manager component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition<'a> {
    /// Index in the partition section (what routes refer to).
    pub index: u16,
    /// Partition name, unique.
    pub name: &'a str,
    /// Index of the component that creates and owns it.
    pub manager: u16,
    /// Index of its guest image ([`BootPlan::image`], kind [`ImageKind::Guest`]).
    pub image: u16,
    /// How the image is loaded.
    pub format: GuestFormat,
    /// How the test expects it to end.
    pub expect: Expectation,
    /// Priority of its VP threads (at most the manager's and each route target's).
    pub priority: u8,
    /// Guest RAM at GPA 0, bytes.
    pub memory: u64,
    /// Its number, from 1, unique in the plan: the badge of its route capabilities.
    pub badge: u64,
    /// Command line (Multiboot guests; empty for ELF64): printable ASCII.
    pub cmdline: &'a str,
    /// Host CPU of each VP (one byte per VP, each below the deployment's CPU count).
    pub vp_cpus: &'a [u8],
    /// Its Hv#1 configuration, the words of `PartitionSetHv1`
    /// ([`crate::hv1_words_valid`]); `None`: no Hv#1 interface.
    pub hv1: Option<[u64; crate::HV1_WORDS]>,
    /// Its VPs' local APIC.
    pub apic: crate::manager::ApicKind,
    /// Its SynIC ports and connections ([`crate::synic`]).
    pub synic: crate::synic::SynicLinks,
}

/// A route: exits of one kind of a partition to an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Index in the route section.
    pub index: u16,
    /// Index of the partition.
    pub partition: u16,
    /// Index of the IPC endpoint that handles the exits.
    pub target: u16,
    /// Slot of the (badged) CALL capability to `target` in the manager's
    /// capability space.
    pub slot: u8,
    /// `tessera_abi::vm::intercept` kind.
    pub kind: u64,
    /// Parameter word ([`crate::route`]).
    pub parameter: u64,
    /// `tessera_abi::vm::state` register mask.
    pub state: u64,
    /// The ports whose writes the kernel posts (`tessera_abi::vm::posted`).
    pub posted: u64,
}

/// A boot module of a Multiboot partition: what its manager passes to the
/// guest as QEMU's `-initrd "FILE ARGS"` would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestModule<'a> {
    /// Index in the module section.
    pub index: u16,
    /// Index of the partition (a Multiboot one).
    pub partition: u16,
    /// Index of the image that holds the module's bytes ([`BootPlan::image`],
    /// kind [`ImageKind::GuestModule`]).
    pub image: u16,
    /// The module's command line: printable ASCII, at most
    /// [`crate::MAX_GUEST_CMDLINE`] bytes.
    pub cmdline: &'a str,
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
        kind: ImageKind::from_u8(record.kind).unwrap_or(ImageKind::Component),
    }
}

pub(super) fn partition_view<'a>(
    index: u16,
    record: &'a PartitionRecord,
    cmdline: &'a [u8],
) -> Partition<'a> {
    let vps = usize::from(record.vp_count).min(record.vp_cpus.len());
    Partition {
        index,
        name: checked_name(&record.name),
        manager: record.manager.get(),
        image: record.image.get(),
        format: GuestFormat::from_u8(record.format).unwrap_or(GuestFormat::Elf64),
        expect: Expectation::from_u8(record.expect).unwrap_or(Expectation::Pass),
        priority: record.priority,
        memory: record.memory.get(),
        badge: record.badge.get(),
        cmdline: core::str::from_utf8(cmdline).unwrap_or(""),
        vp_cpus: &record.vp_cpus[..vps],
        hv1: (record.hv1 != 0).then(|| record.hv1_words.map(|w| w.get())),
        apic: crate::manager::ApicKind::from_u8(record.apic).unwrap_or_default(),
        // Checked when the plan was parsed.
        synic: crate::synic::SynicLinks::from_record(&record.synic, record.vp_count)
            .unwrap_or_default(),
    }
}

pub(super) fn module_view<'a>(
    index: u16,
    record: &ModuleRecord,
    cmdline: &'a [u8],
) -> GuestModule<'a> {
    GuestModule {
        index,
        partition: record.partition.get(),
        image: record.image.get(),
        cmdline: core::str::from_utf8(cmdline).unwrap_or(""),
    }
}

pub(super) fn route_view(index: u16, record: &RouteRecord) -> Route {
    Route {
        index,
        partition: record.partition.get(),
        target: record.target.get(),
        slot: record.slot,
        kind: record.kind.get(),
        parameter: record.parameter.get(),
        state: record.state.get(),
        posted: u64::from(record.posted.get()),
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
const _: () = assert!(MAX_PARTITIONS <= u16::MAX as u32);
const _: () = assert!(MAX_ROUTES <= u16::MAX as u32);
const _: () = assert!(MAX_MODULE_RECORDS <= u16::MAX as u32);
