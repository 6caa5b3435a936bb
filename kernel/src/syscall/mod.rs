//! System calls (ABI: `tessera_abi`). Every argument is checked here: a
//! wrong selector, kind or right is a status code in `rax`, never a fault.
mod audit;
mod build;
mod caps;
mod console_input;
mod fastpath;
mod synic;
mod time;
mod vm;
use crate::ipc_glue::{cap_status, ipc_status, message_of, write_delivery};
use crate::sched::{self, Keep};
use crate::state::{Ending, KERNEL, Kernel};
use crate::{console, exit, percpu};
use tessera_abi::{CONSOLE_WRITE_MAX, CapTransfer, NO_SELECTOR, Status, Syscall};
use tessera_capability::{
    CapError, Capability, NotificationId, Object, ObjectKind, Rights, SlotAddr, ThreadId,
};
use tessera_ipc::{CallOutcome, WaitOutcome};

/// Entered from `syscall_entry` on the CPU's kernel stack, with the thread's
/// registers saved in its context; `number` is its `rax`.
#[unsafe(no_mangle)]
extern "C" fn syscall_handler(number: u64) -> ! {
    let cpu = percpu::installed().index as usize;
    crate::tlb::entered_kernel(cpu);
    let mut guard = KERNEL.lock();
    let kernel = guard
        .as_mut()
        .expect("ring 3 runs only once the kernel state exists");
    // None: its domain was ended from another CPU while it ran in ring 3
    // (`end_domain`); the call is dropped with the thread.
    let Some(thread) = kernel.sched.running(cpu) else {
        sched::run_next(guard, cpu)
    };
    match fastpath::ipc(kernel, cpu, thread, number) {
        Some(fastpath::Next::Component(next)) => {
            sched::switch_to_component(guard, cpu, next.thread, next.root, next.context)
        }
        Some(fastpath::Next::Vp(next)) => sched::enter_vp(guard, cpu, next),
        None => {}
    }
    let keep = match dispatch(kernel, thread) {
        Ok(keep) => keep,
        Err(status) => {
            kernel.thread(thread).context.rax = status;
            Keep::Continue
        }
    };
    if keep == Keep::Continue {
        let context = &mut kernel.thread(thread).context;
        if context.rax == u64::MAX {
            context.rax = Status::Success.code();
        }
    }
    sched::after_syscall(guard, cpu, keep)
}

pub(super) type Result<T> = core::result::Result<T, u64>;

pub(super) fn lookup(
    kernel: &Kernel,
    thread: ThreadId,
    selector: u64,
    kind: ObjectKind,
    rights: Rights,
) -> Result<Capability<Object>> {
    let selector = u32::try_from(selector).map_err(|_| cap_status(CapError::InvalidSelector))?;
    let at = SlotAddr::new(kernel.cspace_of(thread), selector);
    kernel.caps.lookup(at, kind, rights).map_err(cap_status)
}

/// The caller's slot `slot`, checked empty before anything is made for it.
fn empty_slot(kernel: &Kernel, thread: ThreadId, slot: u64) -> Result<SlotAddr> {
    let slot = u32::try_from(slot).map_err(|_| cap_status(CapError::InvalidSelector))?;
    let at = SlotAddr::new(kernel.cspace_of(thread), slot);
    match kernel.caps.get(at) {
        Ok(_) => Err(cap_status(CapError::SlotOccupied)),
        Err(CapError::EmptySlot) => Ok(at),
        Err(error) => Err(cap_status(error)),
    }
}

/// Makes an object with `make` and gives the caller its first capability
/// in its empty slot `slot`, charging `bytes` (the object's kernel record)
/// to the caller's quota. The slot and the record's charge are settled
/// before the object exists, so the capability cannot then be refused and
/// leave an object nobody holds.
pub(super) fn create_into(
    kernel: &mut Kernel,
    thread: ThreadId,
    slot: u64,
    bytes: u64,
    make: impl FnOnce(&mut Kernel) -> Result<(Object, Rights)>,
) -> Result<Keep> {
    let at = empty_slot(kernel, thread, slot)?;
    kernel.caps.charge(at.cspace, bytes).map_err(cap_status)?;
    let made = make(kernel);
    let _ = kernel.caps.refund(at.cspace, bytes);
    let (object, rights) = made?;
    if let Err(error) = kernel
        .caps
        .create_object(at, object, rights | Rights::GENERIC, bytes)
    {
        log::error!("kernel bug: the capability to a new {object:?} was refused: {error}");
        return Err(cap_status(error));
    }
    succeed(kernel, thread)
}

