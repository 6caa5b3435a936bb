//! Per-record checks of the image and component sections.

use super::names::{checked_name, name_of};
use super::{BootPlan, idx};
use crate::{ImageKind, MAX_THREADS, PAGE_SIZE, PLAN_MODULE, PlanError, Section};

impl BootPlan<'_> {
    pub(super) fn check_images(&self) -> Result<(), PlanError> {
        let section = Section::Images;
        let modules = self.header.module_count.get();
        for (i, image) in self.images.iter().enumerate() {
            let index = idx(i);
            let name = name_of(&image.name).ok_or(PlanError::BadName { section, index })?;
            if image.reserved != [0; 5] {
                return Err(PlanError::ReservedNotZero { section, index });
            }
            if ImageKind::from_u8(image.kind).is_none() {
                return Err(PlanError::BadValue {
                    section,
                    index,
                    field: "kind",
                });
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

    pub(super) fn check_components(&self) -> Result<(), PlanError> {
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
            let Some(image) = self.images.get(usize::from(component.image.get())) else {
                return Err(PlanError::IndexOutOfRange {
                    section,
                    index,
                    field: "image",
                });
            };
            if image.kind != ImageKind::Component as u8 {
                return Err(PlanError::BadValue {
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
}
