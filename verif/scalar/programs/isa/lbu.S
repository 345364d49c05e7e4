# lbu: load byte, zero-extended, at every aligned offset from -16 to +15 around tdat_mid.
# Expected values: the data bytes of tdat.h read little-endian in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_LD_OP(2, lbu, 0x0000000000000000, -16, tdat_mid)
  TEST_LD_OP(3, lbu, 0x00000000000000ff, -15, tdat_mid)
  TEST_LD_OP(4, lbu, 0x0000000000000080, -14, tdat_mid)
  TEST_LD_OP(5, lbu, 0x000000000000007f, -13, tdat_mid)
  TEST_LD_OP(6, lbu, 0x0000000000000001, -12, tdat_mid)
  TEST_LD_OP(7, lbu, 0x00000000000000fe, -11, tdat_mid)
  TEST_LD_OP(8, lbu, 0x0000000000000055, -10, tdat_mid)
  TEST_LD_OP(9, lbu, 0x00000000000000aa, -9, tdat_mid)
  TEST_LD_OP(10, lbu, 0x0000000000000012, -8, tdat_mid)
  TEST_LD_OP(11, lbu, 0x0000000000000034, -7, tdat_mid)
  TEST_LD_OP(12, lbu, 0x0000000000000056, -6, tdat_mid)
  TEST_LD_OP(13, lbu, 0x0000000000000078, -5, tdat_mid)
  TEST_LD_OP(14, lbu, 0x000000000000009a, -4, tdat_mid)
  TEST_LD_OP(15, lbu, 0x00000000000000bc, -3, tdat_mid)
  TEST_LD_OP(16, lbu, 0x00000000000000de, -2, tdat_mid)
  TEST_LD_OP(17, lbu, 0x00000000000000f0, -1, tdat_mid)
  TEST_LD_OP(18, lbu, 0x00000000000000ff, 0, tdat_mid)
  TEST_LD_OP(19, lbu, 0x00000000000000ff, 1, tdat_mid)
  TEST_LD_OP(20, lbu, 0x00000000000000ff, 2, tdat_mid)
  TEST_LD_OP(21, lbu, 0x00000000000000ff, 3, tdat_mid)
  TEST_LD_OP(22, lbu, 0x0000000000000000, 4, tdat_mid)
  TEST_LD_OP(23, lbu, 0x0000000000000000, 5, tdat_mid)
  TEST_LD_OP(24, lbu, 0x0000000000000000, 6, tdat_mid)
  TEST_LD_OP(25, lbu, 0x0000000000000080, 7, tdat_mid)
  TEST_LD_OP(26, lbu, 0x000000000000000f, 8, tdat_mid)
  TEST_LD_OP(27, lbu, 0x00000000000000f0, 9, tdat_mid)
  TEST_LD_OP(28, lbu, 0x0000000000000033, 10, tdat_mid)
  TEST_LD_OP(29, lbu, 0x00000000000000cc, 11, tdat_mid)
  TEST_LD_OP(30, lbu, 0x0000000000000081, 12, tdat_mid)
  TEST_LD_OP(31, lbu, 0x000000000000007e, 13, tdat_mid)
  TEST_LD_OP(32, lbu, 0x0000000000000042, 14, tdat_mid)
  TEST_LD_OP(33, lbu, 0x0000000000000024, 15, tdat_mid)
  TEST_LD_SRC1_BYPASS(34, 0, lbu, 0x0000000000000080, -14, tdat_mid)
  TEST_LD_DEST_BYPASS(35, 0, lbu, 0x0000000000000080, -14, tdat_mid)
  TEST_LD_SRC1_BYPASS(36, 1, lbu, 0x00000000000000f0, 9, tdat_mid)
  TEST_LD_DEST_BYPASS(37, 1, lbu, 0x00000000000000f0, 9, tdat_mid)
  TEST_LD_SRC1_BYPASS(38, 2, lbu, 0x0000000000000081, 12, tdat_mid)
  TEST_LD_DEST_BYPASS(39, 2, lbu, 0x0000000000000081, 12, tdat_mid)

  TEST_PASSFAIL
RVTEST_CODE_END

#include "tdat.h"
