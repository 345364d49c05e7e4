# lhu: load halfword, zero-extended, at every aligned offset from -16 to +15 around tdat_mid.
# Expected values: the data bytes of tdat.h read little-endian in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_LD_OP(2, lhu, 0x000000000000ff00, -16, tdat_mid)
  TEST_LD_OP(3, lhu, 0x0000000000007f80, -14, tdat_mid)
  TEST_LD_OP(4, lhu, 0x000000000000fe01, -12, tdat_mid)
  TEST_LD_OP(5, lhu, 0x000000000000aa55, -10, tdat_mid)
  TEST_LD_OP(6, lhu, 0x0000000000003412, -8, tdat_mid)
  TEST_LD_OP(7, lhu, 0x0000000000007856, -6, tdat_mid)
  TEST_LD_OP(8, lhu, 0x000000000000bc9a, -4, tdat_mid)
  TEST_LD_OP(9, lhu, 0x000000000000f0de, -2, tdat_mid)
  TEST_LD_OP(10, lhu, 0x000000000000ffff, 0, tdat_mid)
  TEST_LD_OP(11, lhu, 0x000000000000ffff, 2, tdat_mid)
  TEST_LD_OP(12, lhu, 0x0000000000000000, 4, tdat_mid)
  TEST_LD_OP(13, lhu, 0x0000000000008000, 6, tdat_mid)
  TEST_LD_OP(14, lhu, 0x000000000000f00f, 8, tdat_mid)
  TEST_LD_OP(15, lhu, 0x000000000000cc33, 10, tdat_mid)
  TEST_LD_OP(16, lhu, 0x0000000000007e81, 12, tdat_mid)
  TEST_LD_OP(17, lhu, 0x0000000000002442, 14, tdat_mid)
  TEST_LD_SRC1_BYPASS(18, 0, lhu, 0x0000000000007856, -6, tdat_mid)
  TEST_LD_DEST_BYPASS(19, 0, lhu, 0x0000000000007856, -6, tdat_mid)
  TEST_LD_SRC1_BYPASS(20, 1, lhu, 0x000000000000ff00, -16, tdat_mid)
  TEST_LD_DEST_BYPASS(21, 1, lhu, 0x000000000000ff00, -16, tdat_mid)
  TEST_LD_SRC1_BYPASS(22, 2, lhu, 0x000000000000fe01, -12, tdat_mid)
  TEST_LD_DEST_BYPASS(23, 2, lhu, 0x000000000000fe01, -12, tdat_mid)

  TEST_PASSFAIL
RVTEST_CODE_END

#include "tdat.h"
