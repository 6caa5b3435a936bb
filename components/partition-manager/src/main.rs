//! `partition-manager`: creates the partitions its manager data describes,
//! loads their guests, starts them, and serves their lifecycle exits until
//! every partition has ended; then gives the verdict (or exits) on whether
//! each ended as its manifest expected.
//!
//! ```toml
//! [component.partition-manager]
//! image = "partition-manager"
//! provides = ["exits"]    # the receive capability, in slot 4
//! verdict = true          # optional: the deployment's verdict
//! ```
//!
//! init installs the manager data region (read-only) in slot
//! [`MANAGER_DATA_SLOT`] and, for each route, a CALL capability badged with
//! the partition's badge at the route's slot. The pure logic is the
//! crate's library (`partition_manager`); this file makes the system calls.
//!
//! For each partition, in manifest order: create the partition; give it
//! the Hv#1 interface of its manifest's `hv` list (`PartitionSetHv1`, if
//! it has one; without, it stays a plain x86 machine); create its
//! memory region and map it into the manager's region window (read/write)
//! and into the partition at GPA 0 (read/write/execute); load the guest
//! image (ELF64; Multiboot with its command line and boot modules, as
//! QEMU's `-kernel -append -initrd` does; or a Linux bzImage with its
//! command line, initrd, zero page and ACPI tables, per the Linux boot
//! protocol) into it; install every
//! route; send the partition attach message once through each route slot
//! that leads to another component; create the VPs (VP `i` on its CPU);
//! set VP 0's registers from the loader's initial state; start VP 0. Any
//! failure is logged with the kernel's status and ends that partition
//! (`setup failed`) without touching the others.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

/// The component proper; on the host this binary is an empty stub (the
/// library is what the host tests), so the crate can be a default member.
#[cfg(target_os = "none")]
mod component {

    use alloc::vec::Vec;
    use core::fmt;

    use partition_manager::hv1::Hv1Line;
    use partition_manager::image::{self, WordMemory};
    use partition_manager::ledger::{Entry, Ledger, MAX_RESETS, Step};
    use partition_manager::lifecycle::{self, Effect, RegistersLine, Report};
    use partition_manager::outcome::{Judgement, Outcome};
    use partition_manager::registers::{initial_registers, register_name};
    use partition_manager::routes::{
        RouteLine, attach_slots, has_cmos_clock, interrupt_controller_slot, lifecycle_state,
        port_handler_slots, synic_slot,
    };
    use partition_manager::slots::{MANAGER_DATA_VIEW, Slots, Window};
    use tessera_boot_plan::GuestFormat;
    use tessera_boot_plan::manager::{
        ApicKind, MANAGER_DATA_SLOT, ManagerData, PartitionSpec, RouteSpec,
    };
    use tessera_guest_loader::{
        GuestMemory, InitialVpState, LinuxBoot, LinuxLayout, LoadPlan, Module, Piece, acpi,
    };
    use tessera_rt::abi::vm::map;
    use tessera_rt::abi::{Syscall, page};
    use tessera_rt::syscall::{Registers, invoke, invoke_with_buffer};
    use tessera_rt::vm_exit::{
        ATTACH_ACCEPTED, ExitMessage, ExitReply, ReplyMessage, attach_message,
    };
    use tessera_rt::{
        CapTransfer, Endpoint, Error, Message, Status, memory, message_buffer, slot, vm,
    };
    use tlfs::HvStatus;

    tessera_rt::entry!(main);

    /// The receive capability of the `exits` endpoint (first of `provides`).
    const EXITS: u32 = 4;

    /// A partition and what the manager made for it.
    struct Partition {
        spec: PartitionSpec<'static>,
        routes: Vec<RouteSpec>,
        /// The partition capability.
        slot: Option<u32>,
        /// Where its memory is mapped in the manager's region window.
        memory_at: Option<u64>,
        /// Its VPs' capabilities, VP `i` at index `i`.
        vps: Vec<u32>,
        /// Where VP 0 starts (for the log).
        start_rip: u64,
    }

