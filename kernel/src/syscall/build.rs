//! The system calls that build a deployment: domains, their memory and
//! threads, endpoints, and capabilities installed into other domains. They
//! need CONTROL on the domain (or thread) they act on; `init` holds that for
//! the components it builds and drops it when it is done.
use super::{Result, create_into, lookup, succeed};
use crate::ipc_glue::{cap_status, ipc_status};
use crate::memory::address_space::PageRights;
use crate::sched::Keep;
use crate::state::Kernel;
use tessera_abi::{DOMAIN_WRITE_MAX, Status, page};
use tessera_capability::{
    Badge, CapError, DomainId, Object, ObjectKind, Rights, SlotAddr, ThreadId,
};

/// What an endpoint's or notification's record costs its creator.
const IPC_RECORD_BYTES: u64 = 64;

fn words(kernel: &Kernel, thread: ThreadId) -> [u64; 6] {
    crate::ipc_glue::words_of(&kernel.threads[&thread].context)
}

fn selector(word: u64) -> Result<u32> {
    u32::try_from(word).map_err(|_| cap_status(CapError::InvalidSelector))
}

/// The domain named by the CONTROL capability in `rdi`; a domain that has
/// ended cannot be built on.
fn controlled_domain(kernel: &Kernel, thread: ThreadId, cap: u64) -> Result<DomainId> {
    let cap = lookup(kernel, thread, cap, ObjectKind::Domain, Rights::CONTROL)?;
    let Object::Domain(id) = cap.object else {
        unreachable!("looked up as a domain")
    };
    match kernel.domains.get(id) {
        Some(domain) if domain.ending.is_none() => Ok(id),
        _ => Err(ipc_status(tessera_ipc::IpcError::ServerDied)),
    }
}

pub(super) fn domain_create(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let parent = controlled_domain(kernel, thread, cap)?;
    let [slot, quota, name @ ..] = words(kernel, thread);
    let mut bytes = [0u8; 32];
    for (chunk, word) in bytes.chunks_mut(8).zip(name) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let name = core::str::from_utf8(&bytes[..len]).map_err(|_| Status::InvalidArgument.code())?;
    if name.is_empty() {
        return Err(Status::InvalidArgument.code());
    }
    // The child's quota comes out of the parent's: no domain can make memory
    // it was not given.
    let parent_cspace = kernel
        .domains
        .get(parent)
        .ok_or(Status::InvalidArgument.code())?
        .cspace;
    let record = size_of::<crate::state::Domain>() as u64;
    create_into(kernel, thread, slot, record, |kernel| {
        let domain = kernel.create_domain(name, quota, Some(parent_cspace))?;
        Ok((Object::Domain(domain), Rights::CONTROL))
    })
}

pub(super) fn domain_map(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let domain = controlled_domain(kernel, thread, cap)?;
    let [address, pages, flags, ..] = words(kernel, thread);
    if flags & !(page::WRITE | page::EXECUTE) != 0 || pages > 1 << 20 {
        return Err(Status::InvalidArgument.code());
    }
    let rights = PageRights {
        writable: flags & page::WRITE != 0,
        executable: flags & page::EXECUTE != 0,
    };
    kernel.map_pages(domain, address, pages, rights)?;
    succeed(kernel, thread)
}

pub(super) fn domain_write(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let domain = controlled_domain(kernel, thread, cap)?;
    let [address, len, data @ ..] = words(kernel, thread);
    let len = usize::try_from(len)
        .ok()
        .filter(|&len| len <= DOMAIN_WRITE_MAX);
    let len = len.ok_or(Status::InvalidArgument.code())?;
    let mut bytes = [0u8; DOMAIN_WRITE_MAX];
    for (chunk, word) in bytes.chunks_mut(8).zip(data) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    kernel.write_into(domain, address, &bytes[..len])?;
    succeed(kernel, thread)
}

pub(super) fn thread_create(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let domain = controlled_domain(kernel, thread, cap)?;
    let [slot, entry, stack, priority, cpu, movable_to] = words(kernel, thread);
    // IRETQ to a non-canonical RIP would fault in the kernel: a thread may
    // only start in the component's half of the address space.
    if entry >= tessera_abi::USER_SPACE_END || stack > tessera_abi::USER_SPACE_END {
        return Err(Status::InvalidArgument.code());
    }
    // No thread can be made more important than the one making it.
    let own = kernel.ipc.priority(thread).map_err(ipc_status)?;
    let priority = u8::try_from(priority).ok().filter(|&p| p <= own);
    let priority = priority.ok_or(Status::InvalidArgument.code())?;
    let cpu = usize::try_from(cpu).map_err(|_| Status::InvalidArgument.code())?;
    let record = crate::state::THREAD_RECORD_BYTES;
    create_into(kernel, thread, slot, record, |kernel| {
        let new = kernel.create_thread(domain, entry, stack, priority, (cpu, movable_to))?;
        Ok((Object::Thread(new), Rights::CONTROL))
    })
}

