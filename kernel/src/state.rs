//! The kernel's objects and the one lock that guards them.
//!
//! Every system call, fault and scheduling decision takes `KERNEL` for its
//! whole (short, bounded) run; no path blocks while holding it, and no path
//! holds it into ring 3. One lock keeps the multi-CPU kernel simple and
//! correct first; finer locking can come where measurements ask for it.
use crate::arch::user_context::UserContext;
use crate::memory::address_space::AddressSpace;
use crate::sched::Scheduler;
use alloc::boxed::Box;
use alloc::vec::Vec;
use spin::Mutex;
use tessera_capability::{
    CSpaceId, CapTable, DomainId, MemoryId, Object, PartitionId, ThreadId, VpId,
};
use tessera_ipc::Ipc;
use tessera_slots::{OutOfMemory, Slots};

pub static KERNEL: Mutex<Option<Kernel>> = Mutex::new(None);

/// How a component ended, if it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Exited(u64),
    Faulted,
    /// Its last capability was deleted, or only domains that cannot run
    /// name it (`unreachable_domains`), or none of its threads can ever run
    /// (none was started, and no capability that could start one is left).
    Abandoned,
}

/// The longest name a domain or partition has (the ABI's 32 bytes).
pub const NAME_MAX: usize = 32;

/// A domain's or partition's name, for logs; it needs no heap.
pub type Name = heapless::String<NAME_MAX>;

