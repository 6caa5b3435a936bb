//! Which thread each CPU runs, and the ways into and out of ring 3.
//!
//! Each thread belongs to one CPU (the first online CPU of its component's
//! affinity). A CPU runs the highest-priority runnable thread on its queue,
//! first come first served among equals, preempted by the local APIC timer.
//! A thread woken on another CPU is queued there and that CPU is sent a
//! wakeup interrupt in case it sleeps. Every path through here ends in ring 3
//! or in the idle loop: nothing returns (the kernel keeps no state on its
//! stack between entries).
use crate::arch::apic;
use crate::arch::exceptions::{self, ExceptionFrame, VECTOR_TIMER};
use crate::arch::user_context::UserContext;
use crate::state::{Ending, KERNEL, Kernel};
use crate::{console, exit, ipc_glue, percpu};
use spin::MutexGuard;
use tessera_capability::ThreadId;
use x86_64::registers::control::{Cr2, Cr3, Cr3Flags};
use x86_64::structures::paging::PhysFrame;

mod ready;
pub use ready::Scheduler;

/// Preemption period.
const TIME_SLICE_US: u64 = 10_000;

/// The CPU's first entry into scheduling: from here on it only runs
/// threads or idles.
pub fn start(cpu: usize) -> ! {
    apic::start_periodic_timer(VECTOR_TIMER, TIME_SLICE_US);
    run_next(KERNEL.lock(), cpu)
}

/// Runs the best thread queued on `cpu`, or idles until there is one.
pub fn run_next(mut guard: MutexGuard<'static, Option<Kernel>>, cpu: usize) -> ! {
    loop {
        if let Some(kernel) = guard.as_mut() {
            crate::console_input::deliver(kernel);
            kernel.expire_component_timers(cpu);
            kernel.sched.idle[cpu] = false;
            kernel.wake_halted_at_deadline(cpu);
            if let Some(thread) = kernel.sched.pick(cpu) {
                enter(guard, cpu, thread);
            }
            kernel.sched.idle[cpu] = true;
            kernel.sched.running[cpu] = None;
            // This CPU holds no component's address space from here on: a
            // domain that ended while a thread of it ran here goes now.
            crate::tlb::unload_user_root(cpu);
            kernel.reap_if_pending();
            // Idle: a good time to say what host NMIs came.
            crate::arch::host_events::report(false);
            // A component waiting for typed input may still be woken.
            if kernel.sched.quiet()
                && !crate::console_input::listening(kernel)
                && !kernel.vp_waits_for_timer()
                && !kernel.component_timer_armed()
            {
                deployment_quiet(guard);
            }
        }
        drop(guard);
        console::drain();
        // An idle CPU holds no component's address space, so a domain that
        // ended can give its root back (`domains::reap_domains`).
        crate::tlb::unload_user_root(cpu);
        // An interrupt that arrives between the unlock and here stays
        // pending, and STI's one-instruction shadow makes HLT see it.
        x86_64::instructions::interrupts::enable_and_hlt();
        x86_64::instructions::interrupts::disable();
        guard = KERNEL.lock();
    }
}

pub fn enter(mut guard: MutexGuard<'static, Option<Kernel>>, cpu: usize, thread: ThreadId) -> ! {
    let kernel = guard.as_mut().expect("checked by the caller");
    ipc_glue::deliver_wakeup(kernel, thread);
    enter_woken(guard, cpu, thread)
}

/// [`enter`] for a thread with no wakeup to take: the IPC fast paths
/// deliver theirs themselves (`tessera_ipc::Ipc::fast_call`,
/// `fast_reply_wait`).
pub fn enter_woken(
    mut guard: MutexGuard<'static, Option<Kernel>>,
    cpu: usize,
    thread: ThreadId,
) -> ! {
    let kernel = guard.as_mut().expect("checked by the caller");
    if kernel.threads[&thread].vp.is_some() {
        enter_vp(guard, cpu, thread)
    }
    kernel.sched.running[cpu] = Some(thread);
    crate::vm::guest_state::leave_guests(cpu);
    enter_component(guard, cpu, thread)
}

/// Runs VP thread `thread` on `cpu`, with no wakeup to take: the loop
/// applies the reply it waited for, if any (`vm::run`). The IPC fast path
/// calls it for a handler's reply, whose caller it knows is a VP's thread.
pub fn enter_vp(mut guard: MutexGuard<'static, Option<Kernel>>, cpu: usize, thread: ThreadId) -> ! {
    let kernel = guard.as_mut().expect("checked by the caller");
    kernel.sched.running[cpu] = Some(thread);
    crate::vm::run::enter(guard, thread)
}

