//! The encoder (feature `encode`): an owned model of a plan, and its bytes.

use alloc::string::String;
use alloc::vec::Vec;

use zerocopy::IntoBytes;
use zerocopy::little_endian::{U16, U32, U64};

use crate::layout::{
    ComponentRecord, EndpointRecord, GrantRecord, Header, ImageRecord, ModuleRecord,
    PartitionRecord, RouteRecord, SectionRef,
};
use crate::{
    BootPlan, CHECKSUM_START, EndpointKind, Expectation, FORMAT_VERSION, GrantKind, GuestFormat,
    HEADER_SIZE, ImageKind, MAGIC, MAX_VPS, NAME_FIELD, NO_TARGET, Rights, checksum,
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
    /// Component and guest images.
    pub images: Vec<ImageModel>,
    /// Components.
    pub components: Vec<ComponentModel>,
    /// Endpoints and notifications.
    pub endpoints: Vec<EndpointModel>,
    /// Capabilities granted to components.
    pub grants: Vec<GrantModel>,
    /// Partitions (guests).
    pub partitions: Vec<PartitionModel>,
    /// Routes of the partitions' exits.
    pub routes: Vec<RouteModel>,
    /// Boot modules of the Multiboot partitions.
    pub modules: Vec<ModuleModel>,
}

/// See [`crate::Image`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageModel {
    /// Image name.
    pub name: String,
    /// Multiboot module index.
    pub module: u16,
    /// Component ELF or guest image.
    pub kind: ImageKind,
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

/// See [`crate::Partition`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionModel {
    /// Partition name.
    pub name: String,
    /// Index into [`PlanModel::components`] of its manager.
    pub manager: u16,
    /// Index into [`PlanModel::images`] of its guest image.
    pub image: u16,
    /// How its image is loaded.
    pub format: GuestFormat,
    /// How the test expects it to end.
    pub expect: Expectation,
    /// VP thread priority.
    pub priority: u8,
    /// Guest memory, bytes.
    pub memory: u64,
    /// Its number (route badge).
    pub badge: u64,
    /// Command line (Multiboot only).
    pub cmdline: String,
    /// Host CPU of each VP; its length is the VP count.
    pub vp_cpus: Vec<u8>,
    /// Its Hv#1 configuration (`Hv1Config::to_words`), or `None` for no
    /// Hv#1 interface.
    pub hv1: Option<[u64; crate::HV1_WORDS]>,
    /// Its VPs' local APIC.
    pub apic: crate::manager::ApicKind,
    /// Its SynIC ports and connections.
    pub synic: crate::synic::SynicLinks,
}

/// See [`crate::Route`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteModel {
    /// Index into [`PlanModel::partitions`].
    pub partition: u16,
    /// Index into [`PlanModel::endpoints`].
    pub target: u16,
    /// Slot of the route capability in the manager's capability space.
    pub slot: u8,
    /// Intercept kind.
    pub kind: u64,
    /// Parameter word.
    pub parameter: u64,
    /// Register mask.
    pub state: u64,
    /// Posted ports ([`crate::route::posted_valid`]).
    pub posted: u32,
}

/// See [`crate::GuestModule`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleModel {
    /// Index into [`PlanModel::partitions`].
    pub partition: u16,
    /// Index into [`PlanModel::images`] (a guest module).
    pub image: u16,
    /// The module's command line.
    pub cmdline: String,
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

