//! The decoder: checks everything, then hands out decoded views.

use zerocopy::FromBytes;

use crate::layout::{
    COMPONENT_SIZE, ComponentRecord, ENDPOINT_SIZE, EndpointRecord, GRANT_SIZE, GrantRecord,
    Header, IMAGE_SIZE, ImageRecord, SectionRef,
};
use crate::{
    CHECKSUM_START, CSPACE_SLOTS, EndpointKind, FIRST_FREE_SLOT, FORMAT_VERSION, GrantKind,
    HEADER_SIZE, MAGIC, MAX_COMPONENTS, MAX_CPUS, MAX_ENDPOINTS, MAX_GRANTS, MAX_IMAGES,
    MAX_MODULES, MAX_THREADS, NAME_FIELD, NO_TARGET, PAGE_SIZE, PLAN_MODULE, PlanError, Rights,
    SLOT_CONSOLE, Section, checksum, is_valid_name,
};

/// A checked boot plan, borrowing the module's bytes.
///
/// Only [`BootPlan::parse`] makes one, so every view it hands out satisfies
/// the guarantees listed in the crate documentation.
#[derive(Debug, Clone, Copy)]
pub struct BootPlan<'a> {
    header: &'a Header,
    images: &'a [ImageRecord],
    components: &'a [ComponentRecord],
    endpoints: &'a [EndpointRecord],
    grants: &'a [GrantRecord],
}

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

/// The name in a NUL-padded field, if it is a valid name.
fn name_of(field: &[u8; NAME_FIELD]) -> Option<&str> {
    let len = field.iter().position(|&b| b == 0)?;
    let (name, padding) = field.split_at(len);
    if !is_valid_name(name) || padding.iter().any(|&b| b != 0) {
        return None;
    }
    core::str::from_utf8(name).ok()
}

/// The name of a field already checked by `parse`.
fn checked_name(field: &[u8; NAME_FIELD]) -> &str {
    name_of(field).unwrap_or("")
}

fn idx(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Locates one section: in order, 8-aligned, within the plan.
fn section<'a, T: FromBytes + zerocopy::KnownLayout + zerocopy::Immutable>(
    bytes: &'a [u8],
    which: Section,
    sref: &SectionRef,
    record_size: usize,
    max: u32,
    previous_end: &mut u64,
    total: u64,
) -> Result<&'a [T], PlanError> {
    let count = sref.count.get();
    if count > max {
        return Err(PlanError::TooManyRecords {
            section: which,
            count,
            max,
        });
    }
    let offset = u64::from(sref.offset.get());
    let end = offset + u64::from(count) * record_size as u64;
    if !offset.is_multiple_of(8) || offset < *previous_end || end > total {
        return Err(PlanError::BadSection { section: which });
    }
    *previous_end = end;
    let bad = PlanError::BadSection { section: which };
    let start = usize::try_from(offset).map_err(|_| bad)?;
    let end = usize::try_from(end).map_err(|_| bad)?;
    let raw = bytes.get(start..end).ok_or(bad)?;
    <[T]>::ref_from_bytes(raw).map_err(|_| bad)
}

impl<'a> BootPlan<'a> {
    /// Checks `bytes` (the whole module, exactly `total_size` long) and
    /// returns the plan. Never panics; see the crate documentation for what
    /// is checked.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, PlanError> {
        // Framing. Magic and version first: on a short or foreign blob they
        // say more than "truncated".
        if let Some(magic) = bytes.get(..4)
            && magic != MAGIC
        {
            return Err(PlanError::BadMagic);
        }
        if let Some(&[lo, hi]) = bytes.get(4..6) {
            let found = u16::from_le_bytes([lo, hi]);
            if found != FORMAT_VERSION {
                return Err(PlanError::UnsupportedVersion { found });
            }
        }
        let (header, _) = Header::ref_from_prefix(bytes).map_err(|_| PlanError::Truncated {
            needed: HEADER_SIZE,
            actual: bytes.len(),
        })?;
        if usize::from(header.header_size.get()) != HEADER_SIZE {
            return Err(PlanError::BadHeaderSize {
                found: header.header_size.get(),
            });
        }
        let total = usize::try_from(header.total_size.get()).unwrap_or(usize::MAX);
        if bytes.len() < total {
            return Err(PlanError::Truncated {
                needed: total,
                actual: bytes.len(),
            });
        }
        if bytes.len() > total {
            return Err(PlanError::TrailingBytes {
                expected: total,
                actual: bytes.len(),
            });
        }
        let computed = checksum(bytes.get(CHECKSUM_START..).unwrap_or(&[]));
        if computed != header.checksum.get() {
            return Err(PlanError::BadChecksum {
                stored: header.checksum.get(),
                computed,
            });
        }
        if header.flags.get() != 0 {
            return Err(PlanError::ReservedNotZero {
                section: Section::Header,
                index: 0,
            });
        }
        let cpu_count = header.cpu_count.get();
        if cpu_count == 0 || cpu_count > MAX_CPUS {
            return Err(PlanError::BadHeaderField { field: "cpu_count" });
        }
        let module_count = header.module_count.get();
        if module_count == 0 || module_count > MAX_MODULES {
            return Err(PlanError::BadHeaderField {
                field: "module_count",
            });
        }
        if name_of(&header.name).is_none() {
            return Err(PlanError::BadName {
                section: Section::Header,
                index: 0,
            });
        }

