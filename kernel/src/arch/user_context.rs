//! A thread's ring-3 registers while it is not running, and the way back to
//! ring 3. The layout is the order in which `user_entry.s` pushes them, which
//! is also the tail of the exception frame, so both entries share one restore.
use super::exceptions::ExceptionFrame;
use core::arch::global_asm;

global_asm!(include_str!("user_entry.s"), options(att_syntax));

unsafe extern "C" {
    fn resume_user(context: *const UserContext) -> !;
    fn resume_user_sysret(context: *const UserContext) -> !;
    pub fn syscall_entry();
}

pub const USER_CS: u64 = 0x23;
pub const USER_SS: u64 = 0x1B;
/// Interrupts on (bit 9) and the always-one bit 1; nothing else a component
/// could use to raise its I/O privilege or trap the kernel.
const USER_RFLAGS: u64 = 0x202;
/// The RFLAGS bits a component may change itself (arithmetic flags, DF, AC
/// is not among them since the kernel never touches user memory anyway).
const USER_WRITABLE_FLAGS: u64 = 0x0CD5;

#[repr(C)]
#[derive(Clone, Debug, Default)]
pub struct UserContext {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

const _: () = assert!(
    size_of::<UserContext>() == 160,
    "user_entry.s: USER_CONTEXT_SIZE"
);

impl UserContext {
    /// A thread about to run its first instruction: every register zero.
    pub fn new(entry: u64, stack_top: u64) -> Self {
        UserContext {
            rip: entry,
            rsp: stack_top,
            cs: USER_CS,
            ss: USER_SS,
            rflags: USER_RFLAGS,
            ..Default::default()
        }
    }

    /// The registers of a thread interrupted in ring 3.
    pub fn from_frame(frame: &ExceptionFrame) -> Self {
        UserContext {
            r15: frame.r15,
            r14: frame.r14,
            r13: frame.r13,
            r12: frame.r12,
            r11: frame.r11,
            r10: frame.r10,
            r9: frame.r9,
            r8: frame.r8,
            rbp: frame.rbp,
            rdi: frame.rdi,
            rsi: frame.rsi,
            rdx: frame.rdx,
            rcx: frame.rcx,
            rbx: frame.rbx,
            rax: frame.rax,
            rip: frame.rip,
            cs: frame.cs,
            rflags: frame.rflags,
            rsp: frame.rsp,
            ss: frame.ss,
        }
    }

    /// Enters ring 3 with the registers at `context`.
    ///
    /// Runs after the kernel lock is dropped: a running thread's context is
    /// touched by no other CPU (IPC writes only to blocked threads' contexts),
    /// and thread records are never freed.
    #[inline(always)]
    pub fn enter(context: *mut UserContext) -> ! {
        // SAFETY: see above; `context` comes from the thread record the
        // scheduler just chose for this CPU.
        unsafe { (*context).resume() }
    }

    /// Returns to the thread that made the system call this CPU is finishing,
    /// with SYSRET. Same conditions as [`Self::enter`]; the thread's RIP is
    /// the instruction after its SYSCALL, so it is canonical and in the
    /// lower half, as SYSRET requires.
    pub fn return_from_syscall(context: *mut UserContext) -> ! {
        // SAFETY: as in `enter`.
        let context = unsafe { &mut *context };
        context.sanitize();
        debug_assert!(context.rip < tessera_abi::USER_SPACE_END);
        // SAFETY: as in `resume`; SYSRET loads CS/SS from STAR (user
        // selectors) and RFLAGS from the sanitised value.
        unsafe { resume_user_sysret(context) }
    }

    fn sanitize(&mut self) {
        self.cs = USER_CS;
        self.ss = USER_SS;
        self.rflags = (self.rflags & USER_WRITABLE_FLAGS) | USER_RFLAGS;
    }

    /// Enters ring 3 with these registers. The selectors and the flags are
    /// forced to what a component may have, so no saved value can make IRETQ
    /// fault in the kernel or hand the thread more privilege.
    #[inline(always)]
    fn resume(&mut self) -> ! {
        self.sanitize();
        // the context belongs to the thread this CPU now runs, stays
        // allocated while it runs (threads are never freed while scheduled),
        // and its RIP/RSP came from that thread's own execution.
        // SAFETY: the running thread's context; its RIP/RSP are its own.
        unsafe { resume_user(self) }
    }
}
