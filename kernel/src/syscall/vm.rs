//! The partition and VP system calls (`tessera_abi::vm`): every argument
//! checked here, the work in `crate::vm`.
use super::{Result, create_into, lookup, succeed};
use crate::ipc_glue::{cap_status, words_of};
use crate::sched::Keep;
use crate::state::Kernel;
use crate::vm::{Route, VpState, forward};
use tessera_abi::vm::{MAX_REGISTER_TRIPLES, intercept, map};
use tessera_abi::{MESSAGE_BUFFER_WORDS, Status};
use tessera_capability::{
    CapError, Object, ObjectKind, PartitionId, Rights, SlotAddr, ThreadId, VpId,
};
use tessera_npt::GuestRights;
use tessera_vcpu::registers::VpRegisters;
use tlfs::register::HvRegisterName;

pub(super) fn words(kernel: &Kernel, thread: ThreadId) -> [u64; 6] {
    words_of(&kernel.threads[&thread].context)
}

fn selector(word: u64) -> Result<u32> {
    u32::try_from(word).map_err(|_| cap_status(CapError::InvalidSelector))
}

pub(super) fn partition_of(
    kernel: &Kernel,
    thread: ThreadId,
    cap: u64,
    rights: Rights,
) -> Result<PartitionId> {
    let cap = lookup(kernel, thread, cap, ObjectKind::Partition, rights)?;
    let Object::Partition(id) = cap.object else {
        unreachable!("looked up as a partition")
    };
    match kernel.partitions.get(id) {
        Some(partition) if !partition.destroyed => Ok(id),
        _ => Err(Status::InvalidArgument.code()),
    }
}

fn vp_of(kernel: &Kernel, thread: ThreadId, cap: u64, rights: Rights) -> Result<VpId> {
    let cap = lookup(kernel, thread, cap, ObjectKind::Vp, rights)?;
    let Object::Vp(id) = cap.object else {
        unreachable!("looked up as a VP")
    };
    match kernel.vps.get(id) {
        Some(_) => Ok(id),
        _ => Err(Status::InvalidArgument.code()),
    }
}

pub(super) fn partition_create(kernel: &mut Kernel, thread: ThreadId) -> Result<Keep> {
    let [slot, name @ .., apic] = words(kernel, thread);
    let apic =
        crate::vm::lapic::ApicChoice::from_word(apic).ok_or(Status::InvalidArgument.code())?;
    let mut bytes = [0u8; 32];
    for (chunk, word) in bytes.chunks_mut(8).zip(name) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let len = bytes[..32].iter().position(|&b| b == 0).unwrap_or(32);
    let name = core::str::from_utf8(&bytes[..len]).map_err(|_| Status::InvalidArgument.code())?;
    if name.is_empty() {
        return Err(Status::InvalidArgument.code());
    }
    let record = crate::vm::PARTITION_RECORD_BYTES;
    create_into(kernel, thread, slot, record, |kernel| {
        let partition = kernel.create_partition(name, kernel.cspace_of(thread), apic)?;
        Ok((
            Object::Partition(partition),
            Rights::CONTROL | Rights::READ | Rights::WRITE,
        ))
    })
}

pub(super) fn map_gpa(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::CONTROL)?;
    let [region_slot, gpa, flags, ..] = words(kernel, thread);
    if flags & !map::ALL != 0 || flags & map::READABLE == 0 {
        return Err(Status::InvalidArgument.code());
    }
    let rights = GuestRights {
        read: true,
        write: flags & map::WRITABLE != 0,
        execute: flags & map::EXECUTABLE != 0,
    };
    let needed = super::build::memory_rights(rights.write, rights.execute);
    let region_cap = lookup(kernel, thread, region_slot, ObjectKind::Memory, needed)?;
    let Object::Memory(region) = region_cap.object else {
        unreachable!("looked up as memory")
    };
    let via = SlotAddr::new(kernel.cspace_of(thread), selector(region_slot)?);
    kernel.map_gpa(partition, region, via, gpa, rights)?;
    succeed(kernel, thread)
}

