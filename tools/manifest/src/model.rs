//! A validated deployment: what xtask builds and boots, and what the boot
//! plan is compiled from.

use std::path::PathBuf;

use tessera_boot_plan::{
    ComponentModel, EndpointKind, EndpointModel, Expectation, GrantKind, GrantModel, GuestFormat,
    ImageKind, ImageModel, ModuleModel, PLAN_MODULE_NAME, PartitionModel, PlanModel, Rights,
    RouteModel, SLOT_CONSOLE, SLOT_VERDICT,
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
    /// The distinct guest images, in module order after the component
    /// images: guest image `j` is Multiboot module `images.len() + j + 1`.
    /// Each is the name of a crate under `test-guests/` that xtask builds,
    /// or the name (`image-1`, ...) of a file in [`Deployment::guest_files`].
    pub guest_images: Vec<String>,
    /// The guest images that are files (a partition `image` with a `/` or
    /// a `.`, relative to the manifest), passed as they are.
    pub guest_files: Vec<ModuleFile>,
    /// The distinct files the partitions pass as boot modules, in module
    /// order after the guest images: file `k` is Multiboot module
    /// `images.len() + guest_images.len() + k + 1`.
    pub module_files: Vec<ModuleFile>,
    /// The components, in manifest order (their index in the boot plan).
    pub components: Vec<Component>,
    /// The partitions, in manifest order.
    pub partitions: Vec<Partition>,
}

/// A partition (guest) of a [`Deployment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Partition name.
    pub name: String,
    /// The component that creates and owns it.
    pub manager: String,
    /// Its guest image's module name: a crate under `test-guests/`, or the
    /// name of a file of [`Deployment::guest_files`].
    pub image: String,
    /// The guest image file, if `image` names one (else a crate).
    pub image_file: Option<PathBuf>,
    /// How the image is loaded.
    pub format: GuestFormat,
    /// Command line (Multiboot only; else empty).
    pub cmdline: String,
    /// Guest memory at GPA 0, bytes.
    pub memory: u64,
    /// Host CPU of each VP (the VP count is its length).
    pub vp_cpus: Vec<u8>,
    /// Priority of its VP threads.
    pub priority: u8,
    /// What the test expects of it.
    pub expect: Expectation,
    /// Its number, from 1 in manifest order over the deployment: the badge
    /// of its route capabilities.
    pub badge: u64,
    /// Its routes, in manifest order.
    pub routes: Vec<Route>,
    /// Its `hv` names as written (trimmed), or `None` for no Hv#1
    /// interface.
    pub hv: Option<Vec<String>>,
    /// The Hv#1 configuration they make (`Hv1Config::to_words`: the words
    /// of `PartitionSetHv1`), or `None`.
    pub hv1: Option<[u64; tessera_boot_plan::HV1_WORDS]>,
    /// Its VPs' local APIC (`apic`).
    pub apic: tessera_boot_plan::manager::ApicKind,
    /// Its boot modules (Multiboot only), in order.
    pub modules: Vec<GuestModule>,
    /// Its interrupt lines: capabilities to its interrupt controller.
    pub lines: Vec<Line>,
    /// Its SynIC ports and connections (`ports`, `connections`).
    pub synic: tessera_boot_plan::synic::SynicLinks,
}

/// An interrupt line of a [`Partition`]: `holder` drives pin `pin` of the
/// partition's interrupt controller (the server of its `eoi` route)
/// through a capability in `slot`, badged `badge`
/// (`tessera_abi::vm::interrupt::line_badge`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub pin: u8,
    pub holder: String,
    pub slot: u8,
    pub badge: u64,
    /// The controller's component and endpoint.
    pub server: String,
    pub endpoint: String,
}

/// A boot module of a Multiboot [`Partition`] (what QEMU's
/// `-initrd "FILE ARGS"` gives the guest), or the initrd of a Linux one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestModule {
    /// The file, as the manifest writes it (a Multiboot module relative to
    /// the repository root, a Linux initrd relative to the manifest).
    pub file: String,
    /// The file on the host.
    pub path: PathBuf,
    /// The module's command line (printable ASCII; may be empty; empty for
    /// an initrd).
    pub cmdline: String,
}

/// A file that partitions pass as a boot module: one Multiboot module of the
/// deployment, shared by every partition module of the same file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFile {
    /// Its module string and file name under `/boot/` (`module-1`,
    /// `module-2`, ..., skipping names the images use).
    pub name: String,
    /// The file, as the manifest first writes it (relative to the
    /// repository root, or to the manifest for a Linux initrd).
    pub file: String,
    /// The file on the host.
    pub path: PathBuf,
}

/// A route of a [`Partition`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `tessera_abi::vm::intercept` kind.
    pub kind: u64,
    /// Its parameter word (`tessera_boot_plan::route`).
    pub parameter: u64,
    /// The component serving the target endpoint.
    pub server: String,
    /// The endpoint's name within `server`.
    pub endpoint: String,
    /// `tessera_abi::vm::state` register mask.
    pub state: u64,
    /// The ports whose writes the kernel posts (`tessera_abi::vm::posted`).
    pub posted: u32,
    /// The manager's slot of the route capability (shared by the routes of
    /// one partition to one endpoint).
    pub slot: u8,
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
    /// Whether its console capability (slot 2) reads the console's input
    /// (the READ right).
    pub console_input: bool,
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
    /// The image of the test-guest crate of the same name, or a guest
    /// image file ([`BootModule::source`]).
    GuestImage,
    /// A file a partition passes to its Multiboot guest as a boot module
    /// (passed as it is: [`BootModule::source`]).
    GuestModule,
}