/// Runs component thread `thread`, whose registers are ready, on `cpu`:
/// its address space, then ring 3.
fn enter_component(
    mut guard: MutexGuard<'static, Option<Kernel>>,
    cpu: usize,
    thread: ThreadId,
) -> ! {
    let kernel = guard.as_mut().expect("checked by the caller");
    // The thread's record once, for its domain and its registers.
    let Kernel {
        threads, domains, ..
    } = kernel;
    let record = threads
        .get_mut(&thread)
        .expect("every ThreadId the kernel holds has a record");
    let Some(domain) = domains.get(record.domain) else {
        // A thread outlives its domain's record only when dead.
        kernel.sched.running[cpu] = None;
        run_next(guard, cpu)
    };
    let root = domain.space.root();
    let context: *mut UserContext = &mut *record.context;
    switch_to_component(guard, cpu, thread, root, context)
}

/// Makes `thread` the one `cpu` runs and enters it in ring 3 with address
/// space `root` and the registers at `context` (its record's). Also the
/// IPC fast path's switch (`syscall::fastpath`), from one component thread
/// to another, which looked both up already (inlined there: as a call it
/// took its arguments through the stack).
#[inline(always)]
pub fn switch_to_component(
    mut guard: MutexGuard<'static, Option<Kernel>>,
    cpu: usize,
    thread: ThreadId,
    root: PhysFrame,
    context: *mut UserContext,
) -> ! {
    let kernel = guard.as_mut().expect("checked by the caller");
    kernel.sched.running[cpu] = Some(thread);
    percpu::installed().set_current_context(context);
    if Cr3::read().0 != root {
        // SAFETY: every component root maps the kernel's upper half (this
        // code, its stack and data) exactly as the kernel's own root does.
        unsafe { Cr3::write(root, Cr3Flags::empty()) };
    }
    crate::tlb::leaving_kernel(cpu, root.start_address().as_u64());
    // The root this CPU held before is no longer in use here.
    kernel.reap_if_pending();
    drop(guard);
    console::drain();
    UserContext::enter(context)
}

/// An exception in ring 3: the component is stopped and reported, the
/// kernel and every other component go on.
pub fn user_exception(frame: &ExceptionFrame) -> ! {
    let cpu = percpu::current_index() as usize;
    let mut guard = KERNEL.lock();
    let kernel = guard
        .as_mut()
        .expect("ring 3 runs only once the kernel state exists");
    // None: its domain was ended from another CPU while it ran in ring 3
    // (`end_domain`, whose shoot-down left it nothing mapped, so it
    // faulted at once): nothing more to stop.
    let Some(thread) = kernel.sched.running(cpu) else {
        run_next(guard, cpu)
    };
    *kernel.thread(thread).context = UserContext::from_frame(frame);
    let domain = kernel.threads[&thread].domain;
    let name = exceptions::name(frame.vector);
    let component = kernel
        .domains
        .get(domain)
        .map_or(crate::state::name("?"), |d| d.name.clone());
    let address = if frame.vector == 14 {
        Cr2::read_raw()
    } else {
        frame.rip
    };
    log::error!(
        "component {component} faulted: {name} at {address:#x} (rip {:#x}, error code {:#x}); stopped",
        frame.rip,
        frame.error_code
    );
    kernel.end_domain(domain, Ending::Faulted);
    run_next(guard, cpu)
}

/// A timer or wakeup interrupt in ring 3: the running thread goes to the
/// back of its queue and the best thread runs.
pub fn preempt(frame: &ExceptionFrame) -> ! {
    let cpu = percpu::current_index() as usize;
    let mut guard = KERNEL.lock();
    let kernel = guard
        .as_mut()
        .expect("ring 3 runs only once the kernel state exists");
    if let Some(thread) = kernel.sched.running(cpu) {
        *kernel.thread(thread).context = UserContext::from_frame(frame);
        let priority = kernel.ipc.effective_priority(thread).unwrap_or(0);
        kernel.sched.enqueue(cpu, priority, thread, false);
    }
    run_next(guard, cpu)
}