    impl Partition {
        fn new(spec: PartitionSpec<'static>) -> Self {
            Self {
                routes: spec.routes.clone().collect(),
                spec,
                slot: None,
                memory_at: None,
                vps: Vec::new(),
                start_rip: 0,
            }
        }

        fn name(&self) -> &'static str {
            self.spec.name
        }
    }

    /// The partitions and the book of how they are doing (the same index in
    /// both).
    struct Manager {
        partitions: Vec<Partition>,
        ledger: Ledger,
    }

    impl Manager {
        /// Records that partition `index` ended with `outcome`, and logs it.
        fn end(&mut self, index: usize, outcome: Outcome) {
            if let Some(judgement) = self.ledger.end(index, outcome) {
                log_judgement(self.partitions[index].name(), judgement);
            }
        }
    }

    /// `partition NAME: OUTCOME (expected EXPECT): ok|MISMATCH`.
    fn log_judgement(name: &str, judgement: Judgement) {
        if judgement.ok() {
            log::info!("partition {name}: {judgement}");
        } else {
            log::error!("partition {name}: {judgement}");
        }
    }

    /// Why a step of building a partition failed.
    enum Failure {
        Kernel(Error),
        Registers(vm::RegisterError, Option<vm::Register>),
        Load(tessera_guest_loader::Error),
        NoFreeSlot,
        WindowFull,
        AttachRefused(u64),
    }

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Self::Kernel(e) => write!(f, "{e}"),
                Self::Registers(e, Some(register)) => write!(
                    f,
                    "{} at {} = {:#x}:{:#x}",
                    e.error,
                    register_name(register.name),
                    register.high,
                    register.low
                ),
                Self::Registers(e, None) => write!(f, "{}", e.error),
                Self::Load(e) => write!(f, "{e}"),
                Self::NoFreeSlot => f.write_str("no free capability slot left"),
                Self::WindowFull => f.write_str("no room left in the region window"),
                Self::AttachRefused(code) => write!(f, "the handler answered {code:#x}"),
            }
        }
    }

    impl From<Error> for Failure {
        fn from(e: Error) -> Self {
            Self::Kernel(e)
        }
    }

    /// `Ok`, or logs `partition NAME: WHAT failed: ERROR`.
    fn step<T>(name: &str, what: fmt::Arguments<'_>, result: Result<T, Failure>) -> Result<T, ()> {
        result.map_err(|e| log::error!("partition {name}: {what} failed: {e}"))
    }

    /// Creates something into a free slot: `create(slot)`, retried with the
    /// next free slot if the kernel finds the slot occupied.
    fn into_free_slot(
        slots: &mut Slots,
        mut create: impl FnMut(u32) -> Result<(), Error>,
    ) -> Result<u32, Failure> {
        loop {
            let slot = slots.take().ok_or(Failure::NoFreeSlot)?;
            match create(slot) {
                Ok(()) => return Ok(slot),
                Err(e) if e == Status::SlotOccupied => continue,
                Err(e) => {
                    slots.free(slot);
                    return Err(e.into());
                }
            }
        }
    }

    /// Attaches the partition to its interrupt controller (the handler of
    /// its `eoi` route), giving it the partition's interrupt capability:
    /// WRITE (`PartitionAssertInterrupt`) and GRANT (to travel), never
    /// CONTROL. The copy moves with the call; word 5 is the partition's
    /// `shape` (`tessera_abi::vm::attach_shape`).
    fn attach_controller(
        slots: &mut Slots,
        handler: u32,
        name: &str,
        partition: u32,
        shape: u64,
    ) -> Result<(), Failure> {
        let rights = tessera_rt::rights::WRITE | tessera_rt::rights::GRANT;
        let copy = into_free_slot(slots, |slot| {
            tessera_rt::cap::derive(partition, slot, rights, 0)
        })?;
        let transfer = CapTransfer {
            send: copy,
            receive: tessera_rt::NO_SELECTOR,
        };
        let mut message = attach_message(name);
        message.words[5] = shape;
        let answer = Endpoint(handler).call_with_cap(message, transfer);
        // Moved on success; deleted here otherwise.
        let _ = tessera_rt::cap::delete(copy);
        slots.free(copy);
        match answer {
            Ok((reply, _)) if reply.words[0] == ATTACH_ACCEPTED => Ok(()),
            Ok((reply, _)) => Err(Failure::AttachRefused(reply.words[0])),
            Err(e) => Err(e.into()),
        }
    }

    /// A partition's memory, through its mapping in the region window.
    struct WindowMemory(u64);

    impl WordMemory for WindowMemory {
        fn read(&mut self, offset: u64, out: &mut [u64]) {
            memory::read(self.0 + offset, out);
        }

        fn write(&mut self, offset: u64, words: &[u64]) {
            memory::write(self.0 + offset, words);
        }
    }

    /// The guest loader's plan for `spec`, and for a Linux guest where its
    /// kernel and initrd went.
    fn plan(
        spec: &PartitionSpec<'static>,
    ) -> Result<(LoadPlan<'static>, Option<LinuxLayout>), Failure> {
        let memory = GuestMemory {
            size: spec.memory_bytes,
        };
        match spec.format {
            GuestFormat::Elf64 => {
                tessera_guest_loader::load_elf64(spec.image, memory).map(|plan| (plan, None))
            }
            GuestFormat::Multiboot => {
                let modules: Vec<Module<'static>> = spec
                    .modules
                    .clone()
                    .map(|m| Module {
                        image: m.bytes,
                        cmdline: m.cmdline,
                    })
                    .collect();
                tessera_guest_loader::load_multiboot(spec.image, memory, spec.cmdline, &modules)
                    .map(|plan| (plan, None))
            }
            GuestFormat::Linux => {
                let boot = LinuxBoot {
                    kernel: spec.image,
                    cmdline: spec.cmdline,
                    initrd: spec.modules.clone().next().map_or(&[][..], |m| m.bytes),
                    acpi: acpi::Config {
                        vps: u32::try_from(spec.vp_cpus.clone().count()).unwrap_or(u32::MAX),
                        vmbus_irq: None,
                        rtc: has_cmos_clock(&spec.routes.clone().collect::<Vec<_>>()),
                    },
                };
                tessera_guest_loader::load_linux(&boot, memory)
                    .map(|(plan, layout)| (plan, Some(layout)))
            }
        }
        .map_err(Failure::Load)
    }

    /// Loads the guest image into the partition's memory; returns VP 0's
    /// initial state.
    fn load(partition: &Partition, memory_at: u64) -> Result<InitialVpState, ()> {
        let spec = &partition.spec;
        let name = partition.name();
        let format = spec.format.name();
        let (plan, linux) = step(name, format_args!("loading the {format} image"), plan(spec))?;
        let (written, zeroed) = image::apply(&mut WindowMemory(memory_at), &plan);
        log::info!(
            "partition {name}: loaded the {format} image ({} bytes{}): {written} bytes written, \
             {zeroed} bytes zeroed, entry {:#x}",
            spec.image.len(),
            CommandLine(spec.cmdline),
            plan.vp.rip
        );
        if let Some(linux) = linux {
            let initrd = spec.modules.clone().next().map_or(0, |m| m.bytes.len());
            log::info!(
                "partition {name}: Linux boot protocol {}.{:02}: kernel at {:#x} ({:#x} bytes with \
                 its init_size), initrd at {:#x} ({initrd} bytes), ACPI RSDP at {:#x}",
                linux.header.version >> 8,
                linux.header.version & 0xFF,
                linux.kernel,
                linux.kernel_extent,
                linux.initrd,
                linux.rsdp
            );
        }
        if spec.format == GuestFormat::Multiboot {
            log::info!("partition {name}: {} modules", spec.modules.len());
            for (index, module) in spec.modules.clone().enumerate() {
                let at = plan
                    .writes
                    .iter()
                    .find(|w| w.what == Piece::Module(index))
                    .map_or(0, |w| w.gpa);
                log::info!(
                    "partition {name}: module {index} at {at:#x}, {} bytes{}",
                    module.bytes.len(),
                    CommandLine(module.cmdline)
                );
            }
        }
        Ok(plan.vp)
    }

    /// `, command line "…"` if there is one.
    struct CommandLine(&'static str);

    impl fmt::Display for CommandLine {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            if self.0.is_empty() {
                Ok(())
            } else {
                write!(f, ", command line \"{}\"", self.0)
            }
        }
    }

    /// Sets VP 0's registers to `state` (after a reset's reply too: the
    /// kernel stopped the VP when it accepted the reply).
    fn set_registers(partition: &Partition, state: &InitialVpState) -> Result<(), ()> {
        let name = partition.name();
        let vp = partition.vps[0];
        let registers = initial_registers(state);
        let result = vm::vp_set_registers(vp, &registers).map_err(|e| {
            let register = e.index.and_then(|index| registers.get(index)).copied();
            Failure::Registers(e, register)
        });
        step(name, format_args!("setting VP 0's registers"), result)?;
        log::info!(
            "partition {name}: VP 0: {} registers set (rip {:#x}, rsp {:#x}, cr0 {:#x}, cr4 {:#x}, \
             efer {:#x})",
            registers.len(),
            state.rip,
            state.rsp,
            state.cr0,
            state.cr4,
            state.efer
        );
        Ok(())
    }

    /// Builds and starts one partition (see the crate documentation).
    fn setup(partition: &mut Partition, slots: &mut Slots, window: &mut Window) -> Result<(), ()> {
        let name = partition.name();
        let bytes = partition.spec.memory_bytes;

        let apic = partition.spec.apic;
        let created = into_free_slot(slots, |slot| {
            vm::partition_create_with_apic(slot, name, apic.create_word())
        });
        let cap = step(name, format_args!("creating the partition"), created)?;
        partition.slot = Some(cap);
        log::info!("partition {name}: created (slot {cap}, local APIC {apic:?})");

        // Before any VP exists, so before any can start.
        if let Some(words) = &partition.spec.hv1 {
            let given = vm::partition_set_hv1(cap, words).map_err(Failure::from);
            step(name, format_args!("giving it the Hv#1 interface"), given)?;
            log::info!("partition {name}: {}", Hv1Line(words));
        }

        let pages = image::pages(bytes).unwrap_or(u64::MAX);
        let region = into_free_slot(slots, |region| memory::create(region, pages));
        let region = step(
            name,
            format_args!("creating its {pages}-page memory region"),
            region,
        )?;
        let at = step(
            name,
            format_args!("placing its memory"),
            window.take(bytes).ok_or(Failure::WindowFull),
        )?;
        let mapped = memory::map(region, slot::DOMAIN, at, page::WRITE).map_err(Failure::from);
        step(
            name,
            format_args!("mapping its memory into the manager"),
            mapped,
        )?;
        partition.memory_at = Some(at);
        let flags = map::READABLE | map::WRITABLE | map::EXECUTABLE;
        let mapped = vm::map_gpa(cap, region, 0, flags).map_err(Failure::from);
        step(name, format_args!("mapping its memory at GPA 0"), mapped)?;
        log::info!(
            "partition {name}: {} KiB of memory at GPA 0 (region slot {region}, manager address {at:#x})",
            bytes >> 10
        );

        let state = load(partition, at)?;

        for route in &partition.routes {
            let installed = vm::install_posting_intercept(
                cap,
                route.kind,
                route.parameter,
                route.slot,
                (route.state, route.posted),
            );
            step(
                name,
                format_args!("installing route {}", RouteLine(*route)),
                installed.map_err(Failure::from),
            )?;
            log::info!("partition {name}: route {}", RouteLine(*route));
        }

        let controller = interrupt_controller_slot(&partition.routes);
        // The SynIC component stores registers through the same kind of
        // capability (WRITE on the partition: `PartitionSynicWrite`).
        let synic = synic_slot(&partition.routes);
        let owners: Vec<u32> = (partition.spec.synic.ports().iter())
            .filter(|port| port.is_owned())
            .map(|port| u32::from(port.owner_slot))
            .collect();
        let port_handlers = port_handler_slots(&partition.routes, &owners);
        for handler in attach_slots(&partition.routes) {
            let attached = if controller == Some(handler)
                || synic == Some(handler)
                || port_handlers.contains(&handler)
            {
                let vps = partition.spec.vp_cpus.clone().count() as u64;
                let shape = tessera_rt::abi::vm::attach_shape(partition.spec.memory_bytes, vps);
                attach_controller(slots, handler, name, cap, shape)
            } else {
                match Endpoint(handler).call(attach_message(name)) {
                    Ok(reply) if reply.words[0] == ATTACH_ACCEPTED => Ok(()),
                    Ok(reply) => Err(Failure::AttachRefused(reply.words[0])),
                    Err(e) => Err(e.into()),
                }
            };
            step(
                name,
                format_args!("attaching to the handler behind slot {handler}"),
                attached,
            )?;
            log::info!("partition {name}: attached to the handler behind slot {handler}");
        }

        let priority = partition.spec.priority;
        for (index, cpu) in partition.spec.vp_cpus.clone().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            let vp = into_free_slot(slots, |vp| vm::vp_create(cap, vp, index, cpu, priority));
            let vp = step(name, format_args!("creating VP {index} on CPU {cpu}"), vp)?;
            partition.vps.push(vp);
            log::info!(
                "partition {name}: VP {index} created on CPU {cpu} at priority {priority} (slot {vp})"
            );
        }
        if partition.vps.is_empty() {
            log::error!("partition {name}: no VPs");
            return Err(());
        }

        set_registers(partition, &state)?;
        partition.start_rip = state.rip;
        Ok(())
    }

    /// Starts a partition [`setup`] built (once every partition's ports
    /// and connections are made, so no guest posts before its connections
    /// exist).
    fn start(partition: &Partition) -> Result<(), ()> {
        let name = partition.name();
        start_application_processors(partition)?;
        let started = vm::vp_start(partition.vps[0]).map_err(Failure::from);
        step(name, format_args!("starting VP 0"), started)?;
        log::info!(
            "partition {name}: VP 0 started at rip {:#x}",
            partition.start_rip
        );
        Ok(())
    }

    /// `partition`'s SynIC ports (TLFS `HvCallCreatePort`).
    fn create_ports(partition: &Partition) -> Result<(), ()> {
        let name = partition.name();
        let cap = partition.slot.ok_or(())?;
        for port in partition.spec.synic.ports() {
            let made = if port.is_owned() {
                let kind = if port.kind == tessera_boot_plan::synic::EVENT {
                    vm::ports::OwnedKind::Event {
                        count: port.flag_count,
                    }
                } else {
                    vm::ports::OwnedKind::Message
                };
                vm::ports::create_owned_port(cap, port.id, kind, u32::from(port.owner_slot))
            } else {
                let input = partition_manager::ports::create_port_input(port);
                vm::ports::create_port(cap, &input)
            };
            let made = made.map_err(Failure::from);
            let status = step(
                name,
                format_args!("creating SynIC port {:#x}", port.id),
                made,
            )?;
            if status != HvStatus::SUCCESS {
                log::error!("partition {name}: SynIC port {:#x}: {status:?}", port.id);
                return Err(());
            }
            if port.is_owned() {
                log::info!(
                    "partition {name}: SynIC port {:#x} for the handler behind slot {}",
                    port.id,
                    port.owner_slot
                );
                continue;
            }
            log::info!(
                "partition {name}: SynIC port {:#x} ({}) to VP {} SINT {}",
                port.id,
                if port.kind == tessera_boot_plan::synic::EVENT {
                    "event"
                } else {
                    "message"
                },
                port.vp,
                port.sint
            );
        }
        Ok(())
    }

    /// `partitions[index]`'s SynIC connections (TLFS `HvCallConnectPort`),
    /// each to a port of a partition of this manager (the manifest checked).
    fn connect_ports(partitions: &[Partition], index: usize) -> Result<(), ()> {
        let partition = &partitions[index];
        let name = partition.name();
        let cap = partition.slot.ok_or(())?;
        for connection in partition.spec.synic.connections() {
            let target = partitions
                .iter()
                .find(|p| p.spec.badge == connection.partition)
                .and_then(|p| Some((p.name(), p.slot?)));
            let Some((target_name, target_cap)) = target else {
                log::error!(
                    "partition {name}: connection {:#x}: partition {} was not made",
                    connection.id,
                    connection.partition
                );
                return Err(());
            };
            let input = partition_manager::ports::connect_input(connection);
            let made = vm::ports::connect_port(cap, target_cap, &input).map_err(Failure::from);
            let status = step(
                name,
                format_args!("connecting {:#x} to {target_name}", connection.id),
                made,
            )?;
            if status != HvStatus::SUCCESS {
                log::error!(
                    "partition {name}: connection {:#x}: {status:?}",
                    connection.id
                );
                return Err(());
            }
            log::info!(
                "partition {name}: SynIC connection {:#x} to port {:#x} of {target_name}",
                connection.id,
                connection.port
            );
        }
        Ok(())
    }

    /// With a local APIC the VPs after VP 0 are application processors: the
    /// kernel holds them waiting for INIT/SIPI from VP 0 (at a restart with
    /// their APICs at power-on), so they are started before VP 0 and miss
    /// none of its start-up IPIs. Without one nothing could start them:
    /// they stay stopped.
    fn start_application_processors(partition: &Partition) -> Result<(), ()> {
        if partition.spec.apic == ApicKind::None {
            return Ok(());
        }
        for (index, &vp) in partition.vps.iter().enumerate().skip(1) {
            let started = vm::vp_start(vp).map_err(Failure::from);
            step(
                partition.name(),
                format_args!("starting VP {index} (waits for INIT/SIPI)"),
                started,
            )?;
        }
        Ok(())
    }

    /// Reloads a partition whose guest asked for a reset, after the reply that
    /// stopped its VP (stopped when `Reply` returned: the kernel applies a
    /// stopping reply as it accepts it): every other VP stopped too, the
    /// image again, VP 0's registers, the application processors back to
    /// waiting for INIT/SIPI with their APICs at power-on (the kernel's
    /// `VpStart` of an AP), and VP 0 restarted.
    /// (Memory the image does not cover keeps what the guest left there, as
    /// after a warm reset.) `Err` if that failed (logged).
    fn reset(partition: &Partition, round: u32) -> Result<(), ()> {
        let name = partition.name();
        let (Some(at), Some(&vp)) = (partition.memory_at, partition.vps.first()) else {
            log::error!("partition {name}: reset without memory or VPs");
            return Err(());
        };
        // A reset is the whole machine's: a VP left running would go on in
        // the reloaded image (`VpStop` returns once the VP has stopped; the
        // one that asked already has).
        for (index, &other) in partition.vps.iter().enumerate() {
            let stopped = vm::vp_stop(other).map_err(Failure::from);
            step(name, format_args!("stopping VP {index}"), stopped)?;
        }
        // A reset clears the Hv#1 state too (guest OS ID, hypercall page):
        // the kernel does that when given the same configuration again.
        if let (Some(words), Some(cap)) = (&partition.spec.hv1, partition.slot) {
            let reset = vm::partition_set_hv1(cap, words).map_err(Failure::from);
            step(name, format_args!("resetting its Hv#1 state"), reset)?;
        }
        let state = load(partition, at)?;
        set_registers(partition, &state)?;
        start_application_processors(partition)?;
        let started = vm::vp_start(vp).map_err(Failure::from);
        step(name, format_args!("restarting VP 0"), started)?;
        log::info!(
            "partition {name}: reset {round}: image reloaded, VP 0 restarted at rip {:#x}",
            state.rip
        );
        Ok(())
    }

    /// A call the `exits` endpoint received.
    struct Request {
        badge: u64,
        message: Message,
    }

    impl Request {
        fn from_registers(out: Registers) -> Self {
            Self {
                badge: out.rdi,
                message: Message {
                    words: out.words,
                    buffer_words: u16::try_from(out.r14).unwrap_or(0),
                },
            }
        }
    }

    fn wait() -> Result<Request, Error> {
        invoke(Syscall::Wait, EXITS, [0; 6], CapTransfer::NONE).map(Request::from_registers)
    }

    fn reply(reply: Message) -> Result<(), Error> {
        invoke_with_buffer(
            Syscall::Reply,
            EXITS,
            reply.words,
            CapTransfer::NONE,
            reply.buffer_words,
        )
        .map(drop)
    }

    fn reply_wait(reply: Message) -> Result<Request, Error> {
        invoke_with_buffer(
            Syscall::ReplyWait,
            EXITS,
            reply.words,
            CapTransfer::NONE,
            reply.buffer_words,
        )
        .map(Request::from_registers)
    }

    fn stop() -> Message {
        Message::new(ExitReply::new().stop().words())
    }

    /// Decides about one exit message: the reply, and the partition to reset
    /// once the reply has stopped its VP.
    fn handle(manager: &mut Manager, request: &Request) -> (Message, Option<usize>) {
        // First, before any other system call reuses the message buffer.
        let buffer = message_buffer::read(request.message.buffer_words);
        let message = ExitMessage::decode(&request.message.words, &buffer);
        let kind = ExitType(&message);
        let step = manager.ledger.exit(request.badge, &message, &buffer);
        let reply = step.reply();
        let reset = match step {
            Step::UnknownBadge => {
                log::warn!(
                    "exit {kind} from VP {} with unknown badge {}; stopping the VP",
                    message.vp_index,
                    request.badge
                );
                None
            }
            Step::AfterEnd { index, outcome } => {
                let name = manager.partitions[index].name();
                log::warn!(
                    "partition {name}: exit {kind} after it ended ({outcome}); stopping the VP"
                );
                None
            }
            Step::Decided {
                index,
                decision,
                judgement,
                gave_up,
            } => {
                let partition = &manager.partitions[index];
                let name = partition.name();
                if let Some(report) = &decision.report {
                    log::log!(report.level(), "partition {name}: {report}");
                    if let Report::Unrecoverable { .. }
                    | Report::Halted { .. }
                    | Report::Unsupported { .. } = report
                        && let Some(registers) = lifecycle::registers_after_header(
                            &buffer,
                            lifecycle_state(&partition.routes),
                        )
                    {
                        log::error!("partition {name}: registers: {}", RegistersLine(registers));
                    }
                }
                if gave_up {
                    log::error!("partition {name}: {MAX_RESETS} resets already; giving up on it");
                }
                if let Some(judgement) = judgement {
                    log_judgement(name, judgement);
                }
                (decision.effect == Effect::Reset).then_some(index)
            }
        };
        let reply = reply.into_message().unwrap_or_else(|e| {
            log::error!("partition-manager: reply: {e}; stopping the VP instead");
            stop()
        });
        (reply, reset)
    }

    /// An exit message's type for logs.
    struct ExitType<'a>(&'a ExitMessage);

    impl fmt::Display for ExitType<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.0.type_name() {
                Some(name) => f.write_str(name),
                None => write!(f, "{:#x}", self.0.message_type),
            }
        }
    }

    /// Serves the `exits` endpoint until every partition has ended.
    fn serve(manager: &mut Manager) -> ! {
        let mut next = wait();
        loop {
            let request = match next {
                Ok(request) => request,
                Err(e) => {
                    log::error!("partition-manager: waiting for exits failed: {e}");
                    finish(&manager.ledger, false);
                }
            };
            let (answer, reset_index) = handle(manager, &request);
            if reset_index.is_none() && !manager.ledger.all_ended() {
                next = match reply_wait(answer) {
                    Err(e) if e == Status::NoCaller => {
                        log::warn!("partition-manager: the VP left before its reply");
                        wait()
                    }
                    Err(e) => {
                        log::error!(
                            "partition-manager: the reply was refused: {e}; stopping the VP"
                        );
                        if let Err(e) = reply(stop()) {
                            log::error!("partition-manager: stopping the VP failed too: {e}");
                        }
                        wait()
                    }
                    ok => ok,
                };
                continue;
            }
            // The VP must have its reply (and stop) before it is reset, and
            // before the deployment ends.
            if let Err(e) = reply(answer) {
                log::warn!("partition-manager: replying failed: {e}");
            }
            if let Some(index) = reset_index {
                let round = manager.ledger.entries[index].resets;
                if reset(&manager.partitions[index], round).is_err() {
                    manager.end(index, Outcome::SetupFailed);
                }
            }
            if manager.ledger.all_ended() {
                finish(&manager.ledger, true);
            }
            next = wait();
        }
    }

    /// Ends the deployment (verdict capability) or the component (exit code)
    /// with pass iff every partition ended as expected (and `served`: the
    /// exits endpoint worked).
    fn finish(ledger: &Ledger, served: bool) -> ! {
        let (total, ok, pass) = ledger.result();
        let pass = pass && served;
        let verdict = if pass { "pass" } else { "FAIL" };
        log::info!("partition-manager: {ok} of {total} partitions ended as expected: {verdict}");
        verdict_or_exit(pass)
    }

    /// The verdict if the manager holds the verdict capability (slot 3),
    /// otherwise exit code 0 (pass) or 1.
    fn verdict_or_exit(pass: bool) -> ! {
        let code = u64::from(!pass);
        let given = invoke(
            Syscall::Verdict,
            slot::VERDICT,
            [code, 0, 0, 0, 0, 0],
            CapTransfer::NONE,
        );
        match given {
            Ok(_) => log::error!("partition-manager: the verdict returned"),
            Err(e) if e == Status::EmptySlot => {}
            Err(e) => {
                log::warn!("partition-manager: the verdict was refused: {e}; exiting instead")
            }
        }
        tessera_rt::exit(code)
    }

    /// Maps the manager data (read-only) and checks it.
    fn manager_data() -> Result<ManagerData<'static>, ()> {
        let view = vm::map_view(MANAGER_DATA_SLOT, MANAGER_DATA_VIEW)
            .map_err(|e| log::error!("partition-manager: mapping the manager data failed: {e}"))?;
        // A region has at least one page: the first 16 bytes are always there.
        let header = view
            .bytes(16)
            .map_err(|e| log::error!("partition-manager: reading the manager data failed: {e}"))?;
        let total =
            ManagerData::total_size(header).map_err(|e| log::error!("partition-manager: {e}"))?;
        let bytes = view.bytes(total as u64).map_err(|e| {
            log::error!("partition-manager: reading {total} bytes of manager data failed: {e}")
        })?;
        ManagerData::parse(bytes).map_err(|e| log::error!("partition-manager: {e}"))
    }

    fn main() {
        let Ok(data) = manager_data() else {
            verdict_or_exit(false);
        };
        let mut slots = Slots::new(data.used_slots());
        let mut window = Window::default();
        let partitions: Vec<Partition> = data.partitions().map(Partition::new).collect();
        let ledger = Ledger::new(
            partitions
                .iter()
                .map(|p| Entry::new(p.spec.badge, p.spec.expect)),
        );
        let mut manager = Manager { partitions, ledger };
        log::info!(
            "partition-manager: {} partitions, {} bytes of manager data",
            manager.partitions.len(),
            data.len()
        );
        let mut ready = alloc::vec![false; manager.partitions.len()];
        for (index, ready) in ready.iter_mut().enumerate() {
            *ready = setup(&mut manager.partitions[index], &mut slots, &mut window).is_ok();
        }
        // Every port before any connection: a connection may reach a port
        // of a partition made after its own.
        for (index, ready) in ready.iter_mut().enumerate() {
            *ready = *ready && create_ports(&manager.partitions[index]).is_ok();
        }
        for (index, ready) in ready.iter_mut().enumerate() {
            *ready = *ready && connect_ports(&manager.partitions, index).is_ok();
        }
        for (index, ready) in ready.into_iter().enumerate() {
            if !ready || start(&manager.partitions[index]).is_err() {
                manager.end(index, Outcome::SetupFailed);
            }
        }
        if manager.ledger.all_ended() {
            finish(&manager.ledger, true);
        }
        serve(&mut manager)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "partition-manager is a Tessera component: build it for x86_64-unknown-none (cargo xtask build)"
    );
    std::process::exit(2);
}