pub(super) fn unmap_gpa(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::CONTROL)?;
    let gpa = words(kernel, thread)[0];
    let cpu = kernel.threads[&thread].cpu;
    if kernel.unmap_gpa_where(partition, cpu, |m| m.gpa == gpa) == 0 {
        return Err(Status::InvalidArgument.code());
    }
    succeed(kernel, thread)
}

/// The inclusive range a route's parameter word names.
fn route_range(kind: u64, parameter: u64) -> Result<(u64, u64)> {
    let range = match kind {
        intercept::IO_PORT => (parameter & 0xFFFF, (parameter >> 16) & 0xFFFF),
        intercept::MSR | intercept::CPUID | intercept::MEMORY | intercept::HYPERCALL => {
            (parameter & 0xFFFF_FFFF, parameter >> 32)
        }
        intercept::EXCEPTION => (0, 31),
        intercept::LIFECYCLE | intercept::HLT | intercept::EOI => (0, 0),
        _ => return Err(Status::InvalidArgument.code()),
    };
    let valid = match kind {
        intercept::IO_PORT => parameter >> 32 == 0 && range.0 <= range.1,
        intercept::MSR | intercept::CPUID => range.0 <= range.1,
        // Call codes are 16 bits.
        intercept::HYPERCALL => range.0 <= range.1 && range.1 <= 0xFFFF,
        // GPA page numbers.
        intercept::MEMORY => range.0 <= range.1 && range.1 < tessera_abi::vm::GPA_LIMIT >> 12,
        // Vectors 0-31; NMI (2) and machine checks (18) are the host's.
        intercept::EXCEPTION => {
            parameter != 0 && parameter >> 32 == 0 && parameter & (1 << 2 | 1 << 18) == 0
        }
        _ => parameter == 0,
    };
    if valid {
        Ok(range)
    } else {
        Err(Status::InvalidArgument.code())
    }
}

pub(super) fn install_intercept(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::CONTROL)?;
    let [kind, parameter, endpoint_slot, state, posted, _] = words(kernel, thread);
    let (first, last) = route_range(kind, parameter)?;
    if state & !tessera_abi::vm::state::ALL != 0 {
        return Err(Status::InvalidArgument.code());
    }
    // Only port writes are posted, and only to ports of the route.
    let posted_ports = match (posted, kind) {
        (0, _) => None,
        (mask, intercept::IO_PORT) => Some(
            tessera_vcpu::posted_writes::PostedPorts::new(first, last, mask)
                .ok_or(Status::InvalidArgument.code())?,
        ),
        _ => return Err(Status::InvalidArgument.code()),
    };
    let endpoint_cap = lookup(
        kernel,
        thread,
        endpoint_slot,
        ObjectKind::Endpoint,
        Rights::CALL,
    )?;
    let Object::Endpoint(endpoint) = endpoint_cap.object else {
        unreachable!("looked up as an endpoint")
    };
    let target = kernel
        .partitions
        .get_mut(partition)
        .ok_or(Status::InvalidArgument.code())?;
    let more = if kind == intercept::EXCEPTION {
        parameter.count_ones() as usize
    } else {
        1
    };
    if target.routes.len() + more > crate::vm::MAX_ROUTES {
        return Err(cap_status(CapError::OutOfMemory));
    }
    target
        .routes
        .try_reserve(more)
        .map_err(|_| cap_status(CapError::OutOfMemory))?;
    let overlaps = target.routes.iter().any(|route| {
        route.kind == kind
            && if kind == intercept::EXCEPTION {
                // Exception routes are vector sets.
                false
            } else {
                first <= route.last && route.first <= last
            }
    });
    let exception_taken =
        kind == intercept::EXCEPTION && target.exception_intercepts as u64 & parameter != 0;
    if overlaps || exception_taken {
        return Err(Status::Overlap.code());
    }
    let posted = match posted_ports {
        Some(ports) => Some(
            target
                .fast
                .posted
                .add(ports)
                .ok_or(cap_status(CapError::OutOfMemory))?,
        ),
        None => None,
    };
    if posted.is_some() {
        // Its VPs look at the queues from now on (`Vp::routes_post`).
        for &vp in &target.vps {
            if let Some(record) = kernel.vps.get_mut(vp) {
                record.routes_post = true;
            }
        }
    }
    if kind == intercept::EXCEPTION {
        // One route per vector, so the lookup by vector finds it.
        for vector in (0..32).filter(|v| parameter & (1 << v) != 0) {
            let slot = target.routes.len();
            target.routes.push(Route {
                kind,
                first: vector,
                last: vector,
                endpoint,
                badge: endpoint_cap.badge,
                state,
                slot,
                posted: None,
            });
        }
        kernel.add_exception_intercepts(partition, parameter as u32);
    } else {
        match kind {
            intercept::CPUID => target.fast.cpuid_routes.add(first as u32, last as u32),
            intercept::IO_PORT => target.fast.port_routes.add(first as u32, last as u32),
            intercept::HYPERCALL => target.fast.hypercall_routes.add(first as u32, last as u32),
            _ => {}
        }
        let slot = target.routes.len();
        target.routes.push(Route {
            kind,
            first,
            last,
            endpoint,
            badge: endpoint_cap.badge,
            state,
            slot,
            posted,
        });
    }
    succeed(kernel, thread)
}

