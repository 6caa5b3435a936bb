//! Making the fuzz guest's and the canary's partitions from the manager
//! data, as `partition-manager` does (the same library parts: image
//! loading, initial registers, slots, window), and resuming a VP at a
//! chosen place.
use alloc::vec::Vec;

use partition_manager::image::{self, WordMemory};
use partition_manager::registers::initial_registers;
use partition_manager::routes::attach_slots;
use partition_manager::slots::{MANAGER_DATA_VIEW, Slots, Window};
use tessera_boot_plan::manager::{MANAGER_DATA_SLOT, ManagerData, PartitionSpec, RouteSpec};
use tessera_guest_loader::GuestMemory;
use tessera_rt::abi::page;
use tessera_rt::abi::vm::map;
use tessera_rt::vm_exit::{ATTACH_ACCEPTED, attach_message};
use tessera_rt::{Endpoint, Error, Status, memory, slot, vm};
use tlfs::register::HvRegisterName;

/// A partition and what the host made for it.
pub struct Partition {
    pub spec: PartitionSpec<'static>,
    pub cap: u32,
    pub region: u32,
    /// Where its RAM is mapped in the host's region window.
    pub memory_at: u64,
    pub vp: u32,
}

/// The partition's RAM, through the host's mapping.
pub struct WindowMemory(pub u64);

impl WordMemory for WindowMemory {
    fn read(&mut self, offset: u64, out: &mut [u64]) {
        memory::read(self.0 + offset, out);
    }

    fn write(&mut self, offset: u64, words: &[u64]) {
        memory::write(self.0 + offset, words);
    }
}

impl Partition {
    /// The word at `gpa` of its RAM.
    pub fn read(&self, gpa: u64) -> u64 {
        let mut word = [0];
        memory::read(self.memory_at + gpa, &mut word);
        word[0]
    }

    pub fn write(&self, gpa: u64, value: u64) {
        memory::write(self.memory_at + gpa, &[value]);
    }

    pub fn in_ram(&self, gpa: u64) -> bool {
        gpa.checked_add(8)
            .is_some_and(|end| end <= self.spec.memory_bytes)
            && gpa.is_multiple_of(8)
    }
}

/// Creates something into a free slot, retrying past occupied ones.
pub fn into_free_slot(
    slots: &mut Slots,
    mut create: impl FnMut(u32) -> Result<(), Error>,
) -> Result<u32, Error> {
    loop {
        let slot = slots.take().ok_or(Error::from(Status::SlotOccupied))?;
        match create(slot) {
            Ok(()) => return Ok(slot),
            Err(e) if e == Status::SlotOccupied => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The manager data init left in slot 63.
pub fn manager_data() -> Result<ManagerData<'static>, &'static str> {
    let view = vm::map_view(MANAGER_DATA_SLOT, MANAGER_DATA_VIEW)
        .map_err(|_| "mapping the manager data")?;
    let header = view.bytes(16).map_err(|_| "reading the manager data")?;
    let total = ManagerData::total_size(header).map_err(|_| "the manager data's size")?;
    let bytes = view
        .bytes(total as u64)
        .map_err(|_| "reading the manager data")?;
    ManagerData::parse(bytes).map_err(|_| "parsing the manager data")
}

/// Builds and starts one partition (see `partition-manager`'s `setup`).
pub fn build(
    spec: PartitionSpec<'static>,
    slots: &mut Slots,
    window: &mut Window,
) -> Result<Partition, (&'static str, Error)> {
    let name = spec.name;
    let cap = into_free_slot(slots, |slot| vm::partition_create(slot, name))
        .map_err(|e| ("creating the partition", e))?;
    if let Some(words) = &spec.hv1 {
        vm::partition_set_hv1(cap, words).map_err(|e| ("giving it the Hv#1 interface", e))?;
    }
    let bytes = spec.memory_bytes;
    let pages = image::pages(bytes).unwrap_or(u64::MAX);
    let region = into_free_slot(slots, |region| memory::create(region, pages))
        .map_err(|e| ("creating its memory", e))?;
    let memory_at = window
        .take(bytes)
        .ok_or(("placing its memory", Error::from(Status::InvalidArgument)))?;
    memory::map(region, slot::DOMAIN, memory_at, page::WRITE)
        .map_err(|e| ("mapping its memory here", e))?;
    let flags = map::READABLE | map::WRITABLE | map::EXECUTABLE;
    vm::map_gpa(cap, region, 0, flags).map_err(|e| ("mapping its memory at GPA 0", e))?;
    let plan = tessera_guest_loader::load_elf64(spec.image, GuestMemory { size: bytes })
        .map_err(|_| ("loading its image", Error::from(Status::InvalidArgument)))?;
    image::apply(&mut WindowMemory(memory_at), &plan);
    let routes: Vec<RouteSpec> = spec.routes.clone().collect();
    for route in &routes {
        vm::install_intercept(cap, route.kind, route.parameter, route.slot, route.state)
            .map_err(|e| ("installing a route", e))?;
    }
    for handler in attach_slots(&routes) {
        match Endpoint(handler).call(attach_message(name)) {
            Ok(reply) if reply.words[0] == ATTACH_ACCEPTED => {}
            Ok(_) => {
                return Err((
                    "attaching to a handler",
                    Error::from(Status::InvalidArgument),
                ));
            }
            Err(e) => return Err(("attaching to a handler", e)),
        }
    }
    let cpu = spec.vp_cpus.get(0).unwrap_or(0);
    let vp = into_free_slot(slots, |vp| vm::vp_create(cap, vp, 0, cpu, spec.priority))
        .map_err(|e| ("creating VP 0", e))?;
    vm::vp_set_registers(vp, &initial_registers(&plan.vp))
        .map_err(|e| ("setting VP 0's registers", e.error))?;
    vm::vp_start(vp).map_err(|e| ("starting VP 0", e))?;
    log::info!(
        "fuzz-host: partition {name}: {} KiB at GPA 0, VP 0 on CPU {cpu} started at rip {:#x}",
        bytes >> 10,
        plan.vp.rip
    );
    Ok(Partition {
        spec,
        cap,
        region,
        memory_at,
        vp,
    })
}

/// How often a register write is retried while the VP is still stopping.
const RETRIES: u32 = 10_000;

/// Retries `call` while the VP is still on its way to stopping.
pub fn while_stopping<T>(mut call: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    let mut tries = 0;
    loop {
        match call() {
            Err(e) if e == Status::VpRunning && tries < RETRIES => {
                tries += 1;
                tessera_rt::yield_now();
            }
            other => return other,
        }
    }
}

/// Starts the stopped VP `vp` again at `rip` with `rsp`, interrupts off.
pub fn resume(vp: u32, rip: u64, rsp: u64) -> Result<(), Error> {
    let registers = [
        vm::Register::u64(HvRegisterName::X64_RIP, rip),
        vm::Register::u64(HvRegisterName::X64_RSP, rsp),
        vm::Register::u64(HvRegisterName::X64_RFLAGS, 0x2),
    ];
    while_stopping(|| vm::vp_set_registers(vp, &registers).map_err(|e| e.error))?;
    vm::vp_start(vp)
}
