//! The decoder: checks everything, then hands out decoded views.

mod accessors;
mod capabilities;
mod header;
mod names;
mod partitions;
mod records;
mod sections;
mod views;

use crate::layout::{
    COMPONENT_SIZE, ComponentRecord, ENDPOINT_SIZE, EndpointRecord, GRANT_SIZE, GrantRecord,
    Header, IMAGE_SIZE, ImageRecord, MODULE_SIZE, ModuleRecord, PARTITION_SIZE, PartitionRecord,
    ROUTE_SIZE, RouteRecord,
};
use crate::{
    HEADER_SIZE, MAX_COMPONENTS, MAX_ENDPOINTS, MAX_GRANTS, MAX_IMAGES, MAX_MODULE_RECORDS,
    MAX_PARTITIONS, MAX_ROUTES, MAX_STRINGS, PlanError, Section,
};

use header::check_header;
use sections::section;

pub use header::PlanHeader;
pub(crate) use names::name_of;
pub use views::{Component, Endpoint, Grant, GuestModule, Image, Partition, Route};

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
    partitions: &'a [PartitionRecord],
    routes: &'a [RouteRecord],
    modules: &'a [ModuleRecord],
    strings: &'a [u8],
}

fn idx(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl<'a> BootPlan<'a> {
    /// Checks `bytes` (the whole module, exactly `total_size` long) and
    /// returns the plan. Never panics; see the crate documentation for what
    /// is checked.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, PlanError> {
        let (header, total) = check_header(bytes)?;

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

        let partitions: &[PartitionRecord] = section(
            bytes,
            Section::Partitions,
            &header.partitions,
            PARTITION_SIZE,
            MAX_PARTITIONS,
            &mut end,
            total,
        )?;
        let routes: &[RouteRecord] = section(
            bytes,
            Section::Routes,
            &header.routes,
            ROUTE_SIZE,
            MAX_ROUTES,
            &mut end,
            total,
        )?;
        let modules: &[ModuleRecord] = section(
            bytes,
            Section::Modules,
            &header.modules,
            MODULE_SIZE,
            MAX_MODULE_RECORDS,
            &mut end,
            total,
        )?;
        let strings: &[u8] = section(
            bytes,
            Section::Strings,
            &header.strings,
            1,
            MAX_STRINGS,
            &mut end,
            total,
        )?;

        let plan = Self {
            header,
            images,
            components,
            endpoints,
            grants,
            partitions,
            routes,
            modules,
            strings,
        };
        plan.check_images()?;
        plan.check_components()?;
        plan.check_partitions()?;
        plan.check_modules()?;
        plan.check_capabilities()?;
        Ok(plan)
    }
}
