//! The ready queues: which threads each CPU may run next, by priority,
//! and how a woken thread gets onto its CPU's queue.
use super::Keep;
use crate::arch::apic;
use crate::arch::exceptions::VECTOR_WAKEUP;
use crate::percpu;
use crate::state::Kernel;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use tessera_capability::ThreadId;
use tessera_ipc::Priority;

/// Per CPU: its ready queue, the thread it runs, whether it idles, and
/// its local APIC ID (for wake-up interrupts).
#[derive(Debug)]
pub struct Scheduler {
    pub(super) ready: Vec<VecDeque<(Priority, ThreadId)>>,
    pub(super) running: Vec<Option<ThreadId>>,
    pub(super) idle: Vec<bool>,
    pub(super) apic_ids: Vec<u32>,
}

impl Scheduler {
    pub fn new(cpus: usize) -> Self {
        Scheduler {
            ready: (0..cpus).map(|_| VecDeque::new()).collect(),
            running: alloc::vec![None; cpus],
            idle: alloc::vec![false; cpus],
            apic_ids: alloc::vec![0; cpus],
        }
    }

    pub fn cpus(&self) -> usize {
        self.ready.len()
    }

    pub fn apic_id(&self, cpu: usize) -> u32 {
        self.apic_ids[cpu]
    }

    pub fn set_apic_id(&mut self, cpu: usize, apic_id: u32) {
        self.apic_ids[cpu] = apic_id;
    }

    pub fn running(&self, cpu: usize) -> Option<ThreadId> {
        self.running[cpu]
    }

    /// Queues `thread` on `cpu` behind its equals (or ahead of them, for a
    /// thread that keeps the CPU after a system call).
    pub(super) fn enqueue(
        &mut self,
        cpu: usize,
        priority: Priority,
        thread: ThreadId,
        front: bool,
    ) {
        // Room for every thread of the CPU is reserved when it is made
        // (`reserve`), so this only checks.
        if self.ready[cpu].try_reserve(1).is_err() {
            log::error!("kernel bug: no room in cpu {cpu}'s run queue");
            return;
        }
        if front {
            self.ready[cpu].push_front((priority, thread));
        } else {
            self.ready[cpu].push_back((priority, thread));
        }
        if self.idle[cpu] && Some(cpu) != percpu::current().map(|c| c.index as usize) {
            apic::send_fixed(self.apic_ids[cpu], VECTOR_WAKEUP);
        }
    }

    /// Makes `cpu` leave its guest, if it runs one. A VP between two fast
    /// exits is briefly outside its guest but does not look at its kernel
    /// state before re-entering, so any other CPU gets the interrupt (a
    /// spurious one is harmless).
    pub fn kick(&self, cpu: usize) {
        if cpu != percpu::current_index() as usize {
            apic::send_fixed(self.apic_ids[cpu], VECTOR_WAKEUP);
        }
    }

    /// Whether a thread more important than `priority` waits on `cpu`.
    pub(super) fn has_ready_above(&self, cpu: usize, priority: Priority) -> bool {
        self.ready[cpu].iter().any(|&(ready, _)| ready > priority)
    }

    pub(super) fn pick(&mut self, cpu: usize) -> Option<ThreadId> {
        let queue = &mut self.ready[cpu];
        let best = queue.iter().map(|&(priority, _)| priority).max()?;
        let position = queue.iter().position(|&(priority, _)| priority == best)?;
        queue.remove(position).map(|(_, thread)| thread)
    }

    /// Makes room on `cpu`'s run queue for one more thread, when one is
    /// made to run there.
    pub fn reserve(
        &mut self,
        cpu: usize,
        threads_on_cpu: usize,
    ) -> Result<(), tessera_slots::OutOfMemory> {
        let queue = &mut self.ready[cpu];
        let more = threads_on_cpu.saturating_sub(queue.len());
        queue
            .try_reserve(more)
            .map_err(|_| tessera_slots::OutOfMemory)
    }

    pub fn forget(&mut self, thread: ThreadId) {
        for queue in &mut self.ready {
            queue.retain(|&(_, queued)| queued != thread);
        }
        for running in &mut self.running {
            if *running == Some(thread) {
                *running = None;
            }
        }
    }

    /// Whether nothing waits to run on `cpu`.
    pub fn nothing_ready(&self, cpu: usize) -> bool {
        self.ready[cpu].is_empty()
    }

    /// Takes `thread` off every run queue (it keeps its CPU if running).
    pub fn forget_queued(&mut self, thread: ThreadId) {
        for queue in &mut self.ready {
            queue.retain(|&(_, queued)| queued != thread);
        }
    }

    pub(super) fn quiet(&self) -> bool {
        self.idle.iter().all(|&idle| idle) && self.ready.iter().all(VecDeque::is_empty)
    }
}

impl Kernel {
    /// Hands `woken` the CPU directly when it belongs to this one (the
    /// caller then blocks); otherwise queues it on its own CPU.
    pub fn hand_over(&mut self, woken: ThreadId, cpu: usize) -> crate::sched::Keep {
        match self.threads.get(&woken) {
            Some(record) if record.cpu == cpu && !record.dead => Keep::SwitchTo(woken),
            _ => {
                self.wake(woken);
                Keep::Blocked
            }
        }
    }

    /// Makes `thread` runnable on its CPU.
    pub fn wake(&mut self, thread: ThreadId) {
        let Some(record) = self.threads.get(&thread) else {
            return;
        };
        if record.dead {
            return;
        }
        let cpu = record.cpu;
        let priority = self.ipc.effective_priority(thread).unwrap_or(0);
        self.sched.enqueue(cpu, priority, thread, false);
        // On another CPU that is busy, a thread as important as the one
        // running there must not wait for that CPU's next time slice (up
        // to `TIME_SLICE_US`): a component woken by one VP's exit would
        // otherwise sit behind the other VP of its CPU, and with it the
        // VP that called, for 10 ms a call. The interrupt makes that CPU
        // reschedule (a VP leaves its guest and yields).
        if !self.sched.idle[cpu]
            && let Some(running) = self.sched.running(cpu)
            && self.ipc.effective_priority(running).unwrap_or(0) <= priority
        {
            self.sched.kick(cpu);
        }
    }

    /// Runs an IPC operation that may wake threads, then makes each one it
    /// woke runnable. The list of woken threads lives in a buffer with room
    /// for every thread (reserved as threads are made), so this allocates
    /// nothing.
    pub fn waking<R>(
        &mut self,
        operation: impl FnOnce(&mut tessera_ipc::Ipc, &mut dyn FnMut(ThreadId)) -> R,
    ) -> R {
        let mut woken = core::mem::take(&mut self.woken);
        let result = operation(&mut self.ipc, &mut |thread| {
            if woken.len() < woken.capacity() {
                woken.push(thread);
            } else {
                log::error!("kernel bug: no room to record a woken thread");
            }
        });
        for &thread in &woken {
            self.wake(thread);
        }
        woken.clear();
        self.woken = woken;
        result
    }
}
