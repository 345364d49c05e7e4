# Traps through mtvec (direct mode, a handler at an address that is 4- but not 8-byte aligned):
# every cause the core raises, with mcause, mepc and mtval; mstatus's MIE/MPIE on a trap and on
# mret; mret to a written mepc. The handler records mcause (x11), mepc (x12), mtval (x13) and
# mstatus (x10), and resumes at x15 (each test sets it to the instruction after the faulting one).
# Expected values: the RISC-V privileged spec and verif/scalar/iss.py's docstring, by hand.

#include "test_macros.h"

/* Run insn (one instruction, label test_<n>_insn) expecting a trap with this cause there. */
#define TEST_TRAP(testnum, cause, insn...) \
test_ ## testnum: \
    li TESTNUM, testnum; \
    la x15, 2f; \
    li x11, -1; \
test_ ## testnum ## _insn: \
    insn; \
    j fail; \
2:  li x7, cause; \
    bne x11, x7, fail; \
    la x7, test_ ## testnum ## _insn; \
    bne x12, x7, fail;

/* mtval of the last trap minus the address of label (0 expected). */
#define TVAL_MINUS(label) la x6, label; sub x14, x13, x6
/* mtval of the last trap minus the instruction word at label (0 expected). */
#define TVAL_MINUS_INSN(label) la x6, label; lwu x6, 0(x6); sub x14, x13, x6

#define RAM_END (D1_RAM_BASE + D1_RAM_SIZE)

RVTEST_CODE_BEGIN
  la x1, handler
  csrw mtvec, x1

  TEST_TRAP(2, 11, ecall)
  TEST_CASE(3, x13, 0, nop)
  TEST_TRAP(4, 3, ebreak)
  TEST_CASE(5, x13, 0, nop)

  # Illegal instructions; mtval holds the instruction bits.
  TEST_TRAP(6, 2, .word 0xffffffff)
  TEST_CASE(7, x13, 0xffffffff, nop)
  TEST_TRAP(8, 2, .word 0x00000000)
  TEST_CASE(9, x13, 0, nop)
  TEST_TRAP(10, 2, csrr x1, 0x180)                    # satp: not implemented
  TEST_CASE(11, x14, 0, TVAL_MINUS_INSN(test_10_insn))
  TEST_TRAP(12, 2, csrw mhartid, x1)                  # read-only
  TEST_CASE(13, x14, 0, TVAL_MINUS_INSN(test_12_insn))
  TEST_TRAP(14, 2, csrrs x1, cycle, x2)               # read-only: csrrs with rs1 != x0 writes
  TEST_TRAP(15, 2, csrrwi x0, instret, 0)             # csrrwi always writes
  TEST_CASE(16, x14, 0, csrrs x14, mhartid, x0)       # a read of a read-only CSR is legal
  TEST_TRAP(17, 2, wfi)
  TEST_TRAP(18, 2, .word 0x10200073)                  # sret: no supervisor mode
  TEST_TRAP(19, 2, .word 0x00000057)                  # OP-V: no vector extension
  TEST_TRAP(20, 2, .word 0x04001013)                  # slli with shamt[6] set (funct6 = 1)
  TEST_TRAP(21, 2, .word 0x00003003 | (7 << 12))      # load funct3 7
  TEST_TRAP(22, 2, .word 0x00004023)                  # store funct3 4
  TEST_TRAP(23, 2, .word 0x02000033 | (0x20 << 25))   # OP funct7 0x60
  TEST_TRAP(24, 2, .word 0x0000200f)                  # MISC-MEM funct3 2
  TEST_TRAP(25, 2, .word 0x00001067)                  # JALR funct3 1
  TEST_TRAP(26, 2, .word 0x00002063)                  # branch funct3 2

  # Misaligned loads and stores (mtval = the address), checked before the range.
  la x2, tdat
  TEST_TRAP(27, 4, lh x1, 1(x2))
  TEST_CASE(28, x14, 0, TVAL_MINUS(tdat + 1))
  TEST_TRAP(29, 4, lw x1, 2(x2))
  TEST_TRAP(30, 4, lwu x1, 1(x2))
  TEST_TRAP(31, 4, ld x1, 4(x2))
  TEST_CASE(32, x14, 0, TVAL_MINUS(tdat + 4))
  TEST_TRAP(33, 4, lhu x1, 3(x2))
  TEST_TRAP(34, 6, sh x1, 1(x2))
  TEST_CASE(35, x14, 0, TVAL_MINUS(tdat + 1))
  TEST_TRAP(36, 6, sw x1, 2(x2))
  TEST_TRAP(37, 6, sd x1, 4(x2))
  TEST_CASE(38, x14, 0x55, ld x14, 0(x2))              # the faulting stores wrote nothing

  # Out-of-range loads and stores (mtval = the address).
  li x2, 0
  TEST_TRAP(39, 5, ld x1, 0(x2))
  TEST_CASE(40, x13, 0, nop)
  li x2, D1_RAM_BASE
  TEST_TRAP(41, 5, lb x1, -1(x2))
  TEST_CASE(42, x13, D1_RAM_BASE - 1, nop)
  li x2, RAM_END
  TEST_TRAP(43, 5, lbu x1, 0(x2))
  TEST_CASE(44, x13, RAM_END, nop)
  TEST_TRAP(45, 4, ld x1, -4(x2))                     # misaligned and out of range: misaligned
  TEST_CASE(46, x14, 0, ld x14, -8(x2))               # the last doubleword is in range
  TEST_TRAP(47, 7, sd x0, 0(x2))
  TEST_CASE(48, x13, RAM_END, nop)
  li x2, 0
  TEST_TRAP(49, 7, sb x0, 0(x2))

  # Instruction address misaligned: the jump or taken branch traps (mepc = it, mtval = target).
  TEST_TRAP(50, 0, .word 0x0020006f)                  # jal x0, +2
  TEST_CASE(51, x14, 2, TVAL_MINUS(test_50_insn))
  TEST_TRAP(52, 0, .word 0x00000163)                  # beq x0, x0, +2
  TEST_CASE(53, x14, 2, TVAL_MINUS(test_52_insn))
  la x2, tdat
  TEST_TRAP(54, 0, jalr x1, 2(x2))
  TEST_CASE(55, x14, 2, TVAL_MINUS(tdat))
  TEST_CASE(56, x14, 7, li x14, 7; .word 0x00001163)  # bne x0, x0, +2: not taken, no trap

  # Instruction access fault: the fetch at the target traps (mepc = mtval = the target).
  li x15, 0
  la x15, 1f
  li x2, RAM_END
  jalr x1, 0(x2)
  j fail
