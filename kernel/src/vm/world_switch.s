# The world switch: host to guest with VMRUN and back (AMD APM vol. 2,
# 15.5 "VMRUN instruction", 15.6 "#VMEXIT", 15.5.2 "VMSAVE and VMLOAD").
#
# tessera_vmrun(guest_vmcb_pa %rdi, gprs %rsi, host_vmcb_pa %rdx)
#
# VMRUN saves and restores only part of the host: RIP, RSP, RAX, RFLAGS,
# EFER, CR0/3/4, the segment registers' selectors, GDTR and IDTR (into the
# host save area, VM_HSAVE_PA). Everything VMLOAD/VMSAVE covers (FS, GS,
# TR, LDTR with their hidden parts, KERNEL_GS_BASE, STAR, LSTAR, CSTAR,
# SFMASK, SYSENTER_*) is saved into this CPU's host VMCB before and
# reloaded from it after, so a guest can never leave its values there.
#
# GIF is clear from CLGI until STGI, so no interrupt or NMI runs between
# loading guest state and VMRUN, or between #VMEXIT and restoring the host.
# STI before VMRUN makes the host's saved IF set: with V_INTR_MASKING a
# physical interrupt then ends the guest (INTR intercept) instead of
# waiting until it is done. The caller runs the pending interrupt after.
#
# RAX and RSP of the guest are in the VMCB; the other fourteen general
# registers are in `gprs` (tessera_vcpu::GuestGprs, offsets checked there).

    .text
    # Say so: global_asm! blocks are concatenated in an order the compiler
    # chooses, and the boot entry before this one may end in .code32.
    .code64
    .macro enter_frame
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rsi                   # 8(%rsp): the gprs pointer
    push %rdx                   # 0(%rsp): the host VMCB
    clgi
    .endm

    .global tessera_vmrun
tessera_vmrun:
    enter_frame
    mov %rdx, %rax
    vmsave %rax
    jmp 1f

# tessera_vmrun_again(guest_vmcb_pa %rdi, gprs %rsi, host_vmcb_pa %rdx):
# the same, for a CPU whose host state VMLOAD/VMSAVE cover is as the last
# #VMEXIT here restored it from the host VMCB (the lock-free loop, which
# changes none of it: no SWAPGS, no MSR write, no TR or LDTR load). The
# VMSAVE would store what that VMCB already holds.
    .global tessera_vmrun_again
tessera_vmrun_again:
    enter_frame
1:
    mov %rdi, %rax
    vmload %rax

    mov 0x00(%rsi), %rbx
    mov 0x08(%rsi), %rcx
    mov 0x10(%rsi), %rdx
    mov 0x20(%rsi), %rdi
    mov 0x28(%rsi), %rbp
    mov 0x30(%rsi), %r8
    mov 0x38(%rsi), %r9
    mov 0x40(%rsi), %r10
    mov 0x48(%rsi), %r11
    mov 0x50(%rsi), %r12
    mov 0x58(%rsi), %r13
    mov 0x60(%rsi), %r14
    mov 0x68(%rsi), %r15
    mov 0x18(%rsi), %rsi

    sti
    vmrun %rax

    # #VMEXIT: host RSP and RAX (the guest VMCB, as VMRUN saved it: APM
    # vol. 2, 15.5.1) are back; GIF is clear.
    push %rsi
    mov 16(%rsp), %rsi
    mov %rbx, 0x00(%rsi)
    mov %rcx, 0x08(%rsi)
    mov %rdx, 0x10(%rsi)
    mov %rdi, 0x20(%rsi)
    mov %rbp, 0x28(%rsi)
    mov %r8, 0x30(%rsi)
    mov %r9, 0x38(%rsi)
    mov %r10, 0x40(%rsi)
    mov %r11, 0x48(%rsi)
    mov %r12, 0x50(%rsi)
    mov %r13, 0x58(%rsi)
    mov %r14, 0x60(%rsi)
    mov %r15, 0x68(%rsi)
    pop %rdx
    mov %rdx, 0x18(%rsi)

    vmsave %rax
    mov 0(%rsp), %rax
    vmload %rax
    cli
    stgi

    # The guest may have filled the return stack buffer with its own
    # targets: overwrite all 32 entries with harmless ones before the host
    # returns anywhere (as Linux's FILL_RETURN_BUFFER does after #VMEXIT).
    # Unrolled: 32 calls in a row fill the same 32 entries as a loop of
    # 16 double calls, without the 32 loop instructions on every exit.
    # Each call's return address is a capture loop that only speculation
    # can reach.
    .rept 32
    call 3f
2:
    pause
    lfence
    jmp 2b
3:
    .endr
    # The 32 return addresses and the two pointers pushed at entry.
    add $(32 * 8 + 16), %rsp

    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

# on_fresh_stack(stack_top %rdi, entry %rsi, argument %rdx): runs
# entry(argument) on an empty stack. A VP's loop never returns, and
# switching away from it must not leave its frames below the next thread's.
    .global tessera_on_fresh_stack
tessera_on_fresh_stack:
    mov %rdi, %rsp
    mov %rdx, %rdi
    call *%rsi
    ud2
