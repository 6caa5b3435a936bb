//! Making domains, their memory and their threads: the mechanism behind
//! both the kernel's loading of `init` and `init`'s system calls. Every
//! failure is a status code for the caller, never a kernel fault.
use crate::arch::user_context::UserContext;
use crate::ipc_glue::cap_status;
use crate::memory::address_space::{AddressSpace, MapError, PageRights};
use crate::memory::charged::Charged;
use crate::memory::heap::try_box;
use crate::memory::physical_to_virtual;
use crate::state::{Domain, Kernel, Thread};
use tessera_abi::{CSPACE_SLOTS, MESSAGE_BUFFER_ADDRESS, Status};
use tessera_capability::{CSpaceId, CapError, DomainId, ThreadId};
use tessera_ipc::Priority;

const PAGE: u64 = 4096;

/// The status for a refused mapping (`charged` says why frames ran out).
fn map_status(error: MapError, charged: &Charged<'_>) -> u64 {
    match error {
        MapError::OutOfMemory => charged.status(),
        MapError::OutsideUserSpace(_) | MapError::AlreadyMapped(_) => {
            Status::InvalidArgument.code()
        }
    }
}

impl Kernel {
    /// A new, empty domain with a capability space whose quota is `quota`,
    /// taken from `parent`'s quota if it has a parent (init has none).
    pub fn create_domain(
        &mut self,
        name: &str,
        quota: u64,
        parent: Option<CSpaceId>,
    ) -> Result<DomainId, u64> {
        let out_of_memory = cap_status(CapError::OutOfMemory);
        // Domains that ended and that nobody names give their slots back
        // first.
        self.reap_domains();
        self.domains.reserve(1).map_err(|_| out_of_memory)?;
        let cspace = match parent {
            Some(parent) => self.caps.create_child_cspace(parent, CSPACE_SLOTS, quota),
            None => self.caps.create_cspace(CSPACE_SLOTS, quota),
        }
        .map_err(cap_status)?;
        // The address space's root is the domain's first frame.
        let mut charged = Charged::to(&mut self.caps, cspace);
        let space = match AddressSpace::new(&mut charged) {
            Ok(space) => space,
            Err(error) => {
                let status = map_status(error, &charged);
                let _ = self.caps.retire_cspace(cspace, &mut |_| {});
                return Err(status);
            }
        };
        let domain = Domain {
            name: crate::state::name(name),
            cspace,
            space,
            ending: None,
            unnamed: false,
            ending_now: false,
            console_line: heapless::Vec::new(),
            log_budget: Default::default(),
        };
        // Room was reserved above, so this cannot fail.
        self.domains.insert(domain).map_err(|_| out_of_memory)
    }

    /// Maps `pages` fresh zeroed pages at `address` in `domain`, each charged
    /// to its quota.
    pub fn map_pages(
        &mut self,
        domain: DomainId,
        address: u64,
        pages: u64,
        rights: PageRights,
    ) -> Result<(), u64> {
        if !address.is_multiple_of(PAGE) || pages == 0 || rights.writable && rights.executable {
            return Err(Status::InvalidArgument.code());
        }
        let end = pages
            .checked_mul(PAGE)
            .and_then(|bytes| address.checked_add(bytes))
            .ok_or(Status::InvalidArgument.code())?;
        let Kernel { caps, domains, .. } = self;
        let record = domains
            .get_mut(domain)
            .ok_or(Status::InvalidArgument.code())?;
        let mut charged = Charged::to(caps, record.cspace);
        for page in (address..end).step_by(PAGE as usize) {
            if let Err(error) = record.space.map_fresh(page, rights, &mut charged) {
                return Err(map_status(error, &charged));
            }
        }
        Ok(())
    }

    /// Copies `bytes` into `domain`'s memory at `address`, which must be a
    /// page of the domain's own, not a memory region it maps (the kernel
    /// writes through the physical map, never through a component's
    /// addresses, so page rights do not stop it: this check does).
    pub fn write_into(&mut self, domain: DomainId, address: u64, bytes: &[u8]) -> Result<(), u64> {
        let space = &mut self
            .domains
            .get_mut(domain)
            .ok_or(Status::InvalidArgument.code())?
            .space;
        let mut done = 0;
        while done < bytes.len() {
            let at = address
                .checked_add(done as u64)
                .ok_or(Status::InvalidArgument.code())?;
            let frame = space
                .translate_own(at)
                .ok_or(Status::InvalidArgument.code())?;
            let room = (PAGE - at % PAGE) as usize;
            let chunk = &bytes[done..bytes.len().min(done + room)];
            let target = physical_to_virtual(frame.as_u64()).as_mut_ptr::<u8>();
            // `frame` is the physical address of `at` in a page mapped
            // into the target domain; the chunk stops at the page's end.
            // SAFETY: by the argument just above.
            unsafe { core::ptr::copy_nonoverlapping(chunk.as_ptr(), target, chunk.len()) };
            done += chunk.len();
        }
        Ok(())
    }

    /// A thread of `domain` that will start at `entry` with `stack` on
    /// `cpu`, not yet runnable; its message buffer is mapped and charged to
    /// the domain. The kernel may later move it to the CPUs of
    /// `movable_to` (bit `n`: CPU `n`) that this machine has: an affinity
    /// names where a thread may run, and a CPU the machine lacks is one it
    /// never runs on anyway.
    pub fn create_thread(
        &mut self,
        domain: DomainId,
        entry: u64,
        stack: u64,
        priority: Priority,
        (cpu, movable_to): (usize, u64),
    ) -> Result<ThreadId, u64> {
        if cpu >= self.sched.cpus() {
            return Err(Status::InvalidArgument.code());
        }
        let present = u64::MAX
            .checked_shl(self.sched.cpus() as u32)
            .map_or(u64::MAX, |above| !above);
        let cspace = self
            .domains
            .get(domain)
            .ok_or(Status::InvalidArgument.code())?
            .cspace;
        let out_of_memory = cap_status(CapError::OutOfMemory);
        let context = try_box(UserContext::new(entry, stack)).map_err(|_| out_of_memory)?;
        let buffer = PageRights {
            writable: true,
            executable: false,
        };
        self.map_pages(domain, MESSAGE_BUFFER_ADDRESS, 1, buffer)?;
        let message_buffer = self
            .domains
            .get_mut(domain)
            .and_then(|d| d.space.translate_own(MESSAGE_BUFFER_ADDRESS))
            .ok_or(Status::InvalidArgument.code())?;
        let thread = self.add_ipc_thread(domain, priority)?;
        let record = Thread {
            domain,
            cspace,
            cpu,
            movable_to: movable_to & present,
            context,
            message_buffer,
            started: false,
            dead: false,
            vp: None,
        };
        if self.threads.insert(thread, record).is_err() {
            let _ = self.ipc.remove_thread(thread, &mut |_| {});
            return Err(out_of_memory);
        }
        Ok(thread)
    }
}
