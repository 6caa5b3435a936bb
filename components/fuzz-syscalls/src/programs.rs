//! The machine code the fuzzer loads: tiny programs for the component
//! domains it makes (so they run, exit and fault), and for the guests of
//! its partitions (so their VPs exit in every way the kernel handles).

use tessera_fuzz::Draw;

/// At most one `DomainWrite` (32 bytes).
pub const MAX_CODE: usize = 32;

/// Code and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code {
    pub bytes: [u8; MAX_CODE],
    pub len: usize,
}

impl Code {
    fn from(bytes: &[u8]) -> Self {
        let mut code = Self {
            bytes: [0; MAX_CODE],
            len: bytes.len(),
        };
        code.bytes[..bytes.len()].copy_from_slice(bytes);
        code
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

const SYSCALL: [u8; 2] = [0x0F, 0x05];
const UD2: [u8; 2] = [0x0F, 0x0B];

/// `mov eax, imm32`.
fn mov_eax(value: u32, out: &mut [u8]) {
    out[0] = 0xB8;
    out[1..5].copy_from_slice(&value.to_le_bytes());
}

/// A program for a component thread (64-bit, entered with every general
/// register zero): exit with a code, yield a while then exit, make one
/// system call then exit, fault, or random bytes.
pub fn component(draw: &mut Draw) -> Code {
    let mut b = [0u8; MAX_CODE];
    match draw.below(6) {
        // mov eax, 9 (Exit); mov esi, code; syscall; ud2
        0 => {
            mov_eax(9, &mut b);
            b[5] = 0xBE;
            b[6..10].copy_from_slice(&(draw.below(4) as u32).to_le_bytes());
            b[10..12].copy_from_slice(&SYSCALL);
            b[12..14].copy_from_slice(&UD2);
            Code::from(&b[..14])
        }
        // mov ebx, n; L: mov eax, 8 (Yield); syscall; dec ebx; jnz L;
        // mov eax, 9; xor esi, esi; syscall; ud2
        1 => {
            b[0] = 0xBB;
            b[1..5].copy_from_slice(&(draw.between(1, 50) as u32).to_le_bytes());
            mov_eax(8, &mut b[5..]);
            b[10..12].copy_from_slice(&SYSCALL);
            b[12..16].copy_from_slice(&[0xFF, 0xCB, 0x75, 0xF5]);
            mov_eax(9, &mut b[16..]);
            b[21..23].copy_from_slice(&[0x31, 0xF6]);
            b[23..25].copy_from_slice(&SYSCALL);
            b[25..27].copy_from_slice(&UD2);
            Code::from(&b[..27])
        }
        // mov eax, number; syscall (on an empty capability space); then
        // exit as above.
        2 => {
            mov_eax(draw.below(48) as u32, &mut b);
            b[5..7].copy_from_slice(&SYSCALL);
            mov_eax(9, &mut b[7..]);
            b[12..14].copy_from_slice(&[0x31, 0xF6]);
            b[14..16].copy_from_slice(&SYSCALL);
            b[16..18].copy_from_slice(&UD2);
            Code::from(&b[..18])
        }
        // mov byte ptr [0x10], 1: a page fault.
        3 => Code::from(&[0xC6, 0x04, 0x25, 0x10, 0x00, 0x00, 0x00, 0x01]),
        4 => Code::from(&UD2),
        _ => {
            draw.fill(&mut b);
            Code::from(&b[..draw.between(1, MAX_CODE as u64) as usize])
        }
    }
}

/// Where a guest starts after reset (CS base 0xFFFF0000, IP 0xFFF0).
pub const RESET_VECTOR: u64 = 0xFFFF_FFF0;

/// A program for a guest at its reset vector (16-bit real mode, 16 bytes
/// before the end of memory): loops of exits the kernel answers, halts,
/// hypercalls and faults, or random bytes.
pub fn guest(draw: &mut Draw) -> Code {
    match draw.below(10) {
        0 => Code::from(&[0xEB, 0xFE]),                   // jmp $
        1 => Code::from(&[0xF4, 0xEB, 0xFD]),             // hlt; jmp -3
        2 => Code::from(&[0x0F, 0xA2, 0xEB, 0xFC]),       // cpuid; jmp -4
        3 => Code::from(&[0xE4, 0x80, 0xEB, 0xFC]),       // in al, 0x80; jmp -4
        4 => Code::from(&[0xE6, 0xF4, 0xEB, 0xFC]),       // out 0xf4, al; jmp -4
        5 => Code::from(&[0x0F, 0x01, 0xD9, 0xEB, 0xFB]), // vmmcall; jmp -5
        6 => Code::from(&[0x0F, 0x32, 0xEB, 0xFC]),       // rdmsr; jmp -4
        7 => Code::from(&UD2),
        8 => Code::from(&[0x8A, 0x07, 0xEB, 0xFC]), // mov al, [bx]; jmp -4
        _ => {
            let mut b = [0u8; 16];
            draw.fill(&mut b);
            Code::from(&b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_fit_one_write_and_replay() {
        for index in 0..500 {
            let a = component(&mut Draw::for_operation(3, index));
            assert_eq!(a, component(&mut Draw::for_operation(3, index)));
            assert!(a.len >= 1 && a.len <= MAX_CODE);
            let g = guest(&mut Draw::for_operation(3, index));
            assert!(g.len >= 1 && g.len <= 16, "fits before the end of memory");
        }
    }

    #[test]
    fn the_yield_loop_jumps_back_to_its_mov() {
        // Find a yield loop and check the jnz displacement by hand: it
        // lands on `mov eax, 8` at offset 5.
        let code = (0..200)
            .map(|i| component(&mut Draw::for_operation(11, i)))
            .find(|c| c.bytes[0] == 0xBB)
            .expect("a yield loop among 200 draws");
        assert_eq!(code.bytes[14], 0x75);
        let after = 16i32;
        assert_eq!(after + i32::from(code.bytes[15] as i8), 5);
        assert_eq!(&code.bytes[5..10], &[0xB8, 8, 0, 0, 0]);
    }
}
