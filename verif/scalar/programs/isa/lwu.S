# lwu: load word, zero-extended, at every aligned offset from -16 to +15 around tdat_mid.
# Expected values: the data bytes of tdat.h read little-endian in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_LD_OP(2, lwu, 0x000000007f80ff00, -16, tdat_mid)
  TEST_LD_OP(3, lwu, 0x00000000aa55fe01, -12, tdat_mid)
  TEST_LD_OP(4, lwu, 0x0000000078563412, -8, tdat_mid)
  TEST_LD_OP(5, lwu, 0x00000000f0debc9a, -4, tdat_mid)
  TEST_LD_OP(6, lwu, 0x00000000ffffffff, 0, tdat_mid)
  TEST_LD_OP(7, lwu, 0x0000000080000000, 4, tdat_mid)
  TEST_LD_OP(8, lwu, 0x00000000cc33f00f, 8, tdat_mid)
  TEST_LD_OP(9, lwu, 0x0000000024427e81, 12, tdat_mid)
  TEST_LD_SRC1_BYPASS(10, 0, lwu, 0x000000007f80ff00, -16, tdat_mid)
  TEST_LD_DEST_BYPASS(11, 0, lwu, 0x000000007f80ff00, -16, tdat_mid)
  TEST_LD_SRC1_BYPASS(12, 1, lwu, 0x000000007f80ff00, -16, tdat_mid)
  TEST_LD_DEST_BYPASS(13, 1, lwu, 0x000000007f80ff00, -16, tdat_mid)
  TEST_LD_SRC1_BYPASS(14, 2, lwu, 0x00000000f0debc9a, -4, tdat_mid)
  TEST_LD_DEST_BYPASS(15, 2, lwu, 0x00000000f0debc9a, -4, tdat_mid)

  TEST_PASSFAIL
RVTEST_CODE_END

#include "tdat.h"
