# lb: load byte, sign-extended, at every aligned offset from -16 to +15 around tdat_mid.
# Expected values: the data bytes of tdat.h read little-endian in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_LD_OP(2, lb, 0x0000000000000000, -16, tdat_mid)
  TEST_LD_OP(3, lb, 0xffffffffffffffff, -15, tdat_mid)
  TEST_LD_OP(4, lb, 0xffffffffffffff80, -14, tdat_mid)
  TEST_LD_OP(5, lb, 0x000000000000007f, -13, tdat_mid)
  TEST_LD_OP(6, lb, 0x0000000000000001, -12, tdat_mid)
  TEST_LD_OP(7, lb, 0xfffffffffffffffe, -11, tdat_mid)
  TEST_LD_OP(8, lb, 0x0000000000000055, -10, tdat_mid)
  TEST_LD_OP(9, lb, 0xffffffffffffffaa, -9, tdat_mid)
  TEST_LD_OP(10, lb, 0x0000000000000012, -8, tdat_mid)
  TEST_LD_OP(11, lb, 0x0000000000000034, -7, tdat_mid)
  TEST_LD_OP(12, lb, 0x0000000000000056, -6, tdat_mid)
  TEST_LD_OP(13, lb, 0x0000000000000078, -5, tdat_mid)
  TEST_LD_OP(14, lb, 0xffffffffffffff9a, -4, tdat_mid)
  TEST_LD_OP(15, lb, 0xffffffffffffffbc, -3, tdat_mid)
  TEST_LD_OP(16, lb, 0xffffffffffffffde, -2, tdat_mid)
  TEST_LD_OP(17, lb, 0xfffffffffffffff0, -1, tdat_mid)
  TEST_LD_OP(18, lb, 0xffffffffffffffff, 0, tdat_mid)
  TEST_LD_OP(19, lb, 0xffffffffffffffff, 1, tdat_mid)
  TEST_LD_OP(20, lb, 0xffffffffffffffff, 2, tdat_mid)
  TEST_LD_OP(21, lb, 0xffffffffffffffff, 3, tdat_mid)
  TEST_LD_OP(22, lb, 0x0000000000000000, 4, tdat_mid)
  TEST_LD_OP(23, lb, 0x0000000000000000, 5, tdat_mid)
  TEST_LD_OP(24, lb, 0x0000000000000000, 6, tdat_mid)
  TEST_LD_OP(25, lb, 0xffffffffffffff80, 7, tdat_mid)
  TEST_LD_OP(26, lb, 0x000000000000000f, 8, tdat_mid)
  TEST_LD_OP(27, lb, 0xfffffffffffffff0, 9, tdat_mid)
  TEST_LD_OP(28, lb, 0x0000000000000033, 10, tdat_mid)
  TEST_LD_OP(29, lb, 0xffffffffffffffcc, 11, tdat_mid)
  TEST_LD_OP(30, lb, 0xffffffffffffff81, 12, tdat_mid)
  TEST_LD_OP(31, lb, 0x000000000000007e, 13, tdat_mid)
  TEST_LD_OP(32, lb, 0x0000000000000042, 14, tdat_mid)
  TEST_LD_OP(33, lb, 0x0000000000000024, 15, tdat_mid)
  TEST_LD_SRC1_BYPASS(34, 0, lb, 0xffffffffffffff81, 12, tdat_mid)
  TEST_LD_DEST_BYPASS(35, 0, lb, 0xffffffffffffff81, 12, tdat_mid)
  TEST_LD_SRC1_BYPASS(36, 1, lb, 0x000000000000007e, 13, tdat_mid)
  TEST_LD_DEST_BYPASS(37, 1, lb, 0x000000000000007e, 13, tdat_mid)
  TEST_LD_SRC1_BYPASS(38, 2, lb, 0xffffffffffffff81, 12, tdat_mid)
  TEST_LD_DEST_BYPASS(39, 2, lb, 0xffffffffffffff81, 12, tdat_mid)

  TEST_PASSFAIL
RVTEST_CODE_END

#include "tdat.h"
