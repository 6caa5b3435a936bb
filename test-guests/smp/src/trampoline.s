# The start page of the application processors: a start-up IPI with
# vector VV starts a VP here in real mode, CS = VV00h (base VV000h), IP 0.
# It records what it found (CS, CR0, EDX) in its own page, takes the
# bootstrap processor's paging, CR4 and EFER from the parameters, enters
# long mode and calls the entry in the parameters on the stack there.
#
# The page is copied to 0x8000 and 0x9000 (vectors 0x08 and 0x09); the
# 16-bit part reads its own copy's parameters (DS = CS), the 64-bit part
# those of the page at 0x8000 (the far jump goes there: the copies are
# identical). Parameter offsets (PARAMS in hw.rs):
#   F00 GDT (null, 64-bit code 08h, data 10h)   F20 GDTR (limit, 32-bit base)
#   F30 CR3   F38 stack top   F40 entry   F48 IDTR (limit, 64-bit base)
#   F58 CR4   F5C EFER   F60 CR0
#   F70 CS seen (16 bits)   F74 CR0 seen   F78 EDX seen

    .section .text.smp_trampoline, "ax"
    .global smp_trampoline_start
    .global smp_trampoline_end
    .code16
smp_trampoline_start:
    cli
    movl %edx, %ebx
    movw %cs, %ax
    movw %ax, %ds
    movw %ax, 0xF70
    movl %cr0, %eax
    movl %eax, 0xF74
    movl %ebx, 0xF78
    lgdtl 0xF20
    movl 0xF58, %eax
    movl %eax, %cr4
    movl 0xF30, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    movl 0xF5C, %eax
    xorl %edx, %edx
    wrmsr
    movl 0xF60, %eax
    movl %eax, %cr0
    ljmpl $0x08, $(0x8000 + smp_long_mode - smp_trampoline_start)

    .code64
smp_long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movq 0x8F38, %rsp
    lidt 0x8F48
    movq 0x8F40, %rax
    callq *%rax
    ud2
smp_trampoline_end:
