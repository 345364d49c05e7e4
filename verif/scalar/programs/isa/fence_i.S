# fence.i: an instruction stored to memory is what a later fetch executes after fence.i.
# The patched instructions are copied from templates, so the encodings come from the assembler.

#include "test_macros.h"

RVTEST_CODE_BEGIN
  # 2: patch "addi x14, x0, 1" at 1: into "addi x14, x0, 42", fence.i, then run it.
  TEST_CASE(2, x14, 42, la x2, 1f; la x5, 3f; lw x4, 0(x5); sw x4, 0(x2); fence.i; \
            j 1f; 3: addi x14, x0, 42; 1: addi x14, x0, 1)
  # 3: the same code patched twice, run after each patch.
  TEST_CASE(3, x14, 5, la x2, 5f; la x5, 6f; lw x4, 0(x5); sw x4, 0(x2); fence.i; \
            jal x1, 5f; la x5, 7f; lw x4, 0(x5); sw x4, 0(x2); fence.i; jal x1, 5f; j 8f; \
            6: addi x14, x0, 4; 7: addi x14, x14, 1; 5: addi x14, x0, 100; jalr x0, 0(x1); 8: nop)
  # 4: a patched jump: the patch replaces "j fail" with a nop.
  TEST_CASE(4, x14, 0, la x2, 1f; la x5, 3f; lw x4, 0(x5); sw x4, 0(x2); fence.i; \
            li x14, 0; j 1f; 3: nop; 1: j fail)

  TEST_PASSFAIL
RVTEST_CODE_END
