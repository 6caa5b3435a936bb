# Crossing between ring 3 and the kernel.
#
# The kernel keeps no state on its stack between entries: every entry from
# ring 3 saves the thread's registers in its UserContext (pointed to by the
# per-CPU record) and starts on the CPU's kernel stack from the top; every
# return to ring 3 restores a UserContext and leaves with IRETQ. The
# UserContext layout (user_context.rs) is the order of the pushes below,
# which is also the exception frame's, so one restore path serves both.
#
# Per-CPU record offsets (percpu.rs): 16 kernel stack top, 24 scratch for the
# user stack pointer, 32 the running thread's UserContext.

    .set PERCPU_KERNEL_STACK, 16
    .set PERCPU_USER_RSP, 24
    .set PERCPU_CONTEXT, 32
    .set USER_CONTEXT_SIZE, 160
    .set USER_CS, 0x23
    .set USER_SS, 0x1B

    .section .text.user_entry, "ax"
    .code64

    # SYSCALL: RCX = user RIP, R11 = user RFLAGS, interrupts masked by SFMASK.
    .global syscall_entry
syscall_entry:
    swapgs
    movq %rsp, %gs:PERCPU_USER_RSP
    movq %gs:PERCPU_CONTEXT, %rsp
    addq $USER_CONTEXT_SIZE, %rsp
    pushq $USER_SS
    pushq %gs:PERCPU_USER_RSP
    pushq %r11
    pushq $USER_CS
    pushq %rcx
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %gs:PERCPU_KERNEL_STACK, %rsp
    xorl %ebp, %ebp
    # The system call number, so the IPC fast path's first guard needs no
    # lookup (the saved context keeps it too).
    movq %rax, %rdi
    callq syscall_handler
    ud2

    # resume_user_sysret(context): the faster way back for the thread that
    # made the system call. SYSRET takes RIP from RCX and RFLAGS from R11,
    # which the system call ABI lets the kernel destroy anyway. The user
    # stack is live for a few instructions in ring 0 with interrupts off;
    # NMI and machine checks run on their own IST stacks, so that is safe.
    .global resume_user_sysret
resume_user_sysret:
    movq %rdi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    addq $8, %rsp
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    addq $8, %rsp
    popq %rbx
    popq %rax
    movq 0(%rsp), %rcx
    movq 16(%rsp), %r11
    movq 24(%rsp), %rsp
    swapgs
    sysretq

    # resume_user(context): never returns. Interrupts are off until IRETQ
    # loads the thread's RFLAGS.
    .global resume_user
resume_user:
    movq %rdi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    swapgs
    iretq
