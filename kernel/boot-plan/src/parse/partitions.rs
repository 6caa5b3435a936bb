//! Per-record checks of the partition section, and what partitions ask of
//! their managers.

use super::names::{checked_name, name_of};
use super::{BootPlan, idx};
use crate::layout::{ModuleRecord, PartitionRecord};
use crate::{
    Expectation, GuestFormat, HV1_WORDS, ImageKind, MAX_COMPONENTS, MAX_PARTITIONS,
    MAX_PARTITIONS_PER_MANAGER, MAX_VPS, PlanError, Section, guest_cmdline_valid,
    guest_memory_valid, hv1_words_valid, manager_memory_needed,
};

impl<'a> BootPlan<'a> {
    pub(super) fn check_partitions(&self) -> Result<(), PlanError> {
        let section = Section::Partitions;
        let cpus = self.header.cpu_count.get();
        let mut per_manager = [0usize; MAX_COMPONENTS as usize];
        for (i, partition) in self.partitions.iter().enumerate() {
            let index = idx(i);
            let value = |field| PlanError::BadValue {
                section,
                index,
                field,
            };
            let name = name_of(&partition.name).ok_or(PlanError::BadName { section, index })?;
            if crate::manager::ApicKind::from_u8(partition.apic).is_none() {
                return Err(value("apic"));
            }
            let words = partition.hv1_words.map(|w| w.get());
            let hv1_ok = match partition.hv1 {
                0 => words == [0; HV1_WORDS],
                1 => hv1_words_valid(&words),
                _ => false,
            };
            if !hv1_ok {
                return Err(value("hv1"));
            }
            crate::synic::SynicLinks::from_record(&partition.synic, partition.vp_count)
                .map_err(value)?;
            let manager = usize::from(partition.manager.get());
            let Some(manager_record) = self.components.get(manager) else {
                return Err(PlanError::IndexOutOfRange {
                    section,
                    index,
                    field: "manager",
                });
            };
            let Some(image) = self.images.get(usize::from(partition.image.get())) else {
                return Err(PlanError::IndexOutOfRange {
                    section,
                    index,
                    field: "image",
                });
            };
            if image.kind != ImageKind::Guest as u8 {
                return Err(value("image"));
            }
            let format = GuestFormat::from_u8(partition.format).ok_or(value("format"))?;
            if Expectation::from_u8(partition.expect).is_none() {
                return Err(value("expect"));
            }
            if !guest_memory_valid(partition.memory.get()) {
                return Err(value("memory"));
            }
            let vps = partition.vp_count;
            if vps == 0 || vps > MAX_VPS {
                return Err(value("vp_count"));
            }
            let (used, unused) = partition.vp_cpus.split_at(usize::from(vps));
            if used.iter().any(|&cpu| u16::from(cpu) >= cpus) || unused.iter().any(|&b| b != 0) {
                return Err(value("vp_cpus"));
            }
            if partition.priority > manager_record.priority {
                return Err(PlanError::PartitionPriority { index });
            }
            let badge = partition.badge.get();
            if badge == 0 {
                return Err(value("badge"));
            }
            let cmdline = self.cmdline_bytes(partition).ok_or(value("cmdline"))?;
            if !guest_cmdline_valid(cmdline)
                || (format == GuestFormat::Elf64 && !cmdline.is_empty())
            {
                return Err(value("cmdline"));
            }
            for earlier in self.partitions.iter().take(i) {
                if checked_name(&earlier.name) == name {
                    return Err(PlanError::DuplicateName { section, index });
                }
                if earlier.badge.get() == badge {
                    return Err(value("badge"));
                }
            }
            let count = per_manager.get_mut(manager).ok_or(value("manager"))?;
            *count += 1;
            if *count > MAX_PARTITIONS_PER_MANAGER {
                return Err(PlanError::TooManyPartitions {
                    component: idx(manager),
                });
            }
        }
        for (manager, component) in self.components.iter().enumerate() {
            if per_manager.get(manager).is_none_or(|&n| n == 0) {
                continue;
            }
            let needed = manager_memory_needed(
                self.partitions
                    .iter()
                    .filter(|p| usize::from(p.manager.get()) == manager)
                    .map(|p| p.memory.get()),
            );
            let quota = component.memory.get();
            if quota < needed {
                return Err(PlanError::ManagerOverQuota {
                    component: idx(manager),
                    needed,
                    quota,
                });
            }
        }
        Ok(())
    }

    /// The module section: each record's partition (a Multiboot or Linux
    /// one), its image (a guest module) and command line (empty for
    /// Linux), and at most [`GuestFormat::max_modules`] per partition. Runs after the partitions are
    /// checked.
    pub(super) fn check_modules(&self) -> Result<(), PlanError> {
        let section = Section::Modules;
        let mut per_partition = [0u8; MAX_PARTITIONS as usize];
        for (i, module) in self.modules.iter().enumerate() {
            let index = idx(i);
            if module.reserved != [0; 6] {
                return Err(PlanError::ReservedNotZero { section, index });
            }
            let partition_index = usize::from(module.partition.get());
            let Some(partition) = self.partitions.get(partition_index) else {
                return Err(PlanError::IndexOutOfRange {
                    section,
                    index,
                    field: "partition",
                });
            };
            let format = GuestFormat::from_u8(partition.format);
            let Some(format) = format.filter(|f| f.max_modules() > 0) else {
                return Err(PlanError::BadValue {
                    section,
                    index,
                    field: "partition",
                });
            };
            let Some(image) = self.images.get(usize::from(module.image.get())) else {
                return Err(PlanError::IndexOutOfRange {
                    section,
                    index,
                    field: "image",
                });
            };
            if image.kind != ImageKind::GuestModule as u8 {
                return Err(PlanError::BadValue {
                    section,
                    index,
                    field: "image",
                });
            }
            let cmdline = self
                .module_cmdline_bytes(module)
                .ok_or(PlanError::BadValue {
                    section,
                    index,
                    field: "cmdline",
                })?;
            if !guest_cmdline_valid(cmdline) || (!format.module_cmdlines() && !cmdline.is_empty()) {
                return Err(PlanError::BadValue {
                    section,
                    index,
                    field: "cmdline",
                });
            }
            let count =
                per_partition
                    .get_mut(partition_index)
                    .ok_or(PlanError::IndexOutOfRange {
                        section,
                        index,
                        field: "partition",
                    })?;
            *count = count.saturating_add(1);
            if usize::from(*count) > format.max_modules() {
                return Err(PlanError::TooManyModules {
                    partition: idx(partition_index),
                });
            }
        }
        Ok(())
    }

    /// The command line bytes of a partition, if they lie in the string section.
    pub(super) fn cmdline_bytes(&self, partition: &PartitionRecord) -> Option<&'a [u8]> {
        self.string(partition.cmdline_offset.get(), partition.cmdline_len.get())
    }

    /// The command line bytes of a module, if they lie in the string section.
    pub(super) fn module_cmdline_bytes(&self, module: &ModuleRecord) -> Option<&'a [u8]> {
        self.string(module.cmdline_offset.get(), module.cmdline_len.get())
    }

    fn string(&self, offset: u32, len: u16) -> Option<&'a [u8]> {
        let strings: &'a [u8] = self.strings;
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::from(len))?;
        strings.get(start..end)
    }
}
