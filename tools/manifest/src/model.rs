//! A validated deployment: what xtask builds and boots, and what the boot
//! plan is compiled from.

use std::path::PathBuf;

use tessera_boot_plan::{
    ComponentModel, EndpointKind, EndpointModel, GrantKind, GrantModel, ImageModel,
    PLAN_MODULE_NAME, PlanModel, Rights, SLOT_CONSOLE, SLOT_VERDICT,
};

/// A deployment that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Deployment name (the manifest's file stem).
    pub name: String,
    /// The manifest it was loaded from.
    pub source: PathBuf,
    /// CPUs the deployment expects (1..=64).
    pub cpus: u16,
    /// Budget for all component quotas together, bytes.
    pub component_memory: u64,
    /// Arguments to append to the kernel command line, if the manifest has any.
    pub kernel_args: Option<String>,
    /// The distinct component images, in module order: image `i` is
    /// Multiboot module `i + 1` (module 0 is the boot plan). Each is the name
    /// of a crate under `components/` whose ELF xtask builds.
    pub images: Vec<String>,
    /// The components, in manifest order (their index in the boot plan).
    pub components: Vec<Component>,
}

/// A component of a [`Deployment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Component name.
    pub name: String,
    /// Its image (crate under `components/`).
    pub image: String,
    /// Memory quota in bytes.
    pub memory: u64,
    /// Priority, higher is more important.
    pub priority: u8,
    /// Thread count.
    pub threads: u16,
    /// CPU mask (bit `n`: may run on CPU `n`).
    pub affinity: u64,
    /// Whether it holds a console capability (in slot 2).
    pub console: bool,
    /// Whether it holds the deployment's verdict capability (in slot 3).
    pub verdict: bool,
    /// The endpoints it serves.
    pub provides: Vec<Endpoint>,
    /// The endpoints of other components it holds capabilities to.
    pub connects: Vec<Connection>,
}

/// An endpoint a component serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Endpoint name.
    pub name: String,
    /// IPC endpoint or notification.
    pub kind: EndpointKind,
    /// Slot of the server's receive/wait capability.
    pub slot: u8,
}

/// A capability to another component's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The component that serves the endpoint.
    pub server: String,
    /// The endpoint's name within `server`.
    pub endpoint: String,
    /// Call (IPC endpoint) or signal (notification).
    pub kind: GrantKind,
    /// Slot the capability lands in.
    pub slot: u8,
    /// Rights it carries.
    pub rights: Rights,
    /// Badge the server sees.
    pub badge: u64,
}

/// What a Multiboot module holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    /// The compiled boot plan ([`crate::compile`]).
    BootPlan,
    /// The ELF of the component crate of the same name.
    ComponentImage,
}

/// A Multiboot module GRUB must load, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootModule {
    /// Module string and file name under `/boot/`: [`PLAN_MODULE_NAME`] for
    /// the plan, the crate name for an image.
    pub name: String,
    /// What it is.
    pub kind: ModuleKind,
}

impl Deployment {
    /// The Multiboot modules, in the order GRUB must pass them: the boot plan
    /// first, then [`Deployment::images`].
    pub fn modules(&self) -> Vec<BootModule> {
        let plan = BootModule {
            name: PLAN_MODULE_NAME.into(),
            kind: ModuleKind::BootPlan,
        };
        std::iter::once(plan)
            .chain(self.images.iter().map(|image| BootModule {
                name: image.clone(),
                kind: ModuleKind::ComponentImage,
            }))
            .collect()
    }

    /// The component called `name`.
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    /// The boot plan as a model (what [`crate::compile`] encodes).
    pub fn plan_model(&self) -> PlanModel {
        let index_of = |name: &str| {
            self.components
                .iter()
                .position(|c| c.name == name)
                .map_or(u16::MAX, |i| i as u16)
        };
        let image_of = |name: &str| {
            self.images
                .iter()
                .position(|i| i == name)
                .map_or(u16::MAX, |i| i as u16)
        };
        let mut endpoints = Vec::new();
        for (owner, component) in self.components.iter().enumerate() {
            for endpoint in &component.provides {
                endpoints.push(EndpointModel {
                    name: endpoint.name.clone(),
                    owner: owner as u16,
                    kind: endpoint.kind,
                    slot: endpoint.slot,
                });
            }
        }
        let endpoint_of = |server: &str, name: &str| {
            let owner = index_of(server);
            endpoints
                .iter()
                .position(|e| e.owner == owner && e.name == name)
                .map_or(u16::MAX, |i| i as u16)
        };
        let mut grants = Vec::new();
        for (holder, component) in self.components.iter().enumerate() {
            if component.console {
                grants.push(GrantModel {
                    holder: holder as u16,
                    kind: GrantKind::Console,
                    slot: SLOT_CONSOLE,
                    target: None,
                    rights: Rights::WRITE,
                    badge: 0,
                });
            }
            if component.verdict {
                grants.push(GrantModel {
                    holder: holder as u16,
                    kind: GrantKind::Verdict,
                    slot: SLOT_VERDICT,
                    target: None,
                    rights: Rights::NONE,
                    badge: 0,
                });
            }
            for connection in &component.connects {
                grants.push(GrantModel {
                    holder: holder as u16,
                    kind: connection.kind,
                    slot: connection.slot,
                    target: Some(endpoint_of(&connection.server, &connection.endpoint)),
                    rights: connection.rights,
                    badge: connection.badge,
                });
            }
        }
        PlanModel {
            name: self.name.clone(),
            cpu_count: self.cpus,
            module_count: self.images.len() as u16 + 1,
            component_memory: self.component_memory,
            images: self
                .images
                .iter()
                .enumerate()
                .map(|(i, name)| ImageModel {
                    name: name.clone(),
                    module: i as u16 + 1,
                })
                .collect(),
            components: self
                .components
                .iter()
                .map(|c| ComponentModel {
                    name: c.name.clone(),
                    image: image_of(&c.image),
                    memory: c.memory,
                    threads: c.threads,
                    priority: c.priority,
                    affinity: c.affinity,
                })
                .collect(),
            endpoints,
            grants,
        }
    }
}
