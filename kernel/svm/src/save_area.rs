//! The VMCB state save area: VMCB offsets `400h`–`FFFh`.
//!
//! APM Table B-2 ("VMCB Layout, State Save Area"). Offsets here are
//! relative to the start of the save area, as Table B-2 and Linux count
//! them; add [`SAVE_AREA_OFFSET`] for the VMCB offset (`RIP` is at `178h`
//! in the save area, `578h` in the VMCB). Confirmed by Linux (`struct
//! vmcb_save_area`, 744 bytes up to `SPEC_CTRL`, with offset-named reserved
//! fields checked at build time), QEMU (`struct vmcb_save_area`, up to
//! `LASTEXCPTO`) and Xen (`struct vmcb_struct`). `VMPL` (`0CAh`, SEV-SNP) is
//! Linux only; `SPEC_CTRL` (`2E0h`) is Linux and Xen.
//!
//! Not every register lives here: `VMRUN`/`#VMEXIT` do not switch
//! `FS`/`GS`/`TR`/`LDTR`, `STAR`/`LSTAR`/`CSTAR`/`SFMASK`,
//! `KernelGsBase` or `SYSENTER_*`; `VMLOAD`/`VMSAVE` move those fields
//! (`svm-on-qemu.md`). The general-purpose registers other than `RAX` and
//! `RSP` are not in the VMCB at all.

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

use crate::macros::assert_offsets;
use crate::segment::VmcbSegment;

/// Where the save area starts in the VMCB.
pub const SAVE_AREA_OFFSET: usize = 0x400;

/// Size of the save area (the rest of the 4 KiB VMCB page).
pub const SAVE_AREA_SIZE: usize = 0xC00;

/// The VMCB state save area (3 KiB).
///
/// Field docs give the save-area offset, the VMCB offset in parentheses,
/// and the clean bit covering the field where one does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct VmcbSaveArea {
    /// `000h` (VMCB `400h`): `ES` (clean bit 8).
    pub es: VmcbSegment,
    /// `010h` (VMCB `410h`): `CS` (clean bit 8).
    pub cs: VmcbSegment,
    /// `020h` (VMCB `420h`): `SS` (clean bit 8).
    pub ss: VmcbSegment,
    /// `030h` (VMCB `430h`): `DS` (clean bit 8).
    pub ds: VmcbSegment,
    /// `040h` (VMCB `440h`): `FS` (VMLOAD/VMSAVE).
    pub fs: VmcbSegment,
    /// `050h` (VMCB `450h`): `GS` (VMLOAD/VMSAVE).
    pub gs: VmcbSegment,
    /// `060h` (VMCB `460h`): `GDTR`, limit and base only (clean bit 7).
    pub gdtr: VmcbSegment,
    /// `070h` (VMCB `470h`): `LDTR` (VMLOAD/VMSAVE).
    pub ldtr: VmcbSegment,
    /// `080h` (VMCB `480h`): `IDTR`, limit and base only (clean bit 7).
    pub idtr: VmcbSegment,
    /// `090h` (VMCB `490h`): `TR` (VMLOAD/VMSAVE).
    pub tr: VmcbSegment,
    /// `0A0h`–`0C9h` (VMCB `4A0h`): reserved.
    pub reserved_0a0: [u8; 0x2A],
    /// `0CAh` (VMCB `4CAh`): `VMPL` (SEV-SNP only). Reserved for now.
    /// **Unconfirmed** (Linux only).
    pub vmpl: u8,
    /// `0CBh` (VMCB `4CBh`): `CPL` (clean bit 8).
    pub cpl: u8,
    /// `0CCh`–`0CFh` (VMCB `4CCh`): reserved.
    pub reserved_0cc: [u8; 4],
    /// `0D0h` (VMCB `4D0h`): `EFER` (clean bit 5). `SVME` must be set.
    pub efer: u64,
    /// `0D8h`–`147h` (VMCB `4D8h`): reserved.
    pub reserved_0d8: [u8; 0x70],
    /// `148h` (VMCB `548h`): `CR4` (clean bit 5).
    pub cr4: u64,
    /// `150h` (VMCB `550h`): `CR3` (clean bit 5).
    pub cr3: u64,
    /// `158h` (VMCB `558h`): `CR0` (clean bit 5).
    pub cr0: u64,
    /// `160h` (VMCB `560h`): `DR7` (clean bit 6).
    pub dr7: u64,
    /// `168h` (VMCB `568h`): `DR6` (clean bit 6).
    pub dr6: u64,
    /// `170h` (VMCB `570h`): `RFLAGS`.
    pub rflags: u64,
    /// `178h` (VMCB `578h`): `RIP`.
    pub rip: u64,
    /// `180h`–`1D7h` (VMCB `580h`): reserved.
    pub reserved_180: [u8; 0x58],
    /// `1D8h` (VMCB `5D8h`): `RSP`.
    pub rsp: u64,
    /// `1E0h` (VMCB `5E0h`): `S_CET` (clean bit 12).
    pub s_cet: u64,
    /// `1E8h` (VMCB `5E8h`): `SSP` (clean bit 12).
    pub ssp: u64,
    /// `1F0h` (VMCB `5F0h`): `ISST_ADDR` (clean bit 12).
    pub isst_addr: u64,
    /// `1F8h` (VMCB `5F8h`): `RAX`.
    pub rax: u64,
    /// `200h` (VMCB `600h`): `STAR` (VMLOAD/VMSAVE).
    pub star: u64,
    /// `208h` (VMCB `608h`): `LSTAR` (VMLOAD/VMSAVE).
    pub lstar: u64,
    /// `210h` (VMCB `610h`): `CSTAR` (VMLOAD/VMSAVE).
    pub cstar: u64,
    /// `218h` (VMCB `618h`): `SFMASK` (VMLOAD/VMSAVE).
    pub sfmask: u64,
    /// `220h` (VMCB `620h`): `KernelGsBase` (VMLOAD/VMSAVE).
    pub kernel_gs_base: u64,
    /// `228h` (VMCB `628h`): `SYSENTER_CS` (VMLOAD/VMSAVE).
    pub sysenter_cs: u64,
    /// `230h` (VMCB `630h`): `SYSENTER_ESP` (VMLOAD/VMSAVE).
    pub sysenter_esp: u64,
    /// `238h` (VMCB `638h`): `SYSENTER_EIP` (VMLOAD/VMSAVE).
    pub sysenter_eip: u64,
    /// `240h` (VMCB `640h`): `CR2` (clean bit 9).
    pub cr2: u64,
    /// `248h`–`267h` (VMCB `648h`): reserved.
    pub reserved_248: [u8; 0x20],
    /// `268h` (VMCB `668h`): `G_PAT`, the guest PAT under nested paging (clean
    /// bit 4). Real hardware rejects an invalid PAT; QEMU does not check.
    pub g_pat: u64,
    /// `270h` (VMCB `670h`): `DBGCTL` (clean bit 10; with LBR virtualization).
    pub dbgctl: u64,
    /// `278h` (VMCB `678h`): `BR_FROM` (clean bit 10).
    pub br_from: u64,
    /// `280h` (VMCB `680h`): `BR_TO` (clean bit 10).
    pub br_to: u64,
    /// `288h` (VMCB `688h`): `LASTEXCPFROM` (clean bit 10).
    pub last_excp_from: u64,
    /// `290h` (VMCB `690h`): `LASTEXCPTO` (clean bit 10).
    pub last_excp_to: u64,
    /// `298h`–`2DFh` (VMCB `698h`): reserved.
    pub reserved_298: [u8; 0x48],
    /// `2E0h` (VMCB `6E0h`): `SPEC_CTRL`, the guest's speculation control MSR
    /// (with the V_SPEC_CTRL feature). **Unconfirmed** against the APM
    /// (Linux and Xen agree).
    pub spec_ctrl: u64,
    /// `2E8h`–`BFFh` (VMCB `6E8h`–`FFFh`): reserved.
    pub reserved_2e8: [u8; SAVE_AREA_SIZE - 0x2E8],
}

