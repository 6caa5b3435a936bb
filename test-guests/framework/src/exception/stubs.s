# The exception entry points of the test guests' IDT (vectors 0-31) and the
# code they share; see mod.rs for the protocol.
#
# Each stub makes the frame uniform, vector and error code on top of the
# CPU's interrupt frame (an error code of all ones where the CPU pushes
# none), then jumps to the common code:
#
#   0(%rsp) vector   8 error code   16 RIP   24 CS   32 RFLAGS   40 RSP   48 SS
#
# If a guarded instruction armed a recovery point, the common code records
# the vector and error code, resumes there with the stack pointer saved
# when it was armed, and disarms it. Otherwise it
# saves every general register below the frame (the layout of
# ExceptionFrame) and calls the Rust reporter, which ends the run.
#
# The braced names are the Rust statics and function that idt.rs passes
# in as symbols.

    .code64
    .section .text.tessera_guest_exceptions, "ax"

    .macro exception_stub vector, cpu_pushes_error_code
    .balign 16
tessera_guest_exception_stub_\vector:
    .if \cpu_pushes_error_code == 0
    pushq $-1
    .endif
    pushq $\vector
    jmp tessera_guest_exception_common
    .endm

    exception_stub 0, 0
    exception_stub 1, 0
    exception_stub 2, 0
    exception_stub 3, 0
    exception_stub 4, 0
    exception_stub 5, 0
    exception_stub 6, 0
    exception_stub 7, 0
    exception_stub 8, 1
    exception_stub 9, 0
    exception_stub 10, 1
    exception_stub 11, 1
    exception_stub 12, 1
    exception_stub 13, 1
    exception_stub 14, 1
    exception_stub 15, 0
    exception_stub 16, 0
    exception_stub 17, 1
    exception_stub 18, 0
    exception_stub 19, 0
    exception_stub 20, 0
    exception_stub 21, 1
    exception_stub 22, 0
    exception_stub 23, 0
    exception_stub 24, 0
    exception_stub 25, 0
    exception_stub 26, 0
    exception_stub 27, 0
    exception_stub 28, 0
    exception_stub 29, 1
    exception_stub 30, 1
    exception_stub 31, 0

tessera_guest_exception_common:
    pushq %rax
    movq {recovery_rip}(%rip), %rax
    testq %rax, %rax
    jz .Lunexpected
    # The frame moved up by the saved RAX: RIP is at 24, RSP at 48, the
    # vector at 8. Resume with the stack pointer the guard was armed
    # with: the fault may come from code the guarded block called.
    movq %rax, 24(%rsp)
    movq {recovery_rsp}(%rip), %rax
    movq %rax, 48(%rsp)
    # A single-step trap (TF) resumes without single-stepping on.
    andq $~0x100, 40(%rsp)
    movq $0, {recovery_rip}(%rip)
    movq 8(%rsp), %rax
    movq %rax, {caught_vector}(%rip)
    movq 16(%rsp), %rax
    movq %rax, {caught_error}(%rip)
    popq %rax
    addq $16, %rsp
    iretq

.Lunexpected:
    popq %rax
    pushq %r15
    pushq %r14
    pushq %r13
    pushq %r12
    pushq %r11
    pushq %r10
    pushq %r9
    pushq %r8
    pushq %rbp
    pushq %rdi
    pushq %rsi
    pushq %rdx
    pushq %rcx
    pushq %rbx
    pushq %rax
    movq %rsp, %rdi
    # A call needs RSP 16-byte aligned; do not depend on how many words the
    # frame has.
    andq $-16, %rsp
    call {unexpected}
    ud2

    # The stubs' addresses, for the IDT.
    .section .rodata.tessera_guest_exceptions, "a"
    .balign 8
    .global tessera_guest_exception_stubs
tessera_guest_exception_stubs:
    .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad tessera_guest_exception_stub_\vector
    .endr

    .text