        let total = total as u64;
        let mut end = HEADER_SIZE as u64;
        let images: &[ImageRecord] = section(
            bytes,
            Section::Images,
            &header.images,
            IMAGE_SIZE,
            MAX_IMAGES,
            &mut end,
            total,
        )?;
        let components: &[ComponentRecord] = section(
            bytes,
            Section::Components,
            &header.components,
            COMPONENT_SIZE,
            MAX_COMPONENTS,
            &mut end,
            total,
        )?;
        let endpoints: &[EndpointRecord] = section(
            bytes,
            Section::Endpoints,
            &header.endpoints,
            ENDPOINT_SIZE,
            MAX_ENDPOINTS,
            &mut end,
            total,
        )?;
        let grants: &[GrantRecord] = section(
            bytes,
            Section::Grants,
            &header.grants,
            GRANT_SIZE,
            MAX_GRANTS,
            &mut end,
            total,
        )?;

        let plan = Self {
            header,
            images,
            components,
            endpoints,
            grants,
        };
        plan.check_images()?;
        plan.check_components()?;
        plan.check_capabilities()?;
        Ok(plan)
    }

    fn check_images(&self) -> Result<(), PlanError> {
        let section = Section::Images;
        let modules = self.header.module_count.get();
        for (i, image) in self.images.iter().enumerate() {
            let index = idx(i);
            let name = name_of(&image.name).ok_or(PlanError::BadName { section, index })?;
            if image.reserved != [0; 6] {
                return Err(PlanError::ReservedNotZero { section, index });
            }
            let module = image.module.get();
            if module == PLAN_MODULE || module >= modules {
                return Err(PlanError::IndexOutOfRange {
                    section,
                    index,
                    field: "module",
                });
            }
            for earlier in self.images.iter().take(i) {
                if earlier.module.get() == module {
                    return Err(PlanError::DuplicateModule { index });
                }
                if checked_name(&earlier.name) == name {
                    return Err(PlanError::DuplicateName { section, index });
                }
            }
        }
        Ok(())
    }

    fn check_components(&self) -> Result<(), PlanError> {
        let section = Section::Components;
        let cpu_mask = match self.header.cpu_count.get() {
            n if n >= 64 => u64::MAX,
            n => (1u64 << n) - 1,
        };
        let budget = self.header.component_memory.get();
        let mut total: u64 = 0;
        for (i, component) in self.components.iter().enumerate() {
            let index = idx(i);
            let name = name_of(&component.name).ok_or(PlanError::BadName { section, index })?;
            if component.reserved != [0; 3] {
                return Err(PlanError::ReservedNotZero { section, index });
            }
            if self.images.len() <= usize::from(component.image.get()) {
                return Err(PlanError::IndexOutOfRange {
                    section,
                    index,
                    field: "image",
                });
            }
            let threads = component.threads.get();
            if threads == 0 || threads > MAX_THREADS {
                return Err(PlanError::BadValue {
                    section,
                    index,
                    field: "threads",
                });
            }
            let memory = component.memory.get();
            if memory == 0 || !memory.is_multiple_of(PAGE_SIZE) {
                return Err(PlanError::BadValue {
                    section,
                    index,
                    field: "memory",
                });
            }
            total = total.saturating_add(memory);
            let affinity = component.affinity.get();
            if affinity == 0 || affinity & !cpu_mask != 0 {
                return Err(PlanError::BadValue {
                    section,
                    index,
                    field: "affinity",
                });
            }
            if self
                .components
                .iter()
                .take(i)
                .any(|earlier| checked_name(&earlier.name) == name)
            {
                return Err(PlanError::DuplicateName { section, index });
            }
        }
        if total > budget {
            return Err(PlanError::OverBudget { total, budget });
        }
        Ok(())
    }

    fn check_capabilities(&self) -> Result<(), PlanError> {
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
            if rights.is_empty() || !kind.allowed_rights().contains(rights) {
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
                    if grant.slot != SLOT_CONSOLE {
                        return Err(PlanError::BadSlot {
                            section,
                            index,
                            slot: grant.slot,
                        });
                    }
                    let bit = 1u64 << SLOT_CONSOLE;
                    if used[holder] & bit != 0 {
                        return Err(PlanError::BadSlot {
                            section,
                            index,
                            slot: grant.slot,
                        });
                    }
                    used[holder] |= bit;
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

    /// Format version of the plan.
    pub fn version(&self) -> u16 {
        self.header.version.get()
    }

    /// Deployment name.
    pub fn name(&self) -> &'a str {
        checked_name(&self.header.name)
    }

    /// CPUs the deployment expects, `1..=64`.
    pub fn cpu_count(&self) -> u16 {
        self.header.cpu_count.get()
    }

    /// Multiboot modules the deployment expects, the plan included.
    pub fn module_count(&self) -> u16 {
        self.header.module_count.get()
    }

    /// Budget for all component quotas together, bytes (the quotas fit in it).
    pub fn component_memory(&self) -> u64 {
        self.header.component_memory.get()
    }

    /// The raw header.
    pub fn header(&self) -> &'a Header {
        self.header
    }

    /// Number of images.
    pub fn image_count(&self) -> usize {
        self.images.len()
    }

    /// Number of components.
    pub fn component_count(&self) -> usize {
        self.components.len()
    }

    /// Number of endpoints.
    pub fn endpoint_count(&self) -> usize {
        self.endpoints.len()
    }

    /// Number of grants.
    pub fn grant_count(&self) -> usize {
        self.grants.len()
    }

    /// Image `index`, if it exists.
    pub fn image(&self, index: u16) -> Option<Image<'a>> {
        let record = self.images.get(usize::from(index))?;
        Some(image_view(index, record))
    }

    /// Component `index`, if it exists.
    pub fn component(&self, index: u16) -> Option<Component<'a>> {
        let record = self.components.get(usize::from(index))?;
        Some(component_view(index, record))
    }

    /// Endpoint `index`, if it exists.
    pub fn endpoint(&self, index: u16) -> Option<Endpoint<'a>> {
        let record = self.endpoints.get(usize::from(index))?;
        Some(endpoint_view(index, record))
    }

    /// Grant `index`, if it exists.
    pub fn grant(&self, index: u16) -> Option<Grant> {
        let record = self.grants.get(usize::from(index))?;
        Some(grant_view(index, record))
    }

    /// All images, in order.
    pub fn images(&self) -> impl ExactSizeIterator<Item = Image<'a>> + use<'a> {
        let records: &'a [ImageRecord] = self.images;
        records
            .iter()
            .enumerate()
            .map(|(i, r)| image_view(i as u16, r))
    }

    /// All components, in order.
    pub fn components(&self) -> impl ExactSizeIterator<Item = Component<'a>> + use<'a> {
        let records: &'a [ComponentRecord] = self.components;
        records
            .iter()
            .enumerate()
            .map(|(i, r)| component_view(i as u16, r))
    }

    /// All endpoints, in order.
    pub fn endpoints(&self) -> impl ExactSizeIterator<Item = Endpoint<'a>> + use<'a> {
        let records: &'a [EndpointRecord] = self.endpoints;
        records
            .iter()
            .enumerate()
            .map(|(i, r)| endpoint_view(i as u16, r))
    }

    /// All grants, in order.
    pub fn grants(&self) -> impl ExactSizeIterator<Item = Grant> + use<'a> {
        let records: &'a [GrantRecord] = self.grants;
        records
            .iter()
            .enumerate()
            .map(|(i, r)| grant_view(i as u16, r))
    }

    /// The endpoints component `owner` serves (it holds their receive/wait capabilities).
    pub fn endpoints_of(&self, owner: u16) -> impl Iterator<Item = Endpoint<'a>> + use<'a> {
        self.endpoints().filter(move |e| e.owner == owner)
    }

    /// The capabilities granted to component `holder`.
    pub fn grants_of(&self, holder: u16) -> impl Iterator<Item = Grant> + use<'a> {
        self.grants().filter(move |g| g.holder == holder)
    }
}

// Views of records `parse` has checked (counts fit in u16: MAX_GRANTS < 65536).

fn image_view(index: u16, record: &ImageRecord) -> Image<'_> {
    Image {
        index,
        name: checked_name(&record.name),
        module: record.module.get(),
    }
}

fn component_view(index: u16, record: &ComponentRecord) -> Component<'_> {
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

fn endpoint_view(index: u16, record: &EndpointRecord) -> Endpoint<'_> {
    Endpoint {
        index,
        name: checked_name(&record.name),
        owner: record.owner.get(),
        kind: EndpointKind::from_u8(record.kind).unwrap_or(EndpointKind::Ipc),
        slot: record.slot,
    }
}

fn grant_view(index: u16, record: &GrantRecord) -> Grant {
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