const _: () = assert!(size_of::<VmcbSaveArea>() == SAVE_AREA_SIZE);

assert_offsets!(VmcbSaveArea {
    es: 0x000,
    cs: 0x010,
    ss: 0x020,
    ds: 0x030,
    fs: 0x040,
    gs: 0x050,
    gdtr: 0x060,
    ldtr: 0x070,
    idtr: 0x080,
    tr: 0x090,
    reserved_0a0: 0x0A0,
    vmpl: 0x0CA,
    cpl: 0x0CB,
    reserved_0cc: 0x0CC,
    efer: 0x0D0,
    reserved_0d8: 0x0D8,
    cr4: 0x148,
    cr3: 0x150,
    cr0: 0x158,
    dr7: 0x160,
    dr6: 0x168,
    rflags: 0x170,
    rip: 0x178,
    reserved_180: 0x180,
    rsp: 0x1D8,
    s_cet: 0x1E0,
    ssp: 0x1E8,
    isst_addr: 0x1F0,
    rax: 0x1F8,
    star: 0x200,
    lstar: 0x208,
    cstar: 0x210,
    sfmask: 0x218,
    kernel_gs_base: 0x220,
    sysenter_cs: 0x228,
    sysenter_esp: 0x230,
    sysenter_eip: 0x238,
    cr2: 0x240,
    reserved_248: 0x248,
    g_pat: 0x268,
    dbgctl: 0x270,
    br_from: 0x278,
    br_to: 0x280,
    last_excp_from: 0x288,
    last_excp_to: 0x290,
    reserved_298: 0x298,
    spec_ctrl: 0x2E0,
    reserved_2e8: 0x2E8,
});

impl Default for VmcbSaveArea {
    fn default() -> Self {
        Self::new_zeroed()
    }
}
