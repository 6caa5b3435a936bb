# The Multiboot entry: 32-bit protected mode, paging off, EAX = the boot
# loader's magic, EBX = the Multiboot information (MBI) address, no stack.
# Builds an identity map of the first GiB (2 MiB pages), enters long mode
# and calls {main}(magic, mbi), which checks both: the magic is not checked
# here so a wrong one is reported as a failed check rather than a hang.
#
# If the CPU has no long mode, the verdict is a failure on the exit port,
# without a word on the serial port (there is no 32-bit printing code).

    .set EXIT_PORT, 0xF4
    .set EXIT_FAIL, 0x11
    .set PRESENT_WRITABLE, 0x3
    .set LARGE_PAGE_PRESENT_WRITABLE, 0x83
    .set CR4_PAE, 1 << 5
    .set CR0_PG, 1 << 31
    .set MSR_EFER, 0xC0000080
    .set EFER_LME, 1 << 8
    .set CODE64_SELECTOR, 0x08
    .set DATA_SELECTOR, 0x10

    .section .text.multiboot_entry, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    movl %eax, %edi
    movl %ebx, %esi
    movl $multiboot_stack_top, %esp

    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb .Lno_long_mode
    movl $0x80000001, %eax
    cpuid
    btl $29, %edx
    jnc .Lno_long_mode

    # The tables are in the bss, which the loader zeroed: only the low
    # halves of the entries need writing.
    movl $multiboot_pdpt + PRESENT_WRITABLE, multiboot_pml4
    movl $multiboot_directory + PRESENT_WRITABLE, multiboot_pdpt
    xorl %ecx, %ecx
.Lnext_large_page:
    movl %ecx, %eax
    shll $21, %eax
    orl $LARGE_PAGE_PRESENT_WRITABLE, %eax
    movl %eax, multiboot_directory(, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jb .Lnext_large_page

    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $multiboot_pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    orl $CR0_PG, %eax
    movl %eax, %cr0

    lgdt multiboot_gdt_pointer
    ljmp $CODE64_SELECTOR, $.Llong_mode

.Lno_long_mode:
    movw $EXIT_PORT, %dx
    movl $EXIT_FAIL, %eax
    outl %eax, %dx
.Lhalt:
    hlt
    jmp .Lhalt

    .code64
.Llong_mode:
    movl $DATA_SELECTOR, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movl $multiboot_stack_top, %esp
    # The upper halves of RDI and RSI are undefined after the switch; the
    # 32-bit moves zero them: RDI = magic, RSI = MBI address.
    movl %edi, %edi
    movl %esi, %esi
    xorl %ebp, %ebp
    call {main}
    ud2

    .section .rodata.multiboot_entry, "a"
    .balign 8
multiboot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF    # 0x08: 64-bit code
    .quad 0x00CF92000000FFFF    # 0x10: flat data
multiboot_gdt_end:
multiboot_gdt_pointer:
    .short multiboot_gdt_end - multiboot_gdt - 1
    .long multiboot_gdt

    .section .bss.multiboot_entry, "aw", @nobits
    .balign 4096
multiboot_pml4:
    .skip 4096
multiboot_pdpt:
    .skip 4096
multiboot_directory:
    .skip 4096
    .balign 16
    .skip 64 * 1024
multiboot_stack_top:

    .text
