# jalr: rd = pc + 4, jump to (rs1 + offset) with bit 0 cleared; rd = rs1; rd = x0.
# Expected values: label addresses from the assembler.

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_CASE(2, x14, 0, la x2, 1f; la x6, 2f; jalr x1, 0(x2); 2: j fail; 1: sub x14, x1, x6)
  # 3, 4: positive and negative offsets.
  TEST_CASE(3, x14, 5, li x14, 5; la x2, 1f; addi x2, x2, -16; jalr x0, 16(x2); j fail; 1: nop)
  TEST_CASE(4, x14, 6, li x14, 6; la x2, 1f; addi x2, x2, 2044; jalr x0, -2044(x2); j fail; 1: nop)
  # 5: bit 0 of the target is cleared (an odd address jumps to the even one below it).
  TEST_CASE(5, x14, 8, li x14, 8; la x2, 1f; jalr x0, 1(x2); j fail; 1: nop)
  # 6: rd = rs1: the target comes from the old value, rd gets the link.
  TEST_CASE(6, x14, 0, la x2, 1f; la x6, 2f; jalr x2, 0(x2); 2: j fail; 1: sub x14, x2, x6)
  # 7: a call and a return through jalr.
  TEST_CASE(7, x14, 42, li x14, 0; la x2, 3f; jalr x1, 0(x2); addi x14, x14, 40; j 4f; \
            3: addi x14, x14, 2; jalr x0, 0(x1); 4: nop)
  # 8, 9: the target register written just before (bypass).
  TEST_CASE(8, x14, 9, li x14, 9; la x2, 1f; jalr x0, 0(x2); j fail; 1: nop)
  TEST_CASE(9, x14, 10, li x14, 10; la x2, 1f; nop; nop; jalr x0, 0(x2); j fail; 1: nop)

  TEST_PASSFAIL
RVTEST_CODE_END
