# sb: store the low 8 bits at every aligned offset from -16 to +15 around tdat_mid;
# each store is read back with a load of its width and with ld of its doubleword (the bytes
# around it must keep their values), and the whole area is read again at the end.
# Expected values: the data bytes below, updated store by store in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_ST_OP(2, lbu, sb, 0x0000000000000000, 0x0000000000000000, -16, tdat_mid)
  TEST_LD_OP(3, ld, 0xaa55fe017f80ff00, -16, tdat_mid)
  TEST_ST_OP(4, lb, sb, 0x000000000000007f, 0x7f7f7f7f7f7f7f7f, -15, tdat_mid)
  TEST_LD_OP(5, ld, 0xaa55fe017f807f00, -16, tdat_mid)
  TEST_ST_OP(6, lbu, sb, 0x0000000000000000, 0x0000000000000000, -14, tdat_mid)
  TEST_LD_OP(7, ld, 0xaa55fe017f007f00, -16, tdat_mid)
  TEST_ST_OP(8, lb, sb, 0x0000000000000000, 0x0000000000000000, -13, tdat_mid)
  TEST_LD_OP(9, ld, 0xaa55fe0100007f00, -16, tdat_mid)
  TEST_ST_OP(10, lbu, sb, 0x0000000000000080, 0x8000000000000080, -12, tdat_mid)
  TEST_LD_OP(11, ld, 0xaa55fe8000007f00, -16, tdat_mid)
  TEST_ST_OP(12, lb, sb, 0x0000000000000029, 0x012d0ea67ff12229, -11, tdat_mid)
  TEST_LD_OP(13, ld, 0xaa55298000007f00, -16, tdat_mid)
  TEST_ST_OP(14, lbu, sb, 0x0000000000000080, 0x8000000000000080, -10, tdat_mid)
  TEST_LD_OP(15, ld, 0xaa80298000007f00, -16, tdat_mid)
  TEST_ST_OP(16, lb, sb, 0x0000000000000000, 0x0000000000000000, -9, tdat_mid)
  TEST_LD_OP(17, ld, 0x0080298000007f00, -16, tdat_mid)
  TEST_ST_OP(18, lbu, sb, 0x00000000000000b2, 0xee82ec3ffee5a5b2, -8, tdat_mid)
  TEST_LD_OP(19, ld, 0xf0debc9a785634b2, -8, tdat_mid)
  TEST_ST_OP(20, lb, sb, 0xffffffffffffff80, 0x8000000000000080, -7, tdat_mid)
  TEST_LD_OP(21, ld, 0xf0debc9a785680b2, -8, tdat_mid)
  TEST_ST_OP(22, lbu, sb, 0x0000000000000000, 0x0000000000000000, -6, tdat_mid)
  TEST_LD_OP(23, ld, 0xf0debc9a780080b2, -8, tdat_mid)
  TEST_ST_OP(24, lb, sb, 0xffffffffffffffb0, 0x079dd25a49fe85b0, -5, tdat_mid)
  TEST_LD_OP(25, ld, 0xf0debc9ab00080b2, -8, tdat_mid)
  TEST_ST_OP(26, lbu, sb, 0x000000000000004f, 0xc42b7170902a174f, -4, tdat_mid)
  TEST_LD_OP(27, ld, 0xf0debc4fb00080b2, -8, tdat_mid)
  TEST_ST_OP(28, lb, sb, 0xffffffffffffff80, 0x8000000000000080, -3, tdat_mid)
  TEST_LD_OP(29, ld, 0xf0de804fb00080b2, -8, tdat_mid)
  TEST_ST_OP(30, lbu, sb, 0x000000000000001a, 0x111b8aaa62f28d1a, -2, tdat_mid)
  TEST_LD_OP(31, ld, 0xf01a804fb00080b2, -8, tdat_mid)
  TEST_ST_OP(32, lb, sb, 0x0000000000000015, 0xaf5570eed8e94b15, -1, tdat_mid)
  TEST_LD_OP(33, ld, 0x151a804fb00080b2, -8, tdat_mid)
  TEST_ST_OP(34, lbu, sb, 0x00000000000000df, 0x35b00a5436a80bdf, 0, tdat_mid)
  TEST_LD_OP(35, ld, 0x80000000ffffffdf, 0, tdat_mid)
  TEST_ST_OP(36, lb, sb, 0x000000000000007f, 0x7f7f7f7f7f7f7f7f, 1, tdat_mid)
  TEST_LD_OP(37, ld, 0x80000000ffff7fdf, 0, tdat_mid)
  TEST_ST_OP(38, lbu, sb, 0x0000000000000000, 0x0000000000000000, 2, tdat_mid)
  TEST_LD_OP(39, ld, 0x80000000ff007fdf, 0, tdat_mid)
  TEST_ST_OP(40, lb, sb, 0xffffffffffffff80, 0x8000000000000080, 3, tdat_mid)
  TEST_LD_OP(41, ld, 0x8000000080007fdf, 0, tdat_mid)
  TEST_ST_OP(42, lbu, sb, 0x0000000000000080, 0x8000000000000080, 4, tdat_mid)
  TEST_LD_OP(43, ld, 0x8000008080007fdf, 0, tdat_mid)
  TEST_ST_OP(44, lb, sb, 0x000000000000007f, 0x7f7f7f7f7f7f7f7f, 5, tdat_mid)
  TEST_LD_OP(45, ld, 0x80007f8080007fdf, 0, tdat_mid)
  TEST_ST_OP(46, lbu, sb, 0x0000000000000064, 0xec3fbf4dc20ef164, 6, tdat_mid)
  TEST_LD_OP(47, ld, 0x80647f8080007fdf, 0, tdat_mid)
  TEST_ST_OP(48, lb, sb, 0x0000000000000018, 0x3f1347de2274ea18, 7, tdat_mid)
  TEST_LD_OP(49, ld, 0x18647f8080007fdf, 0, tdat_mid)
  TEST_ST_OP(50, lbu, sb, 0x000000000000007f, 0x7f7f7f7f7f7f7f7f, 8, tdat_mid)
  TEST_LD_OP(51, ld, 0x24427e81cc33f07f, 8, tdat_mid)
  TEST_ST_OP(52, lb, sb, 0xffffffffffffffff, 0xffffffffffffffff, 9, tdat_mid)
  TEST_LD_OP(53, ld, 0x24427e81cc33ff7f, 8, tdat_mid)
  TEST_ST_OP(54, lbu, sb, 0x00000000000000ff, 0xffffffffffffffff, 10, tdat_mid)
  TEST_LD_OP(55, ld, 0x24427e81ccffff7f, 8, tdat_mid)
  TEST_ST_OP(56, lb, sb, 0xffffffffffffffff, 0xffffffffffffffff, 11, tdat_mid)
  TEST_LD_OP(57, ld, 0x24427e81ffffff7f, 8, tdat_mid)
  TEST_ST_OP(58, lbu, sb, 0x00000000000000ff, 0xffffffffffffffff, 12, tdat_mid)
  TEST_LD_OP(59, ld, 0x24427effffffff7f, 8, tdat_mid)
  TEST_ST_OP(60, lb, sb, 0x000000000000007f, 0x7f7f7f7f7f7f7f7f, 13, tdat_mid)
  TEST_LD_OP(61, ld, 0x24427fffffffff7f, 8, tdat_mid)
  TEST_ST_OP(62, lbu, sb, 0x000000000000007f, 0x7f7f7f7f7f7f7f7f, 14, tdat_mid)
  TEST_LD_OP(63, ld, 0x247f7fffffffff7f, 8, tdat_mid)
  TEST_ST_OP(64, lb, sb, 0x0000000000000069, 0x367e5d6dfd741069, 15, tdat_mid)
  TEST_LD_OP(65, ld, 0x697f7fffffffff7f, 8, tdat_mid)
  TEST_ST_BYPASS(66, 0, lbu, sb, 0x0000000000000036, 0xf88ece64dd44fd36, 1, tdat_mid)
  TEST_ST_BYPASS(67, 1, lbu, sb, 0x0000000000000037, 0xe286852cff769e37, 3, tdat_mid)
  TEST_ST_BYPASS(68, 2, lbu, sb, 0x00000000000000f2, 0x2ff3600735f11af2, -15, tdat_mid)
  TEST_LD_OP(69, ld, 0x008029800000f200, -16, tdat_mid)
  TEST_LD_OP(70, ld, 0x151a804fb00080b2, -8, tdat_mid)
  TEST_LD_OP(71, ld, 0x18647f80370036df, 0, tdat_mid)
  TEST_LD_OP(72, ld, 0x697f7fffffffff7f, 8, tdat_mid)

  TEST_PASSFAIL
RVTEST_CODE_END

RVTEST_DATA_BEGIN
tdat:
  .byte 0x00, 0xff, 0x80, 0x7f, 0x01, 0xfe, 0x55, 0xaa
  .byte 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0
tdat_mid:
  .byte 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x80
  .byte 0x0f, 0xf0, 0x33, 0xcc, 0x81, 0x7e, 0x42, 0x24
RVTEST_DATA_END
