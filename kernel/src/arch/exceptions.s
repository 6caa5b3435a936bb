# Exception and interrupt entry: one stub per vector pushes the vector (and a
# zero where the CPU pushes no error code), so every entry reaches
# exception_handler with the same frame: the general registers, vector, error
# code, then what the CPU pushed (RIP, CS, RFLAGS, RSP, SS). The layout is
# ExceptionFrame. Entries from ring 3 swap to the kernel's GS base first; the
# handler does not return for them (it resumes a thread from its context).

    .macro STUB_WITHOUT_ERROR_CODE vector
    .balign 16
exception_stub_\vector:
    pushq $0
    pushq $\vector
    jmp exception_common
    .endm

    .macro STUB_WITH_ERROR_CODE vector
    .balign 16
exception_stub_\vector:
    pushq $\vector
    jmp exception_common
    .endm

    .section .text.exceptions, "ax"
    .code64

    STUB_WITHOUT_ERROR_CODE 0
    STUB_WITHOUT_ERROR_CODE 1
    STUB_WITHOUT_ERROR_CODE 2
    STUB_WITHOUT_ERROR_CODE 3
    STUB_WITHOUT_ERROR_CODE 4
    STUB_WITHOUT_ERROR_CODE 5
    STUB_WITHOUT_ERROR_CODE 6
    STUB_WITHOUT_ERROR_CODE 7
    STUB_WITH_ERROR_CODE 8
    STUB_WITHOUT_ERROR_CODE 9
    STUB_WITH_ERROR_CODE 10
    STUB_WITH_ERROR_CODE 11
    STUB_WITH_ERROR_CODE 12
    STUB_WITH_ERROR_CODE 13
    STUB_WITH_ERROR_CODE 14
    STUB_WITHOUT_ERROR_CODE 15
    STUB_WITHOUT_ERROR_CODE 16
    STUB_WITH_ERROR_CODE 17
    STUB_WITHOUT_ERROR_CODE 18
    STUB_WITHOUT_ERROR_CODE 19
    STUB_WITHOUT_ERROR_CODE 20
    STUB_WITH_ERROR_CODE 21
    STUB_WITHOUT_ERROR_CODE 22
    STUB_WITHOUT_ERROR_CODE 23
    STUB_WITHOUT_ERROR_CODE 24
    STUB_WITHOUT_ERROR_CODE 25
    STUB_WITHOUT_ERROR_CODE 26
    STUB_WITHOUT_ERROR_CODE 27
    STUB_WITHOUT_ERROR_CODE 28
    STUB_WITH_ERROR_CODE 29
    STUB_WITH_ERROR_CODE 30
    STUB_WITHOUT_ERROR_CODE 31
    # Interrupts the kernel uses (exceptions.rs, INTERRUPT_VECTORS): timer,
    # wakeup, TLB flush, console input, spurious.
    STUB_WITHOUT_ERROR_CODE 32
    STUB_WITHOUT_ERROR_CODE 33
    STUB_WITHOUT_ERROR_CODE 34
    STUB_WITHOUT_ERROR_CODE 35
    STUB_WITHOUT_ERROR_CODE 255

exception_common:
    # Offset 24 holds the CS the CPU pushed: RPL 3 means we came from ring 3.
    testb $3, 24(%rsp)
    jz .Lkernel_gs
    swapgs
.Lkernel_gs:
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
    # The CPU aligned RSP to 16 before its pushes; 22 quadwords later it is
    # aligned again, as the call below needs.
    movq %rsp, %rdi
    cld
    callq exception_handler
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
    addq $16, %rsp
    testb $3, 8(%rsp)
    jz .Lkernel_return
    swapgs
.Lkernel_return:
    iretq

    .section .rodata.exceptions, "a"
    .balign 8
    .global exception_stub_table
exception_stub_table:
    .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exception_stub_\vector
    .endr
    .global interrupt_stub_table
interrupt_stub_table:
    .quad exception_stub_32
    .quad exception_stub_33
    .quad exception_stub_34
    .quad exception_stub_35
    .quad exception_stub_255
