# Multiboot headers: one image, two boot protocols.
#
# GRUB boots Tessera with Multiboot2 (specification 1.0, section 3.1: the
# header is 8-byte aligned within the first 32 KiB). QEMU's -kernel only
# understands Multiboot1 (specification 0.6.96, section 3.1: 4-byte aligned
# within the first 8 KiB) and rejects ELF64 images unless the header carries
# the load addresses itself (flag bit 16, the "a.out kludge"), so that header
# spells them out. The linker script keeps them first in the image.

    .section .multiboot_headers, "a"

    .set MB2_MAGIC, 0xE85250D6
    .set MB2_ARCH_I386, 0
    .set MB2_LENGTH, mb2_header_end - mb2_header_start

    .balign 8
mb2_header_start:
    .long MB2_MAGIC
    .long MB2_ARCH_I386
    .long MB2_LENGTH
    .long 0x100000000 - (MB2_MAGIC + MB2_ARCH_I386 + MB2_LENGTH)

    # Tag 6, module alignment: modules start on page boundaries, so the
    # kernel can hand their frames to components without copying.
    .balign 8
    .short 6
    .short 0
    .long 8

    # End tag.
    .balign 8
    .short 0
    .short 0
    .long 8
mb2_header_end:

    # Flags: bit 0 page-aligned modules, bit 1 memory information,
    # bit 16 the address fields below are valid.
    .set MB1_MAGIC, 0x1BADB002
    .set MB1_FLAGS, 0x00010003

    .balign 4
mb1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long 0x100000000 - (MB1_MAGIC + MB1_FLAGS)
    .long mb1_header             # header_addr
    .long kernel_phys_start      # load_addr
    .long kernel_load_end_phys   # load_end_addr
    .long kernel_bss_end_phys    # bss_end_addr: QEMU zeroes up to here
    .long _start                 # entry_addr