pub(super) fn vp_create(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::CONTROL)?;
    let [slot, index, cpu, priority, ..] = words(kernel, thread);
    let own = kernel
        .ipc
        .priority(thread)
        .map_err(crate::ipc_glue::ipc_status)?;
    let priority = u8::try_from(priority)
        .ok()
        .filter(|&p| p <= own)
        .ok_or(Status::InvalidArgument.code())?;
    let index = u32::try_from(index).map_err(|_| Status::InvalidArgument.code())?;
    let cpu = usize::try_from(cpu).map_err(|_| Status::InvalidArgument.code())?;
    let domain = kernel.threads[&thread].domain;
    create_into(kernel, thread, slot, crate::vm::VP_RECORD_BYTES, |kernel| {
        let vp = kernel.create_vp(partition, domain, index, cpu, priority)?;
        Ok((
            Object::Vp(vp),
            Rights::CONTROL | Rights::READ | Rights::WRITE,
        ))
    })
}

/// The register triples of a Get/SetVpRegisters call: count in word 0.
fn register_count(kernel: &Kernel, thread: ThreadId) -> Result<usize> {
    let count = usize::try_from(words(kernel, thread)[0]).unwrap_or(usize::MAX);
    if count == 0 || count > MAX_REGISTER_TRIPLES {
        return Err(Status::InvalidArgument.code());
    }
    Ok(count)
}

fn stopped_vp(kernel: &Kernel, thread: ThreadId, cap: u64, rights: Rights) -> Result<VpId> {
    let vp = vp_of(kernel, thread, cap, rights)?;
    match kernel.vps.get(vp).map(|v| v.state) {
        Some(VpState::Stopped) => Ok(vp),
        _ => Err(Status::VpRunning.code()),
    }
}

fn fail_at(kernel: &mut Kernel, thread: ThreadId, index: usize) -> u64 {
    kernel.thread(thread).context.rsi = index as u64;
    Status::InvalidArgument.code()
}

pub(super) fn vp_get_registers(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let vp = stopped_vp(kernel, thread, cap, Rights::READ)?;
    let count = register_count(kernel, thread)?;
    let frame = kernel.threads[&thread].message_buffer;
    let mut triples = [0u64; MESSAGE_BUFFER_WORDS];
    triples[..count * 3].copy_from_slice(forward::read_buffer(frame, count * 3));
    let record = kernel
        .vps
        .get_mut(vp)
        .ok_or(Status::InvalidArgument.code())?;
    // Reads through a copy: the VMCB hands out `&mut` only to writers,
    // whose writes it tracks for the clean bits.
    let mut vmcb = *record.vmcb;
    let mut registers = VpRegisters {
        vmcb: &mut vmcb,
        gprs: &mut record.gprs,
    };
    for index in 0..count {
        let Ok(name) = u32::try_from(triples[index * 3]) else {
            return Err(fail_at(kernel, thread, index));
        };
        match registers.get(HvRegisterName(name)) {
            Ok((low, high)) => {
                triples[index * 3 + 1] = low;
                triples[index * 3 + 2] = high;
            }
            Err(_) => return Err(fail_at(kernel, thread, index)),
        }
    }
    forward::write_buffer_words(frame, &triples[..count * 3]);
    succeed(kernel, thread)
}