pub(super) fn thread_start(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let cap = lookup(kernel, thread, cap, ObjectKind::Thread, Rights::CONTROL)?;
    let Object::Thread(started) = cap.object else {
        unreachable!("looked up as a thread")
    };
    let record = kernel
        .threads
        .get(&started)
        .ok_or(Status::InvalidArgument.code())?;
    if record.started || record.dead || kernel.ipc.state(started).is_err() {
        return Err(Status::InvalidArgument.code());
    }
    let (domain, cpu) = (record.domain, record.cpu);
    kernel.thread(started).started = true;
    if let Some(record) = kernel.domains.get(domain) {
        log::info!(
            "component {}: started (domain {}, priority {}, cpu {cpu})",
            record.name,
            domain.index(),
            kernel.ipc.priority(started).unwrap_or(0)
        );
    }
    kernel.wake(started);
    succeed(kernel, thread)
}

pub(super) fn endpoint_create(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let owner = controlled_domain(kernel, thread, cap)?;
    let [slot, kind, ceiling, ..] = words(kernel, thread);
    let ceiling = u8::try_from(ceiling).map_err(|_| Status::InvalidArgument.code())?;
    create_into(
        kernel,
        thread,
        slot,
        IPC_RECORD_BYTES,
        |kernel| match kind {
            0 => {
                let endpoint = kernel
                    .ipc
                    .create_endpoint(owner, ceiling)
                    .map_err(ipc_status)?;
                Ok((Object::Endpoint(endpoint), Rights::CALL | Rights::RECEIVE))
            }
            1 => {
                let notification = kernel.ipc.create_notification().map_err(ipc_status)?;
                Ok((
                    Object::Notification(notification),
                    Rights::SIGNAL | Rights::WAIT,
                ))
            }
            _ => Err(Status::InvalidArgument.code()),
        },
    )
}

pub(super) fn cap_install(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let target = controlled_domain(kernel, thread, cap)?;
    let [source, destination, rights, badge, ..] = words(kernel, thread);
    let from = SlotAddr::new(kernel.cspace_of(thread), selector(source)?);
    let target_cspace = kernel
        .domains
        .get(target)
        .ok_or(Status::InvalidArgument.code())?
        .cspace;
    let to = SlotAddr::new(target_cspace, selector(destination)?);
    let rights = u32::try_from(rights)
        .ok()
        .and_then(Rights::from_bits)
        .ok_or(Status::InvalidArgument.code())?;
    let object = kernel.caps.get(from).map_err(cap_status)?.object;
    let result = if badge == 0 {
        kernel.caps.grant(from, to, rights)
    } else {
        kernel.caps.grant_badged(from, to, rights, Badge(badge))
    };
    result.map_err(cap_status)?;
    if object == Object::Verdict && target != kernel.threads[&thread].domain {
        kernel.has_verdict_holder = true;
    }
    succeed(kernel, thread)
}

pub(super) fn memory_create(kernel: &mut Kernel, thread: ThreadId) -> Result<Keep> {
    let [slot, pages, ..] = words(kernel, thread);
    let payer = kernel.cspace_of(thread);
    // Check the quota before taking frames, so an oversized request costs
    // nothing (each frame is charged as it is taken).
    let available = kernel.caps.quota(payer).map_err(cap_status)?.available();
    if pages.saturating_mul(4096) > available {
        return Err(cap_status(CapError::QuotaExhausted));
    }
    // The frames are charged to the caller until the region goes; the
    // capability's object carries the region's record.
    let record = crate::regions::record_bytes(pages.min(crate::regions::MAX_REGION_PAGES));
    create_into(kernel, thread, slot, record, |kernel| {
        let region = kernel.create_region(pages, payer)?;
        Ok((
            Object::Memory(region),
            Rights::READ | Rights::WRITE | Rights::EXECUTE,
        ))
    })
}

/// The rights a memory capability needs to be mapped readable and, as
/// asked, writable and executable (into a domain or a partition).
pub(super) fn memory_rights(write: bool, execute: bool) -> Rights {
    let mut needed = Rights::READ;
    if write {
        needed |= Rights::WRITE;
    }
    if execute {
        needed |= Rights::EXECUTE;
    }
    needed
}

pub(super) fn memory_map(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    let [domain_slot, address, flags, ..] = words(kernel, thread);
    if flags & !(page::WRITE | page::EXECUTE) != 0 {
        return Err(Status::InvalidArgument.code());
    }
    let rights = PageRights {
        writable: flags & page::WRITE != 0,
        executable: flags & page::EXECUTE != 0,
    };
    let needed = memory_rights(rights.writable, rights.executable);
    let region = lookup(kernel, thread, cap, ObjectKind::Memory, needed)?;
    let Object::Memory(id) = region.object else {
        unreachable!("looked up as memory")
    };
    let target = controlled_domain(kernel, thread, domain_slot)?;
    let via = SlotAddr::new(kernel.cspace_of(thread), selector(cap)?);
    kernel.map_region(id, via, target, address, rights)?;
    succeed(kernel, thread)
}