1:TEST_CASE(57, x11, 1, nop)
  TEST_CASE(58, x12, RAM_END, nop)
  TEST_CASE(59, x13, RAM_END, nop)

  # mstatus: a trap saves MIE in MPIE and clears MIE; mret restores MIE from MPIE and sets MPIE.
  TEST_CASE(60, x14, 0x1808, csrw mstatus, x0; csrsi mstatus, 8; csrr x14, mstatus)
  TEST_TRAP(61, 11, ecall)
  TEST_CASE(62, x10, 0x1880, nop)
  TEST_CASE(63, x14, 0x1888, csrr x14, mstatus)
  TEST_CASE(64, x14, 0x1880, csrci mstatus, 8; csrr x14, mstatus)
  TEST_TRAP(65, 3, ebreak)
  TEST_CASE(66, x10, 0x1800, nop)
  TEST_CASE(67, x14, 0x1880, csrr x14, mstatus)
  TEST_CASE(68, x14, 0x1800, csrw mstatus, x0; csrr x14, mstatus)

  # mret continues at mepc (low bits cleared on the write).
  TEST_CASE(69, x14, 9, li x14, 9; la x1, 1f; csrw mepc, x1; mret; j fail; 1: nop)
  TEST_CASE(70, x14, 10, li x14, 10; la x1, 1f; addi x1, x1, 3; csrw mepc, x1; mret; j fail; 1: nop)

  # The default handler is back in place for anything unexpected.
  la x1, __d1_trap
  csrw mtvec, x1
  TEST_PASSFAIL

  .balign 8
  nop
handler:                                              # 4 mod 8
  csrr x11, mcause
  csrr x12, mepc
  csrr x13, mtval
  csrr x10, mstatus
  csrw mepc, x15
  mret
RVTEST_CODE_END

RVTEST_DATA_BEGIN
tdat: .dword 0x55
RVTEST_DATA_END
