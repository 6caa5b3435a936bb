//! Why a byte string is not a usable boot plan.

use core::fmt;

/// A part of the plan, for error reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// The header.
    Header,
    /// The image section.
    Images,
    /// The component section.
    Components,
    /// The endpoint section.
    Endpoints,
    /// The grant section.
    Grants,
    /// The partition section.
    Partitions,
    /// The route section.
    Routes,
    /// The module section.
    Modules,
    /// The string section.
    Strings,
}

impl Section {
    /// Lower-case name, as in the documentation.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Images => "images",
            Self::Components => "components",
            Self::Endpoints => "endpoints",
            Self::Grants => "grants",
            Self::Partitions => "partitions",
            Self::Routes => "routes",
            Self::Modules => "modules",
            Self::Strings => "strings",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why [`crate::BootPlan::parse`] refused a plan. Record indices count from 0
/// within their section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanError {
    /// The input ends before `needed` bytes (the header, or `total_size`).
    Truncated { needed: usize, actual: usize },
    /// The input does not start with [`crate::MAGIC`].
    BadMagic,
    /// The format version is not [`crate::FORMAT_VERSION`].
    UnsupportedVersion { found: u16 },
    /// `header_size` is not [`crate::HEADER_SIZE`].
    BadHeaderSize { found: u16 },
    /// The input is longer than `total_size` says.
    TrailingBytes { expected: usize, actual: usize },
    /// The checksum does not match the contents.
    BadChecksum { stored: u32, computed: u32 },
    /// A header field is out of its range (`cpu_count`, `module_count`).
    BadHeaderField { field: &'static str },
    /// A section is misaligned, overlaps the previous one, or ends past the plan.
    BadSection { section: Section },
    /// A section holds more records than the format allows.
    TooManyRecords {
        section: Section,
        count: u32,
        max: u32,
    },
    /// A reserved field (or the header's `flags`) is not zero.
    ReservedNotZero { section: Section, index: u32 },
    /// A name field is not 1..=31 bytes of `[a-z][a-z0-9-]*` with NUL padding.
    BadName { section: Section, index: u32 },
    /// A name repeats an earlier one (per owner, for endpoints).
    DuplicateName { section: Section, index: u32 },
    /// A field that refers to another record or module is out of range.
    IndexOutOfRange {
        section: Section,
        index: u32,
        field: &'static str,
    },
    /// A value is outside what the format allows for its field.
    BadValue {
        section: Section,
        index: u32,
        field: &'static str,
    },
    /// Two images name the same module.
    DuplicateModule { index: u32 },
    /// The component quotas add up to more than `component_memory`.
    OverBudget { total: u64, budget: u64 },
    /// A capability slot is reserved, out of range, or already taken in its component.
    BadSlot {
        section: Section,
        index: u32,
        slot: u8,
    },
    /// A grant's target is not of the kind its grant kind requires.
    KindMismatch { index: u32 },
    /// A grant targets an endpoint of its own holder.
    SelfGrant { index: u32 },
    /// A second verdict grant: at most one component may end the deployment.
    DuplicateVerdict { index: u32 },
    /// A call grant lets a component call one of lower priority.
    PriorityInversion { index: u32 },
    /// Calls between components form a cycle through this component.
    CallCycle { component: u32 },
    /// A manager owns more than [`crate::MAX_PARTITIONS_PER_MANAGER`] partitions.
    TooManyPartitions { component: u32 },
    /// A manager's quota does not cover its partitions
    /// ([`crate::manager_memory_needed`]).
    ManagerOverQuota {
        component: u32,
        needed: u64,
        quota: u64,
    },
    /// A partition's VP priority is above its manager's.
    PartitionPriority { index: u32 },
    /// A route's target has a lower priority than the partition's VPs or
    /// than the manager, which calls it through the route capability.
    RoutePriority { index: u32 },
    /// Two routes of one kind of one partition catch a common exit.
    RouteOverlap { index: u32 },
    /// A partition has no lifecycle route.
    NoLifecycleRoute { partition: u32 },
    /// A route's badge (its partition's) equals a grant's to the same endpoint.
    BadgeCollision { index: u32 },
    /// A partition has more than [`crate::MAX_GUEST_MODULES`] modules.
    TooManyModules { partition: u32 },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { needed, actual } => {
                write!(f, "boot plan truncated: {actual} bytes, need {needed}")
            }
            Self::BadMagic => f.write_str("not a boot plan (bad magic)"),
            Self::UnsupportedVersion { found } => write!(
                f,
                "boot plan format version {found}, this kernel reads version {}",
                crate::FORMAT_VERSION
            ),
            Self::BadHeaderSize { found } => write!(
                f,
                "boot plan header size {found}, expected {}",
                crate::HEADER_SIZE
            ),
            Self::TrailingBytes { expected, actual } => write!(
                f,
                "boot plan is {actual} bytes but its header says {expected}"
            ),
            Self::BadChecksum { stored, computed } => write!(
                f,
                "boot plan checksum {stored:#010x} does not match contents ({computed:#010x})"
            ),
            Self::BadHeaderField { field } => write!(f, "boot plan header: bad {field}"),
            Self::BadSection { section } => {
                write!(
                    f,
                    "boot plan {section} section is misplaced or out of bounds"
                )
            }
            Self::TooManyRecords {
                section,
                count,
                max,
            } => write!(f, "boot plan has {count} {section}, at most {max} allowed"),
            Self::ReservedNotZero { section, index } => {
                write!(f, "boot plan {section}[{index}]: reserved field not zero")
            }
            Self::BadName { section, index } => {
                write!(f, "boot plan {section}[{index}]: invalid name")
            }
            Self::DuplicateName { section, index } => {
                write!(f, "boot plan {section}[{index}]: duplicate name")
            }
            Self::IndexOutOfRange {
                section,
                index,
                field,
            } => write!(f, "boot plan {section}[{index}]: {field} out of range"),
            Self::BadValue {
                section,
                index,
                field,
            } => write!(f, "boot plan {section}[{index}]: invalid {field}"),
            Self::DuplicateModule { index } => {
                write!(f, "boot plan images[{index}]: module used by another image")
            }
            Self::OverBudget { total, budget } => write!(
                f,
                "boot plan component quotas total {total} bytes, over the budget of {budget}"
            ),
            Self::BadSlot {
                section,
                index,
                slot,
            } => write!(
                f,
                "boot plan {section}[{index}]: capability slot {slot} reserved, out of range or taken"
            ),
            Self::KindMismatch { index } => write!(
                f,
                "boot plan grants[{index}]: target is not of the kind the grant needs"
            ),
            Self::SelfGrant { index } => write!(
                f,
                "boot plan grants[{index}]: targets an endpoint of its own holder"
            ),
            Self::DuplicateVerdict { index } => write!(
                f,
                "boot plan grants[{index}]: a second verdict capability (at most one per plan)"
            ),
            Self::PriorityInversion { index } => write!(
                f,
                "boot plan grants[{index}]: calls a component of lower priority"
            ),
            Self::CallCycle { component } => write!(
                f,
                "boot plan components[{component}]: is on a cycle of calls"
            ),
            Self::TooManyPartitions { component } => write!(
                f,
                "boot plan components[{component}]: manages more than {} partitions",
                crate::MAX_PARTITIONS_PER_MANAGER
            ),
            Self::ManagerOverQuota {
                component,
                needed,
                quota,
            } => write!(
                f,
                "boot plan components[{component}]: its partitions need a quota of {needed} bytes, it has {quota}"
            ),
            Self::PartitionPriority { index } => write!(
                f,
                "boot plan partitions[{index}]: priority above its manager's"
            ),
            Self::RoutePriority { index } => write!(
                f,
                "boot plan routes[{index}]: its target has a lower priority than the partition or its manager"
            ),
            Self::RouteOverlap { index } => write!(
                f,
                "boot plan routes[{index}]: overlaps an earlier route of the same kind of its partition"
            ),
            Self::NoLifecycleRoute { partition } => write!(
                f,
                "boot plan partitions[{partition}]: has no lifecycle route"
            ),
            Self::BadgeCollision { index } => write!(
                f,
                "boot plan routes[{index}]: a grant to the same endpoint carries the same badge"
            ),
            Self::TooManyModules { partition } => write!(
                f,
                "boot plan partitions[{partition}]: more than {} modules",
                crate::MAX_GUEST_MODULES
            ),
        }
    }
}

impl core::error::Error for PlanError {}
