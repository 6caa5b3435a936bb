# The bootstrap processor's entry: 32-bit protected mode to 64-bit long mode.
#
# Both Multiboot protocols enter here in 32-bit protected mode with paging off,
# EAX = the loader's magic and EBX = the physical address of its boot
# information. This code builds the early page tables, enables long mode and
# jumps to kernel_start(magic, info) in the higher half.
#
# The early tables (32 KiB at early_paging, zeroed by the loader as .bss):
#   +0x0000 PML4: [0] identity, [256] physical map, [511] kernel image
#   +0x1000 PDPT identity: 4 GiB of 2 MiB pages, so this code keeps running
#   +0x2000 PDPT kernel: [510] maps KERNEL_VMA to physical 0 (1 GiB)
#   +0x3000 PDPT physical map at 0xFFFF800000000000 (4 GiB)
#   +0x4000 four page directories covering physical 0..4 GiB
# The kernel replaces them with its own tables once it knows the memory map;
# application processors reuse them to get from the trampoline to the kernel.

    .set COM1, 0x3F8
    .set DEBUG_EXIT_PORT, 0xF4
    .set DEBUG_EXIT_FAILURE, 0x11
    .set PTE_PRESENT_WRITABLE, 0x003
    .set PDE_LARGE_PAGE, 0x083
    .set CR0_PE_WP_PG, 0x80010001
    .set CR4_PAE, 0x20
    .set MSR_EFER, 0xC0000080
    .set EFER_LME_NXE, 0x900

    .section .boot.text, "ax"
    .code32
    .global _start
_start:
    cli
    cld
    movl %eax, %edi
    movl %ebx, %esi

    # Long mode and no-execute are required; check before touching EFER,
    # which would otherwise fault with no way to report it.
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb .Lno_long_mode
    movl $0x80000001, %eax
    cpuid
    btl $29, %edx
    jnc .Lno_long_mode
    btl $20, %edx
    jnc .Lno_long_mode

    movl $early_paging_phys, %ebx

    # Page directories: 2048 large pages, physical 0..4 GiB.
    leal 0x4000(%ebx), %edx
    xorl %ecx, %ecx
.Lfill_directories:
    movl %ecx, %eax
    shll $21, %eax
    orl $PDE_LARGE_PAGE, %eax
    movl %eax, (%edx,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jb .Lfill_directories

    # The identity and physical-map PDPTs share the four directories.
    xorl %ecx, %ecx
.Lfill_pdpts:
    movl %ecx, %eax
    shll $12, %eax
    leal 0x4000 + PTE_PRESENT_WRITABLE(%ebx,%eax), %eax
    movl %eax, 0x1000(%ebx,%ecx,8)
    movl %eax, 0x3000(%ebx,%ecx,8)
    incl %ecx
    cmpl $4, %ecx
    jb .Lfill_pdpts

    leal 0x4000 + PTE_PRESENT_WRITABLE(%ebx), %eax
    movl %eax, 0x2000 + 510 * 8(%ebx)

    leal 0x1000 + PTE_PRESENT_WRITABLE(%ebx), %eax
    movl %eax, (%ebx)
    leal 0x3000 + PTE_PRESENT_WRITABLE(%ebx), %eax
    movl %eax, 256 * 8(%ebx)
    leal 0x2000 + PTE_PRESENT_WRITABLE(%ebx), %eax
    movl %eax, 511 * 8(%ebx)

    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl %ebx, %cr3

    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME_NXE, %eax
    wrmsr

    movl %cr0, %eax
    orl $CR0_PE_WP_PG, %eax
    movl %eax, %cr0

    lgdt early_gdt_pointer
    ljmp $0x08, $.Llong_mode

    .code64
.Llong_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs

    # EDI = magic and ESI = boot information survive from the loader; the
    # upper halves are zero after the switch, as kernel_start expects.
    movl %edi, %edi
    movl %esi, %esi
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    movabsq $kernel_start, %rax
    callq *%rax
    ud2

    .code32
    # No 64-bit support: say so on COM1, end a QEMU run with the failure
    # status (the port is harmless on a PC without the device), then stop.
.Lno_long_mode:
    movl $no_long_mode_message, %esi
.Lnext_char:
    movb (%esi), %al
    testb %al, %al
    jz .Lreport_done
    movb %al, %bl
    movw $COM1 + 5, %dx
.Lwait_transmitter:
    inb %dx, %al
    testb $0x20, %al
    jz .Lwait_transmitter
    movw $COM1, %dx
    movb %bl, %al
    outb %al, %dx
    incl %esi
    jmp .Lnext_char
.Lreport_done:
    movb $DEBUG_EXIT_FAILURE, %al
    outb %al, $DEBUG_EXIT_PORT
.Lhalt:
    hlt
    jmp .Lhalt

    .section .boot.rodata, "a"
    .balign 8
early_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF    # 0x08: 64-bit code, DPL 0
    .quad 0x00CF92000000FFFF    # 0x10: data, DPL 0
early_gdt_end:
early_gdt_pointer:
    .short early_gdt_end - early_gdt - 1
    .long early_gdt

no_long_mode_message:
    .asciz "fatal: cpu 0: this CPU cannot run Tessera: CPUID 0x80000001 EDX lacks long mode (bit 29) or no-execute (bit 20)\r\n"

    # The early page tables and the bootstrap processor's stack. The page
    # below the stack stays unmapped in the kernel's own tables: a guard.
    .section .bss.boot, "aw", @nobits
    .balign 4096
    .global early_paging
early_paging:
    .skip 0x8000
    .global boot_stack_guard
boot_stack_guard:
    .skip 0x1000
boot_stack:
    # 128 KiB: the boot path's frames (kernel_start, bootstrap when not
    # inlined, the permission maps built in place) need more than 64 KiB.
    .skip 0x20000
    .global boot_stack_top
boot_stack_top:
