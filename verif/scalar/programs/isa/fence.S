# fence: stores before the fence are seen by loads after it; every variant is accepted.
# Expected values: the stored constants.

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_CASE(2, x14, 0x1122334455667788, la x2, tdat; li x1, 0x1122334455667788; sd x1, 0(x2); \
            fence; ld x14, 0(x2))
  TEST_CASE(3, x14, 0x55, la x2, tdat; li x1, 0x55; sb x1, 3(x2); fence w, r; lbu x14, 3(x2))
  TEST_CASE(4, x14, 0x66, la x2, tdat; li x1, 0x66; sb x1, 4(x2); fence rw, rw; lbu x14, 4(x2))
  TEST_CASE(5, x14, 0x77, la x2, tdat; li x1, 0x77; sb x1, 5(x2); fence.tso; lbu x14, 5(x2))
  TEST_CASE(6, x14, 0x88, la x2, tdat; li x1, 0x88; sb x1, 6(x2); fence iorw, iorw; \
            lbu x14, 6(x2))

  TEST_PASSFAIL
RVTEST_CODE_END

RVTEST_DATA_BEGIN
tdat: .dword 0
RVTEST_DATA_END
