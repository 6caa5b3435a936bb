//! The system calls about time: a component's deadlines and the time of
//! day.
use super::{Result, notification, succeed};
use crate::sched::Keep;
use crate::state::Kernel;
use tessera_abi::Status;
use tessera_capability::{Rights, ThreadId};

/// `TimerSignal`: see `component_timers.rs`.
pub(super) fn timer_signal(kernel: &mut Kernel, thread: ThreadId, selector: u64) -> Result<Keep> {
    let notification = notification(kernel, thread, selector, Rights::SIGNAL)?;
    let context = &kernel.threads[&thread].context;
    let (delay_us, bits) = (context.rsi, context.rdx);
    let key = (notification, kernel.threads[&thread].domain);
    if delay_us == tessera_abi::TIMER_CANCEL {
        kernel.cancel_component_timer(key);
        return succeed(kernel, thread);
    }
    if bits == 0 {
        return Err(Status::InvalidArgument.code());
    }
    let ticks = delay_us.saturating_mul(crate::arch::tsc::ticks_per_microsecond());
    let deadline = crate::arch::tsc::read().saturating_add(ticks);
    let cpu = crate::percpu::current_index() as usize;
    kernel
        .arm_component_timer(key, deadline, bits, cpu)
        .map_err(|crate::component_timers::Refused::Full| Status::OutOfMemory.code())?;
    succeed(kernel, thread)
}

/// `WallClock`: see `arch/wall_clock.rs`.
pub(super) fn wall_clock(kernel: &mut Kernel, thread: ThreadId) -> Result<Keep> {
    let now = crate::arch::wall_clock::now_ns().ok_or(Status::NoWallClock.code())?;
    kernel.thread(thread).context.rsi = now;
    succeed(kernel, thread)
}
