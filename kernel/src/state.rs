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
use alloc::string::String;
use alloc::vec::Vec;
use spin::Mutex;
use tessera_capability::{CSpaceId, CapTable, DomainId, Object, ThreadId};
use tessera_ipc::Ipc;

pub static KERNEL: Mutex<Option<Kernel>> = Mutex::new(None);

/// How a component ended, if it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Exited(u64),
    Faulted,
}

/// A component: a protection domain (address space plus capability space).
#[derive(Debug)]
pub struct Domain {
    pub name: String,
    pub id: DomainId,
    pub cspace: CSpaceId,
    pub space: AddressSpace,
    pub ending: Option<Ending>,
    /// Console output up to the next newline.
    pub console_line: Vec<u8>,
}

/// Thread records by the IPC machine's thread index: every system call
/// looks its caller up here, so this is a plain vector, not a hash map.
#[derive(Debug, Default)]
pub struct ThreadTable {
    slots: Vec<Option<(ThreadId, Thread)>>,
}

impl ThreadTable {
    pub fn insert(&mut self, id: ThreadId, thread: Thread) {
        let index = id.index() as usize;
        if self.slots.len() <= index {
            self.slots.resize_with(index + 1, || None);
        }
        self.slots[index] = Some((id, thread));
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

/// A thread of a component.
#[derive(Debug)]
pub struct Thread {
    /// Index into `Kernel::domains`.
    pub domain: usize,
    /// The CPU the thread runs on (its affinity's first online CPU).
    pub cpu: usize,
    /// Boxed so its address stays put while `syscall_entry` writes to it.
    pub context: Box<UserContext>,
    /// The frame of the thread's message buffer (ABI: MESSAGE_BUFFER_ADDRESS).
    pub message_buffer: x86_64::PhysAddr,
    /// Set once, by ThreadStart (or the kernel for init): a second start
    /// would queue a thread that is already running.
    pub started: bool,
    pub dead: bool,
    /// For a VP's thread: the VP (index into `Kernel::vps`). Running the
    /// thread means running the guest.
    pub vp: Option<usize>,
}

#[derive(Debug)]
pub struct Kernel {
    pub caps: CapTable<Object>,
    pub ipc: Ipc,
    pub domains: Vec<Domain>,
    pub threads: ThreadTable,
    pub sched: Scheduler,
    /// Memory regions by `MemoryId` index (indices are never reused).
    pub regions: Vec<Option<crate::regions::MemoryRegion>>,
    /// Whether a component holds the verdict capability (then only it ends
    /// the deployment; otherwise the deployment ends when all is quiet).
    pub has_verdict_holder: bool,
    /// Partitions and VPs by index (indices are never reused; VPs are
    /// boxed because the world switch holds a pointer into one without
    /// the lock).
    pub partitions: Vec<Option<crate::vm::Partition>>,
    pub vps: Vec<Option<Box<crate::vm::Vp>>>,
}

impl Kernel {
    pub fn new(cpus: usize) -> Self {
        Kernel {
            caps: CapTable::new(),
            ipc: Ipc::new(),
            domains: Vec::new(),
            threads: ThreadTable::default(),
            sched: Scheduler::new(cpus),
            regions: Vec::new(),
            has_verdict_holder: false,
            partitions: Vec::new(),
            vps: Vec::new(),
        }
    }

    pub fn thread(&mut self, id: ThreadId) -> &mut Thread {
        self.threads
            .get_mut(&id)
            .expect("every ThreadId the kernel holds has a record")
    }

    pub fn domain_of(&self, id: ThreadId) -> &Domain {
        &self.domains[self.threads[&id].domain]
    }
}