fn cpu_of(kernel: &Kernel, thread: ThreadId) -> usize {
    kernel.threads[&thread].cpu
}

/// Marks `rax` to be set to success unless an operation wrote a result.
pub(super) fn succeed(kernel: &mut Kernel, thread: ThreadId) -> Result<Keep> {
    kernel.thread(thread).context.rax = u64::MAX;
    Ok(Keep::Continue)
}

fn dispatch(kernel: &mut Kernel, thread: ThreadId) -> Result<Keep> {
    let context = &kernel.threads[&thread].context;
    let Some(call) = Syscall::from_number(context.rax) else {
        return Err(Status::InvalidSyscall.code());
    };
    let selector = context.rdi;
    match call {
        Syscall::Null => succeed(kernel, thread),
        Syscall::ConsoleWrite => console_write(kernel, thread, selector),
        Syscall::Call => call_endpoint(kernel, thread, selector),
        Syscall::Wait => wait(kernel, thread, selector, false),
        Syscall::Reply => {
            reply(kernel, thread)?;
            succeed(kernel, thread)
        }
        Syscall::ReplyWait => wait(kernel, thread, selector, true),
        Syscall::Signal => signal(kernel, thread, selector),
        Syscall::WaitNotification => wait_notification(kernel, thread, selector),
        Syscall::Yield => {
            kernel.thread(thread).context.rax = Status::Success.code();
            Ok(Keep::Yield)
        }
        Syscall::Exit => {
            let code = kernel.threads[&thread].context.rsi;
            let domain = kernel.threads[&thread].domain;
            if let Some(record) = kernel.domains.get(domain) {
                log::info!("component {} exited with code {code}", record.name);
            }
            kernel.end_domain(domain, Ending::Exited(code));
            Ok(Keep::Blocked)
        }
        Syscall::Verdict => {
            lookup(kernel, thread, selector, ObjectKind::Verdict, Rights::WRITE)?;
            let pass = kernel.threads[&thread].context.rsi == 0;
            if let Some(domain) = kernel.domain_of(thread) {
                log::info!("deployment verdict from {}", domain.name);
            }
            // A broken invariant fails the run, whatever the verdict said.
            let pass = crate::audit::at_end(kernel) && pass;
            exit::finish(if pass {
                exit::Verdict::Pass
            } else {
                exit::Verdict::Fail
            })
        }
        Syscall::CapDerive => caps::cap_derive(kernel, thread, selector),
        Syscall::CapDelete | Syscall::CapRevoke => caps::cap_remove(kernel, thread, selector, call),
        Syscall::DomainCreate => build::domain_create(kernel, thread, selector),
        Syscall::DomainMap => build::domain_map(kernel, thread, selector),
        Syscall::DomainWrite => build::domain_write(kernel, thread, selector),
        Syscall::ThreadCreate => build::thread_create(kernel, thread, selector),
        Syscall::ThreadStart => build::thread_start(kernel, thread, selector),
        Syscall::EndpointCreate => build::endpoint_create(kernel, thread, selector),
        Syscall::CapInstall => build::cap_install(kernel, thread, selector),
        Syscall::MemoryCreate => build::memory_create(kernel, thread),
        Syscall::MemoryMap => build::memory_map(kernel, thread, selector),
        Syscall::PartitionCreate => vm::partition_create(kernel, thread),
        Syscall::PartitionMapGpa => vm::map_gpa(kernel, thread, selector),
        Syscall::PartitionUnmapGpa => vm::unmap_gpa(kernel, thread, selector),
        Syscall::PartitionInstallIntercept => vm::install_intercept(kernel, thread, selector),
        Syscall::VpCreate => vm::vp_create(kernel, thread, selector),
        Syscall::VpGetRegisters => vm::vp_get_registers(kernel, thread, selector),
        Syscall::VpSetRegisters => vm::vp_set_registers(kernel, thread, selector),
        Syscall::VpStart => vm::vp_start(kernel, thread, selector),
        Syscall::VpStop => vm::vp_stop(kernel, thread, selector),
        Syscall::VpAssertInterrupt => vm::vp_assert_interrupt(kernel, thread, selector),
        Syscall::PartitionAssertInterrupt => {
            vm::partition_assert_interrupt(kernel, thread, selector)
        }
        Syscall::PartitionSetHv1 => vm::partition_set_hv1(kernel, thread, selector),
        Syscall::ConsoleRead => console_input::console_read(kernel, thread, selector),
        Syscall::ConsoleInputNotify => {
            console_input::console_input_notify(kernel, thread, selector)
        }
        Syscall::KernelAudit => audit::kernel_audit(kernel, thread, selector),
        Syscall::TimerSignal => time::timer_signal(kernel, thread, selector),
        Syscall::PartitionSynicWrite => synic::partition_synic_write(kernel, thread, selector),
        Syscall::PartitionSynicRead => synic::partition_synic_read(kernel, thread, selector),
        Syscall::PartitionCreatePort => synic::create_port(kernel, thread, selector),
        Syscall::PartitionDeletePort => synic::delete_port(kernel, thread, selector),
        Syscall::PartitionCreateOwnedPort => synic::create_owned_port(kernel, thread, selector),
        Syscall::PartitionPortReceive => synic::port_receive(kernel, thread, selector),
        Syscall::PartitionSintRoute => synic::sint_route(kernel, thread, selector),
        Syscall::PartitionConnectPort => synic::connect_port(kernel, thread, selector),
        Syscall::PartitionDisconnectPort => synic::disconnect_port(kernel, thread, selector),
        Syscall::PartitionPostMessage => synic::post_message(kernel, thread, selector),
        Syscall::PartitionSignalEvent => synic::signal_event(kernel, thread, selector),
        Syscall::WallClock => time::wall_clock(kernel, thread),
    }
}