pub(super) fn vp_set_registers(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let vp = stopped_vp(kernel, thread, cap, Rights::WRITE)?;
    let count = register_count(kernel, thread)?;
    let frame = kernel.threads[&thread].message_buffer;
    let triples = forward::read_buffer(frame, count * 3);
    let record = kernel
        .vps
        .get_mut(vp)
        .ok_or(Status::InvalidArgument.code())?;
    // All or nothing: the writes go to copies first.
    let mut vmcb = *record.vmcb;
    let mut gprs = record.gprs;
    let mut registers = VpRegisters {
        vmcb: &mut vmcb,
        gprs: &mut gprs,
    };
    for (index, triple) in triples.chunks_exact(3).enumerate() {
        let name = u32::try_from(triple[0]).map(HvRegisterName);
        if name.map(|name| registers.set(name, (triple[1], triple[2]))) != Ok(Ok(())) {
            return Err(fail_at(kernel, thread, index));
        }
    }
    let record = kernel
        .vps
        .get_mut(vp)
        .ok_or(Status::InvalidArgument.code())?;
    // A component set registers: every clean-bit area counts as written.
    *record.vmcb.all_mut() = vmcb;
    record.gprs = gprs;
    // The registers are the component's now, interrupt shadow included.
    record.exit_rip = None;
    succeed(kernel, thread)
}

pub(super) fn vp_start(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let vp = vp_of(kernel, thread, cap, Rights::CONTROL)?;
    kernel.start_vp(vp)?;
    succeed(kernel, thread)
}

pub(super) fn vp_stop(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let vp = vp_of(kernel, thread, cap, Rights::CONTROL)?;
    if kernel.request_stop(vp, thread)? {
        succeed(kernel, thread)
    } else {
        // The VP leaves its guest at its next exit; the call returns then.
        Ok(Keep::Blocked)
    }
}

pub(super) fn vp_assert_interrupt(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let vp = vp_of(kernel, thread, cap, Rights::CONTROL)?;
    let event = words(kernel, thread)[0];
    kernel.assert_interrupt(vp, event)?;
    succeed(kernel, thread)
}

/// `PartitionAssertInterrupt`: the interrupt controller's message, checked
/// (`Assertion::from_words`), to the APICs it names, or its 8259 output's
/// level to VP 0 (`extint.rs`); word 0 answers how many took it. WRITE,
/// not CONTROL: the holder can interrupt the partition and do nothing else
/// to it.
pub(super) fn partition_assert_interrupt(
    kernel: &mut Kernel,
    thread: ThreadId,
    cap: u64,
) -> Result<Keep> {
    let partition = partition_of(kernel, thread, cap, Rights::WRITE)?;
    let [vector, destination, flags, ..] = words(kernel, thread);
    use crate::vm::device_interrupt::Assertion;
    let reached = match Assertion::from_words(vector, destination, flags)? {
        Assertion::Message(message) => kernel.deliver_device_interrupt(partition, message)?,
        Assertion::PicOutput(level) => kernel.set_pic_output(partition, level)?,
    };
    let context = &mut kernel.thread(thread).context;
    context.rsi = u64::from(reached);
    succeed(kernel, thread)
}

pub(super) fn partition_set_hv1(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    use tessera_abi::vm::hv1::WORDS;
    let partition = partition_of(kernel, thread, cap, Rights::CONTROL)?;
    let frame = kernel.threads[&thread].message_buffer;
    let mut words = [0u64; WORDS];
    words.copy_from_slice(forward::read_buffer(frame, WORDS));
    let cpu = kernel.threads[&thread].cpu;
    kernel.set_hv1(partition, &words, cpu)?;
    succeed(kernel, thread)
}
