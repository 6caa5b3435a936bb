//! The host's CPUs and where an ISA interrupt arrives, from the ACPI MADT
//! (ACPI 6.5, 5.2.12), parsed by the `acpi` crate over the physical map.
use crate::arch::ioapic::IsaRoute;
use crate::memory::physical_to_virtual;
use acpi::madt::{Madt, MadtEntry};
use acpi::{AcpiHandler, AcpiTables, PhysicalMapping};
use alloc::vec::Vec;
use core::pin::Pin;
use core::ptr::NonNull;

/// One processor the firmware lists as usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    pub apic_id: u32,
    pub processor_uid: u32,
}

/// MADT local APIC flags: bit 0 enabled, bit 1 online capable (may be
/// enabled later; not started at boot).
const LAPIC_ENABLED: u32 = 1;

#[derive(Clone, Copy, Debug)]
struct PhysicalMap;

impl AcpiHandler for PhysicalMap {
    unsafe fn map_physical_region<T>(
        &self,
        address: usize,
        size: usize,
    ) -> PhysicalMapping<Self, T> {
        let virt = NonNull::new(physical_to_virtual(address as u64).as_mut_ptr::<T>())
            .expect("the physical map is in the upper half, never null");
        // The physical map covers all memory the firmware's tables
        // can be in (RAM and the first 4 GiB) for as long as the kernel runs.
        // SAFETY: by the argument just above.
        unsafe { PhysicalMapping::new(address, virt, size, size, *self) }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// The firmware's ACPI tables.
fn tables(rsdp: Option<u64>) -> Result<AcpiTables<PhysicalMap>, acpi::AcpiError> {
    match rsdp {
        // The address comes from the boot loader's RSDP tag; the
        // crate validates signature and checksum before trusting it.
        // SAFETY: by the argument just above.
        Some(address) => unsafe { AcpiTables::from_rsdp(PhysicalMap, address as usize) },
        // SAFETY: the BIOS areas the crate scans are mapped (low memory).
        None => unsafe { AcpiTables::search_for_rsdp_bios(PhysicalMap) },
    }
}

/// Runs `read` on the MADT.
fn with_madt<R>(
    rsdp: Option<u64>,
    read: impl FnOnce(Pin<&Madt>) -> R,
) -> Result<R, acpi::AcpiError> {
    let tables = tables(rsdp)?;
    let madt = tables.find_table::<Madt>()?;
    Ok(read(madt.get()))
}

/// The ACPI power-management timer, from the FADT (ACPI 6.5 §5.2.9
/// `PM_TMR_BLK`/`X_PM_TMR_BLK`, flag `TMR_VAL_EXT`): its I/O port and
/// whether it counts 32 bits (else 24). `None` without one, or when it is
/// memory-mapped (no firmware Tessera runs on does that).
pub fn pm_timer(rsdp: Option<u64>) -> Option<(u16, bool)> {
    let tables = tables(rsdp).ok()?;
    let fadt = tables.find_table::<acpi::fadt::Fadt>().ok()?;
    let block = fadt.pm_timer_block().ok()??;
    if block.address_space != acpi::address::AddressSpace::SystemIo {
        return None;
    }
    let port = u16::try_from(block.address)
        .ok()
        .filter(|&port| port != 0)?;
    let extended = { fadt.flags }.pm_timer_is_32_bit();
    Some((port, extended))
}

/// The CMOS clock's century register, from the FADT (ACPI 6.5 §5.2.9
/// `CENTURY`: 0 means none).
pub fn rtc_century(rsdp: Option<u64>) -> Option<u8> {
    let tables = tables(rsdp).ok()?;
    let fadt = tables.find_table::<acpi::fadt::Fadt>().ok()?;
    Some(fadt.century).filter(|&index| index != 0 && index < 0x80)
}

/// MPS INTI flags (ACPI 6.5, table 5.50): polarity in bits 1:0, trigger
/// mode in bits 3:2; 0 means the bus's default (ISA: active high, edge).
const POLARITY_ACTIVE_LOW: u16 = 0b11;
const TRIGGER_LEVEL: u16 = 0b11 << 2;

/// Where ISA interrupt `irq` arrives: its global system interrupt (the
/// same number unless an interrupt source override says otherwise) on the
/// I/O APIC whose range holds it.
pub fn isa_irq_route(rsdp: Option<u64>, irq: u8) -> Result<Option<IsaRoute>, acpi::AcpiError> {
    with_madt(rsdp, |madt| {
        let mut gsi = u32::from(irq);
        let mut flags = 0;
        let mut ioapics = Vec::new();
        for entry in madt.entries() {
            match entry {
                MadtEntry::InterruptSourceOverride(o) if o.bus == 0 && o.irq == irq => {
                    gsi = o.global_system_interrupt;
                    flags = o.flags;
                }
                MadtEntry::IoApic(io) => {
                    ioapics.push((
                        u64::from(io.io_apic_address),
                        io.global_system_interrupt_base,
                    ));
                }
                _ => {}
            }
        }
        // Each I/O APIC takes the interrupts from its base up (to the next
        // one's base): the one with the highest base not above `gsi`.
        let (ioapic, base) = ioapics
            .into_iter()
            .filter(|&(_, base)| base <= gsi)
            .max_by_key(|&(_, base)| base)?;
        Some(IsaRoute {
            ioapic,
            pin: gsi - base,
            active_low: flags & 0b11 == POLARITY_ACTIVE_LOW,
            level: flags & (0b11 << 2) == TRIGGER_LEVEL,
        })
    })
}

/// Every enabled CPU, the bootstrap processor first.
pub fn find_cpus(rsdp: Option<u64>) -> Result<Vec<Cpu>, acpi::AcpiError> {
    with_madt(rsdp, cpus_of)
}

fn cpus_of(madt: Pin<&Madt>) -> Vec<Cpu> {
    let bootstrap_apic = crate::arch::apic::id();
    let mut cpus = Vec::new();
    for entry in madt.entries() {
        let (apic_id, processor_uid, flags) = match entry {
            MadtEntry::LocalApic(lapic) => (
                u32::from(lapic.apic_id),
                u32::from(lapic.processor_id),
                lapic.flags,
            ),
            MadtEntry::LocalX2Apic(x2apic) => {
                (x2apic.x2apic_id, x2apic.processor_uid, x2apic.flags)
            }
            _ => continue,
        };
        if flags & LAPIC_ENABLED != 0 {
            cpus.push(Cpu {
                apic_id,
                processor_uid,
            });
        }
    }
    cpus.sort_by_key(|cpu| cpu.apic_id != bootstrap_apic);
    if cpus.first().map(|cpu| cpu.apic_id) != Some(bootstrap_apic) {
        log::warn!("acpi: the MADT does not list the bootstrap processor (apic {bootstrap_apic})");
        cpus.insert(
            0,
            Cpu {
                apic_id: bootstrap_apic,
                processor_uid: u32::MAX,
            },
        );
    }
    cpus
}