fn console_write(kernel: &mut Kernel, thread: ThreadId, selector: u64) -> Result<Keep> {
    lookup(kernel, thread, selector, ObjectKind::Console, Rights::WRITE)?;
    let context = &kernel.threads[&thread].context;
    let len = context.rsi as usize;
    if len > CONSOLE_WRITE_MAX {
        return Err(Status::InvalidArgument.code());
    }
    let words = [
        context.rdx,
        context.r10,
        context.r8,
        context.r9,
        context.r12,
    ];
    let mut bytes = [0u8; CONSOLE_WRITE_MAX];
    for (chunk, word) in bytes.chunks_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let cpu = kernel.threads[&thread].cpu;
    let domain = kernel.threads[&thread].domain;
    let domain = kernel
        .domains
        .get_mut(domain)
        .ok_or(Status::InvalidArgument.code())?;
    for &byte in &bytes[..len] {
        if byte == b'\n' || domain.console_line.is_full() {
            console::component_line(&domain.name, cpu, &domain.console_line);
            domain.console_line.clear();
        }
        if byte != b'\n' {
            // Room was made above.
            let _ = domain.console_line.push(byte);
        }
    }
    succeed(kernel, thread)
}

/// The capability to send with a message, checked on the sender's side.
fn outgoing_cap(kernel: &Kernel, thread: ThreadId, transfer: CapTransfer) -> Result<Option<u32>> {
    if transfer.send == NO_SELECTOR {
        return Ok(None);
    }
    let at = SlotAddr::new(kernel.cspace_of(thread), transfer.send);
    let cap = kernel.caps.get(at).map_err(cap_status)?;
    if !cap.rights.contains(Rights::GRANT) {
        return Err(cap_status(CapError::InsufficientRights));
    }
    Ok(Some(transfer.send))
}

fn receive_slot(transfer: CapTransfer) -> Option<u32> {
    (transfer.receive != NO_SELECTOR).then_some(transfer.receive)
}

fn call_endpoint(kernel: &mut Kernel, thread: ThreadId, selector: u64) -> Result<Keep> {
    let transfer = CapTransfer::from_word(kernel.threads[&thread].context.r13);
    let mut needed = Rights::CALL;
    if transfer.send != NO_SELECTOR {
        needed |= Rights::GRANT;
    }
    let cap = lookup(kernel, thread, selector, ObjectKind::Endpoint, needed)?;
    let Object::Endpoint(endpoint) = cap.object else {
        unreachable!("looked up as an endpoint")
    };
    let send = outgoing_cap(kernel, thread, transfer)?;
    let message = message_of(&kernel.threads[&thread].context, send)?;
    match kernel
        .ipc
        .call(thread, endpoint, cap.badge, message, receive_slot(transfer))
    {
        Ok(CallOutcome::Delivered { server }) => {
            Ok(kernel.hand_over(server, cpu_of(kernel, thread)))
        }
        Ok(CallOutcome::Queued) => Ok(Keep::Blocked),
        Err(error) => Err(ipc_status(error)),
    }
}

