# auipc: rd = pc + (imm << 12, sign-extended from bit 31).
# Expected values: the label's address (from the assembler) plus the offset, by hand.

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_CASE(2, x14, 0, 1: auipc x14, 0; la x6, 1b; sub x14, x14, x6)
  TEST_CASE(3, x14, 0x1000, 1: auipc x14, 1; la x6, 1b; sub x14, x14, x6)
  TEST_CASE(4, x14, 0xfffffffffffff000, 1: auipc x14, 0xfffff; la x6, 1b; sub x14, x14, x6)
  TEST_CASE(5, x14, 0x000000007ffff000, 1: auipc x14, 0x7ffff; la x6, 1b; sub x14, x14, x6)
  TEST_CASE(6, x14, 0xffffffff80000000, 1: auipc x14, 0x80000; la x6, 1b; sub x14, x14, x6)
  TEST_CASE(7, x14, 0x0000000012345000, 1: auipc x14, 0x12345; la x6, 1b; sub x14, x14, x6)
  TEST_CASE(8, x0, 0, auipc x0, 0x12345)

  TEST_PASSFAIL
RVTEST_CODE_END
