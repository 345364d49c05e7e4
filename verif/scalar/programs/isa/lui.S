# lui: rd = imm << 12, sign-extended from bit 31.
# Expected values: the RISC-V unprivileged spec's definition, by hand.

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_CASE(2, x1, 0x0000000000000000, lui x1, 0x00000)
  TEST_CASE(3, x1, 0x0000000000001000, lui x1, 0x00001)
  TEST_CASE(4, x1, 0x000000007ffff000, lui x1, 0x7ffff)
  TEST_CASE(5, x1, 0xffffffff80000000, lui x1, 0x80000)
  TEST_CASE(6, x1, 0xfffffffffffff000, lui x1, 0xfffff)
  TEST_CASE(7, x1, 0x0000000012345000, lui x1, 0x12345)
  TEST_CASE(8, x1, 0xffffffffffffffff, lui x1, 0x80000; srai x1, x1, 63)
  TEST_CASE(9, x1, 0x00000000000007ff, lui x1, 0x7ffff; srli x1, x1, 20)
  TEST_CASE(10, x0, 0, lui x0, 0x80000)

  TEST_PASSFAIL
RVTEST_CODE_END