/// Writes `model` as a format-version-4 plan: header, then the image,
/// component, endpoint, grant, partition, route, module and string sections back to
/// back (each record size is a multiple of 8, so every section stays
/// 8-aligned; the string section comes last).
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
            kind: image.kind as u8,
            reserved: [0; 5],
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
    let mut strings: Vec<u8> = Vec::new();
    let partitions: Vec<PartitionRecord> = model
        .partitions
        .iter()
        .map(|p| {
            let cmdline_offset = u32_of(strings.len());
            strings.extend_from_slice(p.cmdline.as_bytes());
            let mut vp_cpus = [0u8; MAX_VPS as usize];
            for (dst, src) in vp_cpus.iter_mut().zip(&p.vp_cpus) {
                *dst = *src;
            }
            PartitionRecord {
                name: name_field(&p.name),
                manager: U16::new(p.manager),
                image: U16::new(p.image),
                format: p.format as u8,
                expect: p.expect as u8,
                priority: p.priority,
                vp_count: u8::try_from(p.vp_cpus.len()).unwrap_or(u8::MAX),
                memory: U64::new(p.memory),
                badge: U64::new(p.badge),
                cmdline_offset,
                cmdline_len: U16::new(u16::try_from(p.cmdline.len()).unwrap_or(u16::MAX)),
                hv1: u8::from(p.hv1.is_some()),
                apic: p.apic as u8,
                vp_cpus,
                hv1_words: p.hv1.unwrap_or_default().map(U64::new),
                synic: p.synic.to_record(),
            }
        })
        .collect();
    let routes: Vec<RouteRecord> = model
        .routes
        .iter()
        .map(|r| RouteRecord {
            partition: U16::new(r.partition),
            target: U16::new(r.target),
            slot: r.slot,
            reserved: [0; 3],
            kind: U64::new(r.kind),
            parameter: U64::new(r.parameter),
            state: U64::new(r.state),
            posted: U32::new(r.posted),
            reserved2: U32::new(0),
        })
        .collect();
    let modules: Vec<ModuleRecord> = model
        .modules
        .iter()
        .map(|m| {
            let cmdline_offset = u32_of(strings.len());
            strings.extend_from_slice(m.cmdline.as_bytes());
            ModuleRecord {
                partition: U16::new(m.partition),
                image: U16::new(m.image),
                cmdline_offset,
                cmdline_len: U16::new(u16::try_from(m.cmdline.len()).unwrap_or(u16::MAX)),
                reserved: [0; 6],
            }
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
    let partitions_ref = place(partitions.as_bytes().len(), partitions.len());
    let routes_ref = place(routes.as_bytes().len(), routes.len());
    let modules_ref = place(modules.as_bytes().len(), modules.len());
    let strings_ref = place(strings.len(), strings.len());
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
        partitions: partitions_ref,
        routes: routes_ref,
        modules: modules_ref,
        strings: strings_ref,
    };

    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(images.as_bytes());
    out.extend_from_slice(components.as_bytes());
    out.extend_from_slice(endpoints.as_bytes());
    out.extend_from_slice(grants.as_bytes());
    out.extend_from_slice(partitions.as_bytes());
    out.extend_from_slice(routes.as_bytes());
    out.extend_from_slice(modules.as_bytes());
    out.extend_from_slice(&strings);
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
                    kind: i.kind,
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
            partitions: self
                .partitions()
                .map(|p| PartitionModel {
                    name: p.name.into(),
                    manager: p.manager,
                    image: p.image,
                    format: p.format,
                    expect: p.expect,
                    priority: p.priority,
                    memory: p.memory,
                    badge: p.badge,
                    cmdline: p.cmdline.into(),
                    vp_cpus: p.vp_cpus.to_vec(),
                    hv1: p.hv1,
                    apic: p.apic,
                    synic: p.synic,
                })
                .collect(),
            routes: self
                .routes()
                .map(|r| RouteModel {
                    partition: r.partition,
                    target: r.target,
                    slot: r.slot,
                    kind: r.kind,
                    parameter: r.parameter,
                    state: r.state,
                    // Validated on parse: a u32 mask.
                    posted: r.posted as u32,
                })
                .collect(),
            modules: self
                .guest_modules()
                .map(|m| ModuleModel {
                    partition: m.partition,
                    image: m.image,
                    cmdline: m.cmdline.into(),
                })
                .collect(),
        }
    }
}
