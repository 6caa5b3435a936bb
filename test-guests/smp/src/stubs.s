# The smp guest's interrupt entries: vectors 32-255 (16 bytes apart from
# smp_irq_stubs) and NMI. Each pushes its vector and calls the recorder
# with the vector and the stack pointer (which tells the VP: each AP has a
# stack of its own), saving the registers a Rust call may clobber.

    .code64
    .section .text.smp_irq, "ax"
    .balign 16
    .global smp_irq_stubs
smp_irq_stubs:
    .set vector, 32
    .rept 224
    .balign 16
    pushq $vector
    jmp smp_irq_common
    .set vector, vector + 1
    .endr

    .global smp_nmi_stub
smp_nmi_stub:
    pushq $2
    jmp smp_irq_common

smp_irq_common:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    movq 72(%rsp), %rdi
    movq %rsp, %rsi
    subq $8, %rsp
    call {record}
    addq $8, %rsp
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    addq $8, %rsp
    iretq
