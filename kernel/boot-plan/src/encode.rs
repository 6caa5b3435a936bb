//! The encoder (feature `encode`): an owned model of a plan, and its bytes.

use alloc::string::String;
use alloc::vec::Vec;

use zerocopy::IntoBytes;
use zerocopy::little_endian::{U16, U32, U64};

use crate::layout::{
    ComponentRecord, EndpointRecord, GrantRecord, Header, ImageRecord, SectionRef,
};
use crate::{
    BootPlan, CHECKSUM_START, EndpointKind, FORMAT_VERSION, GrantKind, HEADER_SIZE, MAGIC,
    NAME_FIELD, NO_TARGET, Rights, checksum,
};

/// Everything a plan says, as owned values. [`encode`] writes it,
/// [`BootPlan::to_model`] reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanModel {
    /// Deployment name.
    pub name: String,
    /// CPUs the deployment expects.
    pub cpu_count: u16,
    /// Multiboot modules the deployment expects, the plan included.
    pub module_count: u16,
    /// Budget for all component quotas together, bytes.
    pub component_memory: u64,
    /// Component images.
    pub images: Vec<ImageModel>,
    /// Components.
    pub components: Vec<ComponentModel>,
    /// Endpoints and notifications.
    pub endpoints: Vec<EndpointModel>,
    /// Capabilities granted to components.
    pub grants: Vec<GrantModel>,
}

/// See [`crate::Image`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageModel {
    /// Image name.
    pub name: String,
    /// Multiboot module index.
    pub module: u16,
}

/// See [`crate::Component`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentModel {
    /// Component name.
    pub name: String,
    /// Index into [`PlanModel::images`].
    pub image: u16,
    /// Memory quota, bytes.
    pub memory: u64,
    /// Thread count.
    pub threads: u16,
    /// Priority, higher is more important.
    pub priority: u8,
    /// CPU mask.
    pub affinity: u64,
}

/// See [`crate::Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointModel {
    /// Endpoint name.
    pub name: String,
    /// Index into [`PlanModel::components`].
    pub owner: u16,
    /// IPC endpoint or notification.
    pub kind: EndpointKind,
    /// Slot of the owner's receive/wait capability.
    pub slot: u8,
}

/// See [`crate::Grant`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantModel {
    /// Index into [`PlanModel::components`].
    pub holder: u16,
    /// What the capability is.
    pub kind: GrantKind,
    /// Slot in the holder's capability space.
    pub slot: u8,
    /// Index into [`PlanModel::endpoints`], `None` for console.
    pub target: Option<u16>,
    /// Rights.
    pub rights: Rights,
    /// Badge.
    pub badge: u64,
}

fn name_field(name: &str) -> [u8; NAME_FIELD] {
    let mut field = [0; NAME_FIELD];
    for (dst, src) in field.iter_mut().zip(name.bytes()) {
        *dst = src;
    }
    field
}

fn u32_of(value: usize) -> U32 {
    U32::new(u32::try_from(value).unwrap_or(u32::MAX))
}

