# lw: load word, sign-extended, at every aligned offset from -16 to +15 around tdat_mid.
# Expected values: the data bytes of tdat.h read little-endian in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_LD_OP(2, lw, 0x000000007f80ff00, -16, tdat_mid)
  TEST_LD_OP(3, lw, 0xffffffffaa55fe01, -12, tdat_mid)
  TEST_LD_OP(4, lw, 0x0000000078563412, -8, tdat_mid)
  TEST_LD_OP(5, lw, 0xfffffffff0debc9a, -4, tdat_mid)
  TEST_LD_OP(6, lw, 0xffffffffffffffff, 0, tdat_mid)
  TEST_LD_OP(7, lw, 0xffffffff80000000, 4, tdat_mid)
  TEST_LD_OP(8, lw, 0xffffffffcc33f00f, 8, tdat_mid)
  TEST_LD_OP(9, lw, 0x0000000024427e81, 12, tdat_mid)
  TEST_LD_SRC1_BYPASS(10, 0, lw, 0x0000000078563412, -8, tdat_mid)
  TEST_LD_DEST_BYPASS(11, 0, lw, 0x0000000078563412, -8, tdat_mid)
  TEST_LD_SRC1_BYPASS(12, 1, lw, 0xffffffffaa55fe01, -12, tdat_mid)
  TEST_LD_DEST_BYPASS(13, 1, lw, 0xffffffffaa55fe01, -12, tdat_mid)
  TEST_LD_SRC1_BYPASS(14, 2, lw, 0x0000000024427e81, 12, tdat_mid)
  TEST_LD_DEST_BYPASS(15, 2, lw, 0x0000000024427e81, 12, tdat_mid)

  TEST_PASSFAIL
RVTEST_CODE_END

#include "tdat.h"
