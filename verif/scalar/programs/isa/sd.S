# sd: store the low 64 bits at every aligned offset from -16 to +15 around tdat_mid;
# each store is read back with a load of its width and with ld of its doubleword (the bytes
# around it must keep their values), and the whole area is read again at the end.
# Expected values: the data bytes of tdat.h, updated store by store in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_ST_OP(2, ld, sd, 0x7f7f7f7f7f7f7f7f, 0x7f7f7f7f7f7f7f7f, -16, tdat_mid)
  TEST_LD_OP(3, ld, 0x7f7f7f7f7f7f7f7f, -16, tdat_mid)
  TEST_ST_OP(4, ld, sd, 0x3fc2a9087219c1da, 0x3fc2a9087219c1da, -8, tdat_mid)
  TEST_LD_OP(5, ld, 0x3fc2a9087219c1da, -8, tdat_mid)
  TEST_ST_OP(6, ld, sd, 0x8000000000000080, 0x8000000000000080, 0, tdat_mid)
  TEST_LD_OP(7, ld, 0x8000000000000080, 0, tdat_mid)
  TEST_ST_OP(8, ld, sd, 0x0000000000000000, 0x0000000000000000, 8, tdat_mid)
  TEST_LD_OP(9, ld, 0x0000000000000000, 8, tdat_mid)
  TEST_ST_BYPASS(10, 0, ld, sd, 0x5cb58b8e1799e728, 0x5cb58b8e1799e728, -8, tdat_mid)
  TEST_ST_BYPASS(11, 1, ld, sd, 0x7349dbc4e414a8aa, 0x7349dbc4e414a8aa, -8, tdat_mid)
  TEST_ST_BYPASS(12, 2, ld, sd, 0xbb9fab2ba82cb2cd, 0xbb9fab2ba82cb2cd, 0, tdat_mid)
  TEST_LD_OP(13, ld, 0x7f7f7f7f7f7f7f7f, -16, tdat_mid)
  TEST_LD_OP(14, ld, 0x7349dbc4e414a8aa, -8, tdat_mid)
  TEST_LD_OP(15, ld, 0xbb9fab2ba82cb2cd, 0, tdat_mid)
  TEST_LD_OP(16, ld, 0x0000000000000000, 8, tdat_mid)

  TEST_PASSFAIL
RVTEST_CODE_END

#include "tdat.h"
