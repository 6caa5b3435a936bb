# Application processor start-up.
#
# A started AP begins in real mode at TRAMPOLINE_BASE (the startup IPI's
# vector page, CS = 0x0800). The trampoline is copied there at run time; it
# enters long mode directly, on the boot page tables (which identity-map low
# memory and map the kernel image), and jumps to ap_entry in the kernel image.
# ap_entry then switches to the kernel's own tables and the stack the
# bootstrap processor prepared in AP_BOOT, and calls ap_main(new_cpu).

    .set TRAMPOLINE_BASE, 0x8000
    .set CR4_PAE, 0x20
    .set MSR_EFER, 0xC0000080
    .set EFER_LME_NXE, 0x900
    .set CR0_PE_WP_PG, 0x80010001

    .section .rodata.ap_trampoline, "a"
    .global ap_trampoline_start
    .global ap_trampoline_end
    .code16
ap_trampoline_start:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl ap_gdt_pointer - ap_trampoline_start

    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl ap_boot_tables - ap_trampoline_start, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME_NXE, %eax
    wrmsr
    # Protection and paging together: with EFER.LME set this activates long
    # mode (AMD APM vol. 2, 14.6.1), and the far jump loads a 64-bit CS.
    movl %cr0, %eax
    orl $CR0_PE_WP_PG, %eax
    movl %eax, %cr0
    ljmpl $0x08, $(TRAMPOLINE_BASE + ap_long_mode - ap_trampoline_start)

    .code64
ap_long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movq TRAMPOLINE_BASE + ap_kernel_entry - ap_trampoline_start, %rax
    jmpq *%rax

    .balign 8
ap_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF    # 0x08: 64-bit code, DPL 0
    .quad 0x00CF92000000FFFF    # 0x10: data, DPL 0
ap_gdt_pointer:
    .short 23
    .long TRAMPOLINE_BASE + ap_gdt - ap_trampoline_start
    .balign 8
ap_boot_tables:
    .long early_paging_phys
    .long 0
ap_kernel_entry:
    .quad ap_entry
ap_trampoline_end:

    .section .text.ap_entry, "ax"
    .code64
ap_entry:
    movabsq $AP_BOOT, %rbx
    movq 0(%rbx), %rax
    movq %rax, %cr3
    movq 8(%rbx), %rsp
    movq 16(%rbx), %rdi
    xorl %ebp, %ebp
    movabsq $ap_main, %rax
    callq *%rax
    ud2