/// `text` as a [`Name`], cut at [`NAME_MAX`] bytes (on a character boundary).
pub fn name(text: &str) -> Name {
    let mut end = text.len().min(NAME_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut name = Name::new();
    let _ = name.push_str(&text[..end]);
    name
}

/// A component: a protection domain (address space plus capability space).
#[derive(Debug)]
pub struct Domain {
    pub name: Name,
    pub cspace: CSpaceId,
    pub space: AddressSpace,
    pub ending: Option<Ending>,
    /// No capability names it any more: it goes once it has ended.
    pub unnamed: bool,
    /// `end_domain` is taking it apart (it goes after that, not during).
    pub ending_now: bool,
    /// Console output up to the next newline.
    pub console_line: heapless::Vec<u8, { crate::console::COMPONENT_LINE_MAX }>,
    /// The lines its system calls make the kernel print (`component_log!`).
    pub log_budget: tessera_vcpu::log_budget::LineBudget,
}

/// Thread records by the IPC machine's thread index: every system call
/// looks its caller up here, so this is a plain vector, not a hash map.
#[derive(Debug, Default)]
pub struct ThreadTable {
    slots: Vec<Option<(ThreadId, Thread)>>,
}

impl ThreadTable {
    /// Makes room for the record of `id` (the IPC machine's slot indices,
    /// which it reuses, so this table stays as large as the most threads
    /// alive at once).
    pub fn reserve(&mut self, id: ThreadId) -> Result<(), OutOfMemory> {
        let index = id.index() as usize;
        if self.slots.len() <= index {
            let more = index + 1 - self.slots.len();
            self.slots.try_reserve(more).map_err(|_| OutOfMemory)?;
            self.slots.resize_with(index + 1, || None);
        }
        Ok(())
    }

    /// Records `thread` under `id`.
    pub fn insert(&mut self, id: ThreadId, thread: Thread) -> Result<(), OutOfMemory> {
        self.reserve(id)?;
        if let Some(slot) = self.slots.get_mut(id.index() as usize) {
            *slot = Some((id, thread));
        }
        Ok(())
    }

    /// Drops the record of a thread that is gone for good.
    pub fn remove(&mut self, id: &ThreadId) -> Option<Thread> {
        let slot = self.slots.get_mut(id.index() as usize)?;
        match slot {
            Some((known, _)) if known == id => slot.take().map(|(_, thread)| thread),
            _ => None,
        }
    }

    pub fn get(&self, id: &ThreadId) -> Option<&Thread> {
        match self.slots.get(id.index() as usize)? {
            Some((known, thread)) if known == id => Some(thread),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, id: &ThreadId) -> Option<&mut Thread> {
        match self.slots.get_mut(id.index() as usize)? {
            Some((known, thread)) if known == id => Some(thread),
            _ => None,
        }
    }

    /// Slots the table has grown to (live threads and empty slots).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (ThreadId, &Thread)> {
        self.slots
            .iter()
            .flatten()
            .map(|(id, thread)| (*id, thread))
    }
}

impl core::ops::Index<&ThreadId> for ThreadTable {
    type Output = Thread;

    fn index(&self, id: &ThreadId) -> &Thread {
        self.get(id)
            .expect("every ThreadId the kernel holds has a record")
    }
}

/// The kernel heap a thread takes (its record and its saved registers),
/// charged to whoever makes it.
pub const THREAD_RECORD_BYTES: u64 = (size_of::<Thread>() + size_of::<UserContext>()) as u64;

/// A thread of a component.
#[derive(Debug)]
pub struct Thread {
    pub domain: DomainId,
    /// The domain's capability space (every system call looks it up).
    pub cspace: CSpaceId,
    /// The CPU the thread runs on (its affinity's first online CPU).
    pub cpu: usize,
    /// The other CPUs the kernel may move it to (bit `n`: CPU `n`; the
    /// creator's `ThreadCreate` word 5): a forwarded exit brings a waiting
    /// handler to its VP's CPU only within these (`vm/forward.rs`).
    pub movable_to: u64,
    /// Boxed so its address stays put while `syscall_entry` writes to it.
    pub context: Box<UserContext>,
    /// The frame of the thread's message buffer (ABI: MESSAGE_BUFFER_ADDRESS).
    pub message_buffer: x86_64::PhysAddr,
    /// Set once, by ThreadStart (or the kernel for init): a second start
    /// would queue a thread that is already running.
    pub started: bool,
    pub dead: bool,
    /// For a VP's thread: the VP. Running the thread means running the
    /// guest.
    pub vp: Option<VpId>,
}

impl Thread {
    /// What the fast paths' guards ask of it (`tessera_ipc::switches_directly`).
    #[inline]
    pub fn woken(&self) -> tessera_ipc::WokenThread {
        tessera_ipc::WokenThread {
            cpu: self.cpu,
            dead: self.dead,
            vp: self.vp.is_some(),
            movable_to: self.movable_to,
        }
    }
}

#[derive(Debug)]
pub struct Kernel {
    pub caps: CapTable<Object>,
    pub ipc: Ipc,
    pub domains: Slots<DomainId, Domain>,
    pub threads: ThreadTable,
    pub sched: Scheduler,
    pub regions: Slots<MemoryId, crate::regions::MemoryRegion>,
    /// Whether a component holds the verdict capability (then only it ends
    /// the deployment; otherwise the deployment ends when all is quiet).
    pub has_verdict_holder: bool,
    pub partitions: Slots<PartitionId, crate::vm::Partition>,
    /// Boxed because the world switch holds a pointer into a VP without
    /// the lock.
    pub vps: Slots<VpId, Box<crate::vm::Vp>>,
    /// The threads an IPC operation woke (`Kernel::waking`), with room for
    /// every thread, so waking them allocates nothing.
    pub woken: Vec<ThreadId>,
    /// `end_unreachable_domains` is running (the ends it causes delete
    /// capabilities, which would start it again).
    pub ending_unreachable: bool,
    /// A domain waits to be reaped until a CPU that still holds its
    /// address space loads another (`reap_if_pending`).
    pub reap_pending: bool,
    /// Components' deadlines (`component_timers.rs`).
    pub component_timers: crate::component_timers::ComponentTimers,
}

impl Kernel {
    pub fn new(cpus: usize) -> Self {
        Kernel {
            caps: CapTable::new(),
            ipc: Ipc::new(),
            domains: Slots::new(),
            threads: ThreadTable::default(),
            sched: Scheduler::new(cpus),
            regions: Slots::new(),
            has_verdict_holder: false,
            partitions: Slots::new(),
            vps: Slots::new(),
            woken: Vec::new(),
            ending_unreachable: false,
            reap_pending: false,
            component_timers: crate::component_timers::ComponentTimers::new(),
        }
    }

    /// Adds a thread to the IPC machine, with room to record its wakeup and
    /// to queue it on any CPU.
    pub fn add_ipc_thread(
        &mut self,
        domain: DomainId,
        priority: tessera_ipc::Priority,
    ) -> Result<ThreadId, u64> {
        let out_of_memory = crate::ipc_glue::cap_status(tessera_capability::CapError::OutOfMemory);
        let threads = self.ipc.thread_count() + 1;
        if self.woken.capacity() < threads {
            self.woken
                .try_reserve_exact(threads - self.woken.len())
                .map_err(|_| out_of_memory)?;
        }
        // Room on every CPU's queue for every thread: a handler moves to
        // the CPU of the VP whose exit it serves (`vm/forward.rs`), and
        // queueing must never allocate.
        for queue in 0..self.sched.cpus() {
            self.sched
                .reserve(queue, threads)
                .map_err(|_| out_of_memory)?;
        }
        self.ipc
            .add_thread(domain, priority)
            .map_err(crate::ipc_glue::ipc_status)
    }

    pub fn thread(&mut self, id: ThreadId) -> &mut Thread {
        self.threads
            .get_mut(&id)
            .expect("every ThreadId the kernel holds has a record")
    }

    /// The domain of thread `id`, while it exists.
    pub fn domain_of(&self, id: ThreadId) -> Option<&Domain> {
        self.domains.get(self.threads.get(&id)?.domain)
    }

    /// The capability space of thread `id`'s domain.
    pub fn cspace_of(&self, id: ThreadId) -> CSpaceId {
        self.threads[&id].cspace
    }
}
