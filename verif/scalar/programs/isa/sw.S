# sw: store the low 32 bits at every aligned offset from -16 to +15 around tdat_mid;
# each store is read back with a load of its width and with ld of its doubleword (the bytes
# around it must keep their values), and the whole area is read again at the end.
# Expected values: the data bytes of tdat.h, updated store by store in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_ST_OP(2, lwu, sw, 0x000000007f7f7f7f, 0x7f7f7f7f7f7f7f7f, -16, tdat_mid)
  TEST_LD_OP(3, ld, 0xaa55fe017f7f7f7f, -16, tdat_mid)
  TEST_ST_OP(4, lw, sw, 0x000000007f7f7f7f, 0x7f7f7f7f7f7f7f7f, -12, tdat_mid)
  TEST_LD_OP(5, ld, 0x7f7f7f7f7f7f7f7f, -16, tdat_mid)
  TEST_ST_OP(6, lwu, sw, 0x000000000c228266, 0x1a953cca0c228266, -8, tdat_mid)
  TEST_LD_OP(7, ld, 0xf0debc9a0c228266, -8, tdat_mid)
  TEST_ST_OP(8, lw, sw, 0x0000000000000080, 0x8000000000000080, -4, tdat_mid)
  TEST_LD_OP(9, ld, 0x000000800c228266, -8, tdat_mid)
  TEST_ST_OP(10, lwu, sw, 0x000000007f7f7f7f, 0x7f7f7f7f7f7f7f7f, 0, tdat_mid)
  TEST_LD_OP(11, ld, 0x800000007f7f7f7f, 0, tdat_mid)
  TEST_ST_OP(12, lw, sw, 0x0000000000000000, 0x0000000000000000, 4, tdat_mid)
  TEST_LD_OP(13, ld, 0x000000007f7f7f7f, 0, tdat_mid)
  TEST_ST_OP(14, lwu, sw, 0x0000000000000000, 0x0000000000000000, 8, tdat_mid)
  TEST_LD_OP(15, ld, 0x24427e8100000000, 8, tdat_mid)
  TEST_ST_OP(16, lw, sw, 0x000000002ce933e1, 0xede26c2e2ce933e1, 12, tdat_mid)
  TEST_LD_OP(17, ld, 0x2ce933e100000000, 8, tdat_mid)
  TEST_ST_BYPASS(18, 0, lwu, sw, 0x000000003a782ebb, 0x7ab366023a782ebb, -8, tdat_mid)
  TEST_ST_BYPASS(19, 1, lwu, sw, 0x0000000047bc7548, 0x365fdcd647bc7548, -12, tdat_mid)
  TEST_ST_BYPASS(20, 2, lwu, sw, 0x00000000bfbd7d14, 0x043e3ef5bfbd7d14, -4, tdat_mid)
  TEST_LD_OP(21, ld, 0x47bc75487f7f7f7f, -16, tdat_mid)
  TEST_LD_OP(22, ld, 0xbfbd7d143a782ebb, -8, tdat_mid)
  TEST_LD_OP(23, ld, 0x000000007f7f7f7f, 0, tdat_mid)
  TEST_LD_OP(24, ld, 0x2ce933e100000000, 8, tdat_mid)

  TEST_PASSFAIL
RVTEST_CODE_END

#include "tdat.h"