/// Writes `model` as a format-version-1 plan: header, then the image,
/// component, endpoint and grant sections back to back (each record size is
/// a multiple of 8, so every section stays 8-aligned).
///
/// The encoder is faithful, not a validator: a model that breaks a rule
/// (say a 40-byte name, which is cut to the 32-byte field, or an index out of
/// range) gives bytes that [`BootPlan::parse`] rejects. The manifest compiler
/// validates first, and parses its own output in its tests.
pub fn encode(model: &PlanModel) -> Vec<u8> {
    let images: Vec<ImageRecord> = model
        .images
        .iter()
        .map(|image| ImageRecord {
            name: name_field(&image.name),
            module: U16::new(image.module),
            reserved: [0; 6],
        })
        .collect();
    let components: Vec<ComponentRecord> = model
        .components
        .iter()
        .map(|c| ComponentRecord {
            name: name_field(&c.name),
            image: U16::new(c.image),
            threads: U16::new(c.threads),
            priority: c.priority,
            reserved: [0; 3],
            memory: U64::new(c.memory),
            affinity: U64::new(c.affinity),
        })
        .collect();
    let endpoints: Vec<EndpointRecord> = model
        .endpoints
        .iter()
        .map(|e| EndpointRecord {
            name: name_field(&e.name),
            owner: U16::new(e.owner),
            kind: e.kind as u8,
            slot: e.slot,
            reserved: [0; 4],
        })
        .collect();
    let grants: Vec<GrantRecord> = model
        .grants
        .iter()
        .map(|g| GrantRecord {
            holder: U16::new(g.holder),
            kind: g.kind as u8,
            slot: g.slot,
            target: U16::new(g.target.unwrap_or(NO_TARGET)),
            rights: U16::new(g.rights.bits()),
            badge: U64::new(g.badge),
        })
        .collect();

    let mut offset = HEADER_SIZE;
    let mut place = |bytes: usize, count: usize| {
        let sref = SectionRef {
            offset: u32_of(offset),
            count: u32_of(count),
        };
        offset += bytes;
        sref
    };
    let images_ref = place(images.as_bytes().len(), images.len());
    let components_ref = place(components.as_bytes().len(), components.len());
    let endpoints_ref = place(endpoints.as_bytes().len(), endpoints.len());
    let grants_ref = place(grants.as_bytes().len(), grants.len());
    let total = offset;

    let header = Header {
        magic: MAGIC,
        version: U16::new(FORMAT_VERSION),
        header_size: U16::new(HEADER_SIZE as u16),
        total_size: u32_of(total),
        checksum: U32::new(0),
        flags: U32::new(0),
        cpu_count: U16::new(model.cpu_count),
        module_count: U16::new(model.module_count),
        component_memory: U64::new(model.component_memory),
        name: name_field(&model.name),
        images: images_ref,
        components: components_ref,
        endpoints: endpoints_ref,
        grants: grants_ref,
    };

    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(images.as_bytes());
    out.extend_from_slice(components.as_bytes());
    out.extend_from_slice(endpoints.as_bytes());
    out.extend_from_slice(grants.as_bytes());
    seal(&mut out);
    out
}

/// Recomputes the checksum field of an encoded plan (tests corrupt plans
/// and reseal them to reach the checks behind the checksum).
pub(crate) fn seal(plan: &mut [u8]) {
    if plan.len() < HEADER_SIZE {
        return;
    }
    let sum = checksum(&plan[CHECKSUM_START..]);
    plan[CHECKSUM_START - 4..CHECKSUM_START].copy_from_slice(&sum.to_le_bytes());
}

impl BootPlan<'_> {
    /// The plan as an owned model (`encode(&plan.to_model())` gives the same
    /// bytes back for any plan [`encode`] wrote).
    pub fn to_model(&self) -> PlanModel {
        PlanModel {
            name: self.name().into(),
            cpu_count: self.cpu_count(),
            module_count: self.module_count(),
            component_memory: self.component_memory(),
            images: self
                .images()
                .map(|i| ImageModel {
                    name: i.name.into(),
                    module: i.module,
                })
                .collect(),
            components: self
                .components()
                .map(|c| ComponentModel {
                    name: c.name.into(),
                    image: c.image,
                    memory: c.memory,
                    threads: c.threads,
                    priority: c.priority,
                    affinity: c.affinity,
                })
                .collect(),
            endpoints: self
                .endpoints()
                .map(|e| EndpointModel {
                    name: e.name.into(),
                    owner: e.owner,
                    kind: e.kind,
                    slot: e.slot,
                })
                .collect(),
            grants: self
                .grants()
                .map(|g| GrantModel {
                    holder: g.holder,
                    kind: g.kind,
                    slot: g.slot,
                    target: g.target,
                    rights: g.rights,
                    badge: g.badge,
                })
                .collect(),
        }
    }
}
