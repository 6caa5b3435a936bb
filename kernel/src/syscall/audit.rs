//! `KernelAudit` (ABI: `tessera_abi::audit`): the kernel's audit of its
//! own bookkeeping, for tests. Only the holder of the verdict capability
//! may ask, and the call only reads.
use super::{Result, lookup};
use crate::sched::Keep;
use crate::state::Kernel;
use tessera_abi::Status;
use tessera_abi::audit::{FRAMES_CALLER, PROBLEMS, WORDS};
use tessera_capability::{ObjectKind, Rights, ThreadId};

pub(super) fn kernel_audit(kernel: &mut Kernel, thread: ThreadId, cap: u64) -> Result<Keep> {
    lookup(kernel, thread, cap, ObjectKind::Verdict, Rights::WRITE)?;
    let mut report = crate::audit::run(kernel).to_words();
    report[FRAMES_CALLER] = kernel
        .domain_of(thread)
        .map_or(0, |d| d.space.frames_held());
    let frame = kernel.threads[&thread].message_buffer;
    crate::vm::forward::write_buffer_words(frame, &report);
    let context = &mut kernel.thread(thread).context;
    context.rax = Status::Success.code();
    context.rsi = report[PROBLEMS];
    context.r14 = WORDS as u64;
    Ok(Keep::Continue)
}
