# jal: rd = pc + 4, jump to pc + offset; forward, backward, over 4 KiB, with rd = x0.
# Expected values: label addresses from the assembler.

#include "test_macros.h"

RVTEST_CODE_BEGIN
  # 2: forward, the link register holds the address after the jal; the skipped add never runs.
  TEST_CASE(2, x14, 0, li x14, 0; la x6, 2f; jal x1, 1f; 2: addi x14, x14, 1; 1: sub x14, x1, x6)
  TEST_CASE(3, x14, 0, li x14, 0; jal x0, 1f; addi x14, x14, 1; addi x14, x14, 1; 1: nop)
  # 4: backward: the target jumps forward again past the backward jal.
  TEST_CASE(4, x14, 3, li x14, 1; jal x0, 2f; 1: addi x14, x14, 2; jal x0, 3f; \
            2: jal x5, 1b; addi x14, x14, 100; 3: nop)
  # 5: a jump over more than 4 KiB (beyond any branch's reach) in both directions.
  TEST_CASE(5, x14, 7, li x14, 7; jal x0, 2f; 1: jal x0, 3f; .skip 5000; 2: jal x0, 1b; 3: nop)
  # 6: rd = x0 writes nothing; 7: x31 as the link register.
  TEST_CASE(6, x0, 0, jal x0, 1f; 1: nop)
  TEST_CASE(7, x14, 0, la x6, 1f; jal x31, 1f; 1: sub x14, x31, x6)

  TEST_PASSFAIL
RVTEST_CODE_END