/// After a system call: the thread keeps running unless it blocked, ended,
/// yielded, or woke a more important thread on this CPU.
pub fn after_syscall(mut guard: MutexGuard<'static, Option<Kernel>>, cpu: usize, keep: Keep) -> ! {
    let kernel = guard
        .as_mut()
        .expect("system calls come from running threads");
    let Some(thread) = kernel.sched.running(cpu) else {
        run_next(guard, cpu)
    };
    // Usually nothing else waits on this CPU; then no priority matters and
    // the fast paths below need no lookups at all.
    let nothing_ready = kernel.sched.ready[cpu].is_empty();
    match keep {
        // The fast path: nothing more important became runnable here, so the
        // caller goes straight back, with no queueing.
        Keep::Continue if nothing_ready => resume_current(guard, cpu),
        // (A fast path's `Handler` is a `SwitchTo` with no wakeup to take;
        // the VP loop takes the shortcut, `after_vp_exit`.)
        Keep::SwitchTo(next) | Keep::Handler(next) if nothing_ready => enter(guard, cpu, next),
        Keep::Continue => {
            let priority = kernel.ipc.effective_priority(thread).unwrap_or(0);
            if !kernel.sched.has_ready_above(cpu, priority) {
                resume_current(guard, cpu)
            }
            kernel.sched.enqueue(cpu, priority, thread, true);
        }
        Keep::Yield => {
            let priority = kernel.ipc.effective_priority(thread).unwrap_or(0);
            kernel.sched.enqueue(cpu, priority, thread, false);
        }
        Keep::Blocked => {}
        // IPC on one CPU: the thread that got the message runs next, on the
        // blocked thread's time, unless something more important waits.
        Keep::SwitchTo(next) | Keep::Handler(next) => {
            let next_priority = kernel.ipc.effective_priority(next).unwrap_or(0);
            if !kernel.sched.has_ready_above(cpu, next_priority) {
                enter(guard, cpu, next);
            }
            kernel.sched.enqueue(cpu, next_priority, next, false);
        }
    }
    run_next(guard, cpu)
}

/// After a VP's exit that left the CPU: a handler its forwarded exit woke
/// on the fast path (`Keep::Handler`, delivered already) runs at once when
/// nothing else waits here, without the wakeup lookup; anything else is
/// [`after_syscall`]'s.
pub fn after_vp_exit(mut guard: MutexGuard<'static, Option<Kernel>>, cpu: usize, keep: Keep) -> ! {
    let kernel = guard.as_mut().expect("VPs run once the kernel exists");
    if let Keep::Handler(next) = keep
        && kernel.sched.nothing_ready(cpu)
    {
        crate::vm::guest_state::leave_guests(cpu);
        enter_component(guard, cpu, next)
    }
    after_syscall(guard, cpu, keep)
}

/// Returns to the thread this CPU was running, whose registers the system
/// call already updated.
fn resume_current(guard: MutexGuard<'static, Option<Kernel>>, cpu: usize) -> ! {
    let context = percpu::installed().current_context();
    crate::tlb::leaving_kernel(cpu, Cr3::read().0.start_address().as_u64());
    drop(guard);
    console::drain();
    UserContext::return_from_syscall(context)
}

/// What the thread that made a system call does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    Continue,
    Yield,
    Blocked,
    /// The caller blocked and woke this thread, which belongs to the same CPU.
    SwitchTo(ThreadId),
    /// [`Keep::SwitchTo`] a component thread that a fast path woke, with
    /// no wakeup to take (the payload stays one id: a larger `Keep` is
    /// returned through memory by every system call).
    Handler(ThreadId),
}

/// The component thread a fast IPC operation woke on this CPU, with what
/// the switch needs, looked up by its guards.
pub struct Switch {
    pub thread: ThreadId,
    /// Its domain's address space.
    pub root: PhysFrame,
    /// Its registers, in its record.
    pub context: *mut UserContext,
}

/// Nothing can run anywhere. With a verdict holder that is a stall (it will
/// never decide); without one the deployment is done, and it passed if no
/// component faulted or failed.
fn deployment_quiet(guard: MutexGuard<'static, Option<Kernel>>) -> ! {
    let kernel = guard.as_ref().expect("checked by the caller");
    let mut failed = !crate::audit::at_end(kernel);
    for (_, domain) in kernel.domains.iter() {
        match domain.ending {
            None => log::info!("deployment: {} is waiting", domain.name),
            Some(Ending::Exited(0)) => {}
            Some(Ending::Exited(code)) => {
                log::warn!("deployment: {} exited with code {code}", domain.name);
                failed = true;
            }
            Some(Ending::Faulted) => failed = true,
            Some(Ending::Abandoned) => {}
        }
    }
    if kernel.has_verdict_holder {
        kernel.log_parked_vps();
        drop(guard);
        console::emergency_line(format_args!(
            "deployment stalled: no thread can run and the verdict was never given"
        ));
        exit::finish(exit::Verdict::Fail)
    }
    drop(guard);
    log::info!("deployment: every component is done or waiting");
    exit::finish(if failed {
        exit::Verdict::Fail
    } else {
        exit::Verdict::Pass
    })
}
