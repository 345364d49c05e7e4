# lh: load halfword, sign-extended, at every aligned offset from -16 to +15 around tdat_mid.
# Expected values: the data bytes of tdat.h read little-endian in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_LD_OP(2, lh, 0xffffffffffffff00, -16, tdat_mid)
  TEST_LD_OP(3, lh, 0x0000000000007f80, -14, tdat_mid)
  TEST_LD_OP(4, lh, 0xfffffffffffffe01, -12, tdat_mid)
  TEST_LD_OP(5, lh, 0xffffffffffffaa55, -10, tdat_mid)
  TEST_LD_OP(6, lh, 0x0000000000003412, -8, tdat_mid)
  TEST_LD_OP(7, lh, 0x0000000000007856, -6, tdat_mid)
  TEST_LD_OP(8, lh, 0xffffffffffffbc9a, -4, tdat_mid)
  TEST_LD_OP(9, lh, 0xfffffffffffff0de, -2, tdat_mid)
  TEST_LD_OP(10, lh, 0xffffffffffffffff, 0, tdat_mid)
  TEST_LD_OP(11, lh, 0xffffffffffffffff, 2, tdat_mid)
  TEST_LD_OP(12, lh, 0x0000000000000000, 4, tdat_mid)
  TEST_LD_OP(13, lh, 0xffffffffffff8000, 6, tdat_mid)
  TEST_LD_OP(14, lh, 0xfffffffffffff00f, 8, tdat_mid)
  TEST_LD_OP(15, lh, 0xffffffffffffcc33, 10, tdat_mid)
  TEST_LD_OP(16, lh, 0x0000000000007e81, 12, tdat_mid)
  TEST_LD_OP(17, lh, 0x0000000000002442, 14, tdat_mid)
  TEST_LD_SRC1_BYPASS(18, 0, lh, 0xffffffffffffbc9a, -4, tdat_mid)
  TEST_LD_DEST_BYPASS(19, 0, lh, 0xffffffffffffbc9a, -4, tdat_mid)
  TEST_LD_SRC1_BYPASS(20, 1, lh, 0x0000000000007856, -6, tdat_mid)
  TEST_LD_DEST_BYPASS(21, 1, lh, 0x0000000000007856, -6, tdat_mid)
  TEST_LD_SRC1_BYPASS(22, 2, lh, 0x0000000000002442, 14, tdat_mid)
  TEST_LD_DEST_BYPASS(23, 2, lh, 0x0000000000002442, 14, tdat_mid)

  TEST_PASSFAIL
RVTEST_CODE_END

#include "tdat.h"
