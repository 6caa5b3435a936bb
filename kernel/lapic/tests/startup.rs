//! The INIT and SIPI register state against AMD APM Vol. 2 Table 14-1
//! ("Initial Processor State") and Intel SDM Vol. 3A Table 9-1, field by
//! field.

use tessera_lapic::startup::{
    CR0_AT_RESET, ResetRegisters, SegmentAttributes, VmcbSegment, init_registers, sipi_start,
};

fn seg(selector: u16, base: u64, attributes: u16) -> VmcbSegment {
    VmcbSegment {
        selector,
        attrib: SegmentAttributes::from_bits(attributes),
        limit: 0xFFFF,
        base,
    }
}

#[test]
fn init_state_table() {
    // GDTR and IDTR: base 0, limit FFFFh (selector and attributes unused).
    let table = seg(0, 0, 0);
    let data = seg(0, 0, 0x93);
    let expected = ResetRegisters {
        // CS F000h, base FFFF0000h, limit FFFFh: with RIP FFF0h the first
        // fetch is at FFFFFFF0h.
        cs: seg(0xF000, 0xFFFF_0000, 0x9B),
        ds: data,
        es: data,
        fs: data,
        gs: data,
        ss: data,
        ldtr: seg(0, 0, 0x82),
        tr: seg(0, 0, 0x8B),
        gdtr: table,
        idtr: table,
        rip: 0xFFF0,
        rflags: 0x2,
        rdx: 0x0080_0F12,
        // CR0: CD and NW were set (reset value); ET set; the rest clear.
        cr0: 0x6000_0010,
        cr2: 0,
        cr3: 0,
        cr4: 0,
        efer: 0,
        dr6: 0xFFFF_0FF0,
        dr7: 0x400,
    };
    assert_eq!(init_registers(CR0_AT_RESET, 0x0080_0F12), expected);
    // INIT keeps CD and NW as they were, and only those.
    assert_eq!(init_registers(0x8005_0033, 0).cr0, 0x10);
    assert_eq!(init_registers(0xE005_0033, 0).cr0, 0x6000_0010);
    assert_eq!(init_registers(0x4000_0001, 0).cr0, 0x4000_0010);
}

#[test]
fn sipi_start_page() {
    // SIPI vector VV: CS selector VV00h, base VV000h, IP 0.
    for vector in [0x00_u8, 0x08, 0x9F, 0xFF] {
        let start = sipi_start(vector);
        assert_eq!(start.cs.selector, u16::from(vector) << 8);
        assert_eq!(start.cs.base, u64::from(vector) << 12);
        assert_eq!(start.cs.limit, 0xFFFF);
        assert_eq!(start.rip, 0);
    }
}