/// A Multiboot module GRUB must load, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootModule {
    /// Module string and file name under `/boot/`: [`PLAN_MODULE_NAME`] for
    /// the plan, the crate name for an image.
    pub name: String,
    /// What it is.
    pub kind: ModuleKind,
    /// The file on the host, for a [`ModuleKind::GuestModule`] or a guest
    /// image file; `None` for what xtask writes or builds (the plan, the
    /// component images and the test-guest crates).
    pub source: Option<PathBuf>,
}

impl Deployment {
    /// The Multiboot modules, in the order GRUB must pass them: the boot plan
    /// first, then [`Deployment::images`], then [`Deployment::guest_images`],
    /// then [`Deployment::module_files`].
    pub fn modules(&self) -> Vec<BootModule> {
        let plan = BootModule {
            name: PLAN_MODULE_NAME.into(),
            kind: ModuleKind::BootPlan,
            source: None,
        };
        std::iter::once(plan)
            .chain(self.images.iter().map(|image| BootModule {
                name: image.clone(),
                kind: ModuleKind::ComponentImage,
                source: None,
            }))
            .chain(self.guest_images.iter().map(|image| {
                BootModule {
                    name: image.clone(),
                    kind: ModuleKind::GuestImage,
                    source: self
                        .guest_files
                        .iter()
                        .find(|file| &file.name == image)
                        .map(|file| file.path.clone()),
                }
            }))
            .chain(self.module_files.iter().map(|file| BootModule {
                name: file.name.clone(),
                kind: ModuleKind::GuestModule,
                source: Some(file.path.clone()),
            }))
            .collect()
    }

    /// The guest images that are test-guest crates (for xtask to build).
    pub fn guest_crates(&self) -> Vec<String> {
        self.guest_images
            .iter()
            .filter(|image| !self.guest_files.iter().any(|f| &f.name == *image))
            .cloned()
            .collect()
    }

    /// The module file a partition module's `file` names.
    pub fn module_file(&self, file: &str) -> Option<&ModuleFile> {
        self.module_files.iter().find(|f| f.file == file)
    }

    /// The partition called `name`.
    pub fn partition(&self, name: &str) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.name == name)
    }

    /// The partitions component `manager` creates.
    pub fn partitions_of<'a>(&'a self, manager: &'a str) -> impl Iterator<Item = &'a Partition> {
        self.partitions.iter().filter(move |p| p.manager == manager)
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
            if component.console || component.console_input {
                let write = if component.console {
                    Rights::WRITE
                } else {
                    Rights::NONE
                };
                let read = if component.console_input {
                    Rights::READ
                } else {
                    Rights::NONE
                };
                grants.push(GrantModel {
                    holder: holder as u16,
                    kind: GrantKind::Console,
                    slot: SLOT_CONSOLE,
                    target: None,
                    rights: Rights(write.0 | read.0),
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
            let lines = self
                .partitions
                .iter()
                .flat_map(|p| &p.lines)
                .filter(|line| line.holder == component.name);
            for line in lines {
                grants.push(GrantModel {
                    holder: holder as u16,
                    kind: GrantKind::Call,
                    slot: line.slot,
                    target: Some(endpoint_of(&line.server, &line.endpoint)),
                    rights: Rights::CALL,
                    badge: line.badge,
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
        let guest_image_of = |name: &str| {
            self.guest_images
                .iter()
                .position(|i| i == name)
                .map_or(u16::MAX, |i| (self.images.len() + i) as u16)
        };
        let mut routes = Vec::new();
        for (p, partition) in self.partitions.iter().enumerate() {
            for route in &partition.routes {
                routes.push(RouteModel {
                    partition: p as u16,
                    target: endpoint_of(&route.server, &route.endpoint),
                    slot: route.slot,
                    kind: route.kind,
                    parameter: route.parameter,
                    state: route.state,
                    posted: route.posted,
                });
            }
        }
        let partitions = self
            .partitions
            .iter()
            .map(|p| PartitionModel {
                name: p.name.clone(),
                manager: index_of(&p.manager),
                image: guest_image_of(&p.image),
                format: p.format,
                expect: p.expect,
                priority: p.priority,
                memory: p.memory,
                badge: p.badge,
                cmdline: p.cmdline.clone(),
                vp_cpus: p.vp_cpus.clone(),
                hv1: p.hv1,
                apic: p.apic,
                synic: p.synic,
            })
            .collect();
        let first_file = self.images.len() + self.guest_images.len();
        let module_file_of = |path: &std::path::Path| {
            self.module_files
                .iter()
                .position(|f| f.path == path)
                .map_or(u16::MAX, |k| (first_file + k) as u16)
        };
        let modules = self
            .partitions
            .iter()
            .enumerate()
            .flat_map(|(p, partition)| {
                partition.modules.iter().map(move |m| ModuleModel {
                    partition: p as u16,
                    image: module_file_of(&m.path),
                    cmdline: m.cmdline.clone(),
                })
            })
            .collect();
        let image_models = self
            .images
            .iter()
            .map(|name| (name, ImageKind::Component))
            .chain(
                self.guest_images
                    .iter()
                    .map(|name| (name, ImageKind::Guest)),
            )
            .chain(
                self.module_files
                    .iter()
                    .map(|file| (&file.name, ImageKind::GuestModule)),
            )
            .enumerate()
            .map(|(i, (name, kind))| ImageModel {
                name: name.clone(),
                module: i as u16 + 1,
                kind,
            })
            .collect();
        PlanModel {
            name: self.name.clone(),
            cpu_count: self.cpus,
            module_count: (self.images.len() + self.guest_images.len() + self.module_files.len())
                as u16
                + 1,
            component_memory: self.component_memory,
            images: image_models,
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
            partitions,
            routes,
            modules,
        }
    }
}
