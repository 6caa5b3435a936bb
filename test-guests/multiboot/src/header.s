# The Multiboot 1 header (specification 0.6.96, section 3.1): 4-byte
# aligned in the file's first 8 KiB (the linker script puts it first).
#
# The image is an ELF64 file, which Multiboot 1 loaders do not load as ELF,
# so flag 16 (the "a.out kludge") says to use the addresses spelled out
# here instead. Flags 0 and 1 ask for page-aligned modules and for memory
# information; no video mode (flag 2): partitions have no framebuffer.

    .set MULTIBOOT_MAGIC, 0x1BADB002
    .set MULTIBOOT_FLAGS, 0x00010003

    .section .multiboot_header, "a"
    .balign 4
multiboot_header:
    .long MULTIBOOT_MAGIC
    .long MULTIBOOT_FLAGS
    .long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)
    .long multiboot_header      # header_addr
    .long guest_image_start     # load_addr
    .long guest_load_end        # load_end_addr: no need to copy debug info
    .long guest_image_end       # bss_end_addr: the loader zeroes the bss
    .long _start                # entry_addr

    .text
