# ld: load doubleword, at every aligned offset from -16 to +15 around tdat_mid.
# Expected values: the data bytes of tdat.h read little-endian in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_LD_OP(2, ld, 0xaa55fe017f80ff00, -16, tdat_mid)
  TEST_LD_OP(3, ld, 0xf0debc9a78563412, -8, tdat_mid)
  TEST_LD_OP(4, ld, 0x80000000ffffffff, 0, tdat_mid)
  TEST_LD_OP(5, ld, 0x24427e81cc33f00f, 8, tdat_mid)
  TEST_LD_SRC1_BYPASS(6, 0, ld, 0x80000000ffffffff, 0, tdat_mid)
  TEST_LD_DEST_BYPASS(7, 0, ld, 0x80000000ffffffff, 0, tdat_mid)
  TEST_LD_SRC1_BYPASS(8, 1, ld, 0xf0debc9a78563412, -8, tdat_mid)
  TEST_LD_DEST_BYPASS(9, 1, ld, 0xf0debc9a78563412, -8, tdat_mid)
  TEST_LD_SRC1_BYPASS(10, 2, ld, 0xaa55fe017f80ff00, -16, tdat_mid)
  TEST_LD_DEST_BYPASS(11, 2, ld, 0xaa55fe017f80ff00, -16, tdat_mid)

  TEST_PASSFAIL
RVTEST_CODE_END

#include "tdat.h"