fn reply(kernel: &mut Kernel, thread: ThreadId) -> Result<()> {
    let transfer = CapTransfer::from_word(kernel.threads[&thread].context.r13);
    let send = outgoing_cap(kernel, thread, transfer)?;
    let message = message_of(&kernel.threads[&thread].context, send)?;
    let stops = kernel.capture_reply_to_vp(thread)?;
    let caller = kernel.ipc.reply(thread, message).map_err(ipc_status)?;
    if !kernel.stop_on_reply(caller, stops) {
        kernel.wake(caller);
    }
    Ok(())
}

/// `Wait`, or `ReplyWait` when `reply_first`.
fn wait(kernel: &mut Kernel, thread: ThreadId, selector: u64, reply_first: bool) -> Result<Keep> {
    let cap = lookup(
        kernel,
        thread,
        selector,
        ObjectKind::Endpoint,
        Rights::RECEIVE,
    )?;
    let Object::Endpoint(endpoint) = cap.object else {
        unreachable!("looked up as an endpoint")
    };
    let transfer = CapTransfer::from_word(kernel.threads[&thread].context.r13);
    let receive = receive_slot(transfer);
    let mut replied = None;
    let outcome = if reply_first {
        let send = outgoing_cap(kernel, thread, transfer)?;
        let message = message_of(&kernel.threads[&thread].context, send)?;
        let stops = kernel.capture_reply_to_vp(thread)?;
        let outcome = kernel
            .ipc
            .reply_and_wait(thread, message, endpoint, receive)
            .map_err(ipc_status)?;
        // A reply that stopped its VP leaves nobody to wake.
        replied = outcome
            .replied
            .filter(|&caller| !kernel.stop_on_reply(caller, stops));
        outcome.wait
    } else {
        kernel
            .ipc
            .wait(thread, endpoint, receive)
            .map_err(ipc_status)?
    };
    match (outcome, replied) {
        (WaitOutcome::Received(delivery), replied) => {
            if let Some(caller) = replied {
                kernel.wake(caller);
            }
            write_delivery(kernel, thread, delivery);
            Ok(Keep::Continue)
        }
        // The server waits now, so the caller it answered may have its CPU
        // straight away (as a call hands the CPU to the server), rather
        // than through the run queue.
        (WaitOutcome::Blocked, Some(caller)) => {
            let cpu = kernel.threads[&thread].cpu;
            Ok(kernel.hand_over(caller, cpu))
        }
        (WaitOutcome::Blocked, None) => Ok(Keep::Blocked),
    }
}

/// The notification of the capability in `selector`, if it has `rights`.
pub(super) fn notification(
    kernel: &Kernel,
    thread: ThreadId,
    selector: u64,
    rights: Rights,
) -> Result<NotificationId> {
    let cap = lookup(kernel, thread, selector, ObjectKind::Notification, rights)?;
    let Object::Notification(notification) = cap.object else {
        unreachable!("looked up as a notification")
    };
    Ok(notification)
}

fn signal(kernel: &mut Kernel, thread: ThreadId, selector: u64) -> Result<Keep> {
    let notification = notification(kernel, thread, selector, Rights::SIGNAL)?;
    let bits = kernel.threads[&thread].context.rsi;
    if let Some(waiter) = kernel.ipc.signal(notification, bits).map_err(ipc_status)? {
        kernel.wake(waiter);
    }
    succeed(kernel, thread)
}

fn wait_notification(kernel: &mut Kernel, thread: ThreadId, selector: u64) -> Result<Keep> {
    let notification = notification(kernel, thread, selector, Rights::WAIT)?;
    match kernel
        .ipc
        .wait_notification(thread, notification)
        .map_err(ipc_status)?
    {
        tessera_ipc::NotifyOutcome::Bits(bits) => {
            let context = &mut kernel.thread(thread).context;
            context.rax = Status::Success.code();
            context.rsi = bits;
            Ok(Keep::Continue)
        }
        tessera_ipc::NotifyOutcome::Blocked => Ok(Keep::Blocked),
    }
}
