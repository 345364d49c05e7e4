# sh: store the low 16 bits at every aligned offset from -16 to +15 around tdat_mid;
# each store is read back with a load of its width and with ld of its doubleword (the bytes
# around it must keep their values), and the whole area is read again at the end.
# Expected values: the data bytes of tdat.h, updated store by store in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_ST_OP(2, lhu, sh, 0x0000000000000000, 0x0000000000000000, -16, tdat_mid)
  TEST_LD_OP(3, ld, 0xaa55fe017f800000, -16, tdat_mid)
  TEST_ST_OP(4, lh, sh, 0x000000000000576a, 0x93b3a3d9a44f576a, -14, tdat_mid)
  TEST_LD_OP(5, ld, 0xaa55fe01576a0000, -16, tdat_mid)
  TEST_ST_OP(6, lhu, sh, 0x000000000000ffff, 0xffffffffffffffff, -12, tdat_mid)
  TEST_LD_OP(7, ld, 0xaa55ffff576a0000, -16, tdat_mid)
  TEST_ST_OP(8, lh, sh, 0x0000000000000080, 0x8000000000000080, -10, tdat_mid)
  TEST_LD_OP(9, ld, 0x0080ffff576a0000, -16, tdat_mid)
  TEST_ST_OP(10, lhu, sh, 0x0000000000000000, 0x0000000000000000, -8, tdat_mid)
  TEST_LD_OP(11, ld, 0xf0debc9a78560000, -8, tdat_mid)
  TEST_ST_OP(12, lh, sh, 0x0000000000000080, 0x8000000000000080, -6, tdat_mid)
  TEST_LD_OP(13, ld, 0xf0debc9a00800000, -8, tdat_mid)
  TEST_ST_OP(14, lhu, sh, 0x00000000000008d6, 0x12ca3f7062dc08d6, -4, tdat_mid)
  TEST_LD_OP(15, ld, 0xf0de08d600800000, -8, tdat_mid)
  TEST_ST_OP(16, lh, sh, 0x0000000000000000, 0x0000000000000000, -2, tdat_mid)
  TEST_LD_OP(17, ld, 0x000008d600800000, -8, tdat_mid)
  TEST_ST_OP(18, lhu, sh, 0x000000000000647a, 0x3e361858a2f7647a, 0, tdat_mid)
  TEST_LD_OP(19, ld, 0x80000000ffff647a, 0, tdat_mid)
  TEST_ST_OP(20, lh, sh, 0x0000000000000080, 0x8000000000000080, 2, tdat_mid)
  TEST_LD_OP(21, ld, 0x800000000080647a, 0, tdat_mid)
  TEST_ST_OP(22, lhu, sh, 0x000000000000ffff, 0xffffffffffffffff, 4, tdat_mid)
  TEST_LD_OP(23, ld, 0x8000ffff0080647a, 0, tdat_mid)
  TEST_ST_OP(24, lh, sh, 0x0000000000007f7f, 0x7f7f7f7f7f7f7f7f, 6, tdat_mid)
  TEST_LD_OP(25, ld, 0x7f7fffff0080647a, 0, tdat_mid)
  TEST_ST_OP(26, lhu, sh, 0x000000000000ffff, 0xffffffffffffffff, 8, tdat_mid)
  TEST_LD_OP(27, ld, 0x24427e81cc33ffff, 8, tdat_mid)
  TEST_ST_OP(28, lh, sh, 0xffffffffffffffff, 0xffffffffffffffff, 10, tdat_mid)
  TEST_LD_OP(29, ld, 0x24427e81ffffffff, 8, tdat_mid)
  TEST_ST_OP(30, lhu, sh, 0x0000000000000080, 0x8000000000000080, 12, tdat_mid)
  TEST_LD_OP(31, ld, 0x24420080ffffffff, 8, tdat_mid)
  TEST_ST_OP(32, lh, sh, 0x0000000000000000, 0x0000000000000000, 14, tdat_mid)
  TEST_LD_OP(33, ld, 0x00000080ffffffff, 8, tdat_mid)
  TEST_ST_BYPASS(34, 0, lhu, sh, 0x00000000000038eb, 0x3096c6c8b9b338eb, -2, tdat_mid)
  TEST_ST_BYPASS(35, 1, lhu, sh, 0x000000000000eab0, 0xa104a795bd4aeab0, -6, tdat_mid)
  TEST_ST_BYPASS(36, 2, lhu, sh, 0x0000000000008733, 0xf33c1a7fafdd8733, -4, tdat_mid)
  TEST_LD_OP(37, ld, 0x0080ffff576a0000, -16, tdat_mid)
  TEST_LD_OP(38, ld, 0x38eb8733eab00000, -8, tdat_mid)
  TEST_LD_OP(39, ld, 0x7f7fffff0080647a, 0, tdat_mid)
  TEST_LD_OP(40, ld, 0x00000080ffffffff, 8, tdat_mid)

  TEST_PASSFAIL
RVTEST_CODE_END

#include "tdat.h"
