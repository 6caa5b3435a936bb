//! What a checked plan hands out.

use super::BootPlan;
use super::header::PlanHeader;
use super::views::{
    component_view, endpoint_view, grant_view, image_view, module_view, partition_view, route_view,
};
use super::{Component, Endpoint, Grant, GuestModule, Image, Partition, Route};
use crate::layout::{
    ComponentRecord, EndpointRecord, GrantRecord, Header, ImageRecord, ModuleRecord,
    PartitionRecord, RouteRecord,
};

impl<'a> BootPlan<'a> {
    /// The header's fields ([`PlanHeader`]).
    pub fn summary(&self) -> PlanHeader<'a> {
        PlanHeader::of(self.header)
    }

    /// Format version of the plan.
    pub fn version(&self) -> u16 {
        self.summary().version()
    }

    /// Deployment name.
    pub fn name(&self) -> &'a str {
        self.summary().name()
    }

    /// CPUs the deployment expects, `1..=64`.
    pub fn cpu_count(&self) -> u16 {
        self.summary().cpu_count()
    }

    /// Multiboot modules the deployment expects, the plan included.
    pub fn module_count(&self) -> u16 {
        self.summary().module_count()
    }

    /// Budget for all component quotas together, bytes (the quotas fit in it).
    pub fn component_memory(&self) -> u64 {
        self.summary().component_memory()
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

    /// Number of partitions.
    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    /// Number of routes.
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// Partition `index`, if it exists.
    pub fn partition(&self, index: u16) -> Option<Partition<'a>> {
        let record = self.partitions.get(usize::from(index))?;
        Some(partition_view(
            index,
            record,
            self.cmdline_bytes(record).unwrap_or(&[]),
        ))
    }

    /// Route `index`, if it exists.
    pub fn route(&self, index: u16) -> Option<Route> {
        let record = self.routes.get(usize::from(index))?;
        Some(route_view(index, record))
    }

    /// All partitions, in order.
    pub fn partitions(&self) -> impl ExactSizeIterator<Item = Partition<'a>> + use<'a> {
        let plan = *self;
        let records: &'a [PartitionRecord] = self.partitions;
        records
            .iter()
            .enumerate()
            .map(move |(i, r)| partition_view(i as u16, r, plan.cmdline_bytes(r).unwrap_or(&[])))
    }

    /// All routes, in order.
    pub fn routes(&self) -> impl ExactSizeIterator<Item = Route> + use<'a> {
        let records: &'a [RouteRecord] = self.routes;
        records
            .iter()
            .enumerate()
            .map(|(i, r)| route_view(i as u16, r))
    }

    /// The partitions component `manager` creates (none: it manages none).
    pub fn partitions_of(&self, manager: u16) -> impl Iterator<Item = Partition<'a>> + use<'a> {
        self.partitions().filter(move |p| p.manager == manager)
    }

    /// The routes of partition `partition`.
    pub fn routes_of(&self, partition: u16) -> impl Iterator<Item = Route> + use<'a> {
        self.routes().filter(move |r| r.partition == partition)
    }

    /// Number of guest modules (module records), over all partitions.
    pub fn guest_module_count(&self) -> usize {
        self.modules.len()
    }

    /// Guest module `index`, if it exists.
    pub fn guest_module(&self, index: u16) -> Option<GuestModule<'a>> {
        let record = self.modules.get(usize::from(index))?;
        Some(module_view(
            index,
            record,
            self.module_cmdline_bytes(record).unwrap_or(&[]),
        ))
    }

    /// All guest modules, in order.
    pub fn guest_modules(&self) -> impl ExactSizeIterator<Item = GuestModule<'a>> + use<'a> {
        let plan = *self;
        let records: &'a [ModuleRecord] = self.modules;
        records.iter().enumerate().map(move |(i, r)| {
            module_view(i as u16, r, plan.module_cmdline_bytes(r).unwrap_or(&[]))
        })
    }

    /// The boot modules of partition `partition`, in order (none for an
    /// ELF64 partition).
    pub fn guest_modules_of(
        &self,
        partition: u16,
    ) -> impl Iterator<Item = GuestModule<'a>> + use<'a> {
        self.guest_modules()
            .filter(move |m| m.partition == partition)
    }

    /// Whether component `component` manages any partition.
    pub fn is_manager(&self, component: u16) -> bool {
        self.partitions.iter().any(|p| p.manager.get() == component)
    }
}
