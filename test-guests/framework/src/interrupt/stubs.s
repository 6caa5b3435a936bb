# The entry points of the test guests' interrupt vectors 32-255 (installed
# only by guests that call interrupt::install) and the code they share.
#
# Each stub is 16 bytes: it pushes its vector and jumps to the common code,
# so stub N is at tessera_guest_interrupt_stubs + (N - 32) * 16. The common
# code reads the TSC first (the instant the handler runs, for the
# benchmarks), saves the registers a Rust call may clobber, and calls
# the recorder with the vector and the interrupted RIP:
#
#   0(%rsp) vector   8 RIP   16 CS   24 RFLAGS   32 RSP   40 SS
#
# The braced names are the Rust static and function that mod.rs passes in.

    .code64
    .section .text.tessera_guest_interrupts, "ax"

    .balign 16
    .global tessera_guest_interrupt_stubs
tessera_guest_interrupt_stubs:
    .set vector, 32
    .rept 224
    .balign 16
    pushq $vector
    jmp tessera_guest_interrupt_common
    .set vector, vector + 1
    .endr

# The NMI gate (vector 2), for guests that install it: the same common
# code, which neither ends an NMI at the APIC nor lets one nest (the CPU
# masks NMIs until the IRET at the end).
    .balign 16
    .global tessera_guest_nmi_stub
tessera_guest_nmi_stub:
    pushq $2
    jmp tessera_guest_interrupt_common

tessera_guest_interrupt_common:
    pushq %rax
    pushq %rdx
    rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    movq %rax, {handler_tsc}(%rip)
    pushq %rcx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    # Nine saved words above the vector; the CPU aligned the frame to 16,
    # so one more word aligns the call.
    movq 72(%rsp), %rdi
    movq 80(%rsp), %rsi
    subq $8, %rsp
    call {record}
    addq $8, %rsp
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rcx
    popq %rdx
    popq %rax
    addq $8, %rsp
    iretq
