//! The header: framing, checksum and deployment-wide fields.

use zerocopy::FromBytes;

use super::names::name_of;
use crate::layout::Header;
use crate::{
    CHECKSUM_START, FORMAT_VERSION, HEADER_SIZE, MAGIC, MAX_CPUS, MAX_MODULES, PlanError, Section,
    checksum,
};

/// Checks the header and framing of `bytes`; returns the header and the
/// plan's total size.
pub(super) fn check_header(bytes: &[u8]) -> Result<(&Header, usize), PlanError> {
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
    Ok((header, total))
}

/// The header alone, checked as [`BootPlan::parse`](super::BootPlan::parse)
/// checks it (framing, checksum over the whole plan, counts, name), with
/// none of the sections read: what the kernel needs to start `init`, which
/// parses and validates the whole plan itself.
#[derive(Debug, Clone, Copy)]
pub struct PlanHeader<'a> {
    header: &'a Header,
}

impl<'a> PlanHeader<'a> {
    /// Checks the header of `bytes` (the whole module, exactly
    /// `total_size` long). Never panics.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, PlanError> {
        check_header(bytes).map(|(header, _)| Self { header })
    }

    pub(super) fn of(header: &'a Header) -> Self {
        Self { header }
    }

    /// Format version of the plan.
    pub fn version(&self) -> u16 {
        self.header.version.get()
    }

    /// Deployment name.
    pub fn name(&self) -> &'a str {
        super::names::checked_name(&self.header.name)
    }

    /// CPUs the deployment expects, `1..=64`.
    pub fn cpu_count(&self) -> u16 {
        self.header.cpu_count.get()
    }

    /// Multiboot modules the deployment expects, the plan included.
    pub fn module_count(&self) -> u16 {
        self.header.module_count.get()
    }

    /// Budget for all component quotas together, bytes.
    pub fn component_memory(&self) -> u64 {
        self.header.component_memory.get()
    }

    /// The component count the header's section reference claims (the
    /// section itself is checked only by a full parse).
    pub fn claimed_component_count(&self) -> u32 {
        self.header.components.count.get()
    }

    /// The raw header.
    pub fn raw(&self) -> &'a Header {
        self.header
    }
}
