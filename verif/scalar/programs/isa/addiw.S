# addiw: 32-bit add immediate, sign-extended.
# Expected values: the RISC-V unprivileged spec's definition in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_IMM_OP(2, addiw, 0x0000000000000000, 0x0000000000000000, 0)
  TEST_IMM_OP(3, addiw, 0x0000000000000002, 0x0000000000000001, 1)
  TEST_IMM_OP(4, addiw, 0x000000000000000a, 0x0000000000000003, 7)
  TEST_IMM_OP(5, addiw, 0xfffffffffffff800, 0x0000000000000000, -2048)
  TEST_IMM_OP(6, addiw, 0x00000000000007ff, 0x0000000000000000, 2047)
  TEST_IMM_OP(7, addiw, 0x0000000000000000, 0xffffffffffffffff, 1)
  TEST_IMM_OP(8, addiw, 0xfffffffffffffffe, 0xffffffffffffffff, -1)
  TEST_IMM_OP(9, addiw, 0x0000000000000000, 0x7fffffffffffffff, 1)
  TEST_IMM_OP(10, addiw, 0xffffffffffffffff, 0x8000000000000000, -1)
  TEST_IMM_OP(11, addiw, 0xffffffff80000000, 0x000000007fffffff, 1)
  TEST_IMM_OP(12, addiw, 0x000000007fffffff, 0x0000000080000000, -1)
  TEST_IMM_OP(13, addiw, 0x0000000000000000, 0x00000000ffffffff, 1)
  TEST_IMM_OP(14, addiw, 0xfffffffffffff000, 0xfffffffffffff800, -2048)
  TEST_IMM_OP(15, addiw, 0x0000000000000ffe, 0x00000000000007ff, 2047)
  TEST_IMM_OP(16, addiw, 0x0000000000000000, 0x0000000000000800, -2048)
  TEST_IMM_OP(17, addiw, 0xffffffffffffffff, 0x00000000000007ff, -2048)
  TEST_IMM_OP(18, addiw, 0xfffffffffffff7fe, 0xfffffffffffff7ff, -1)
  TEST_IMM_OP(19, addiw, 0xffffffffffffffff, 0xfffffffffffff800, 2047)
  TEST_IMM_OP(20, addiw, 0xfffffffffffff7ff, 0xfffffffffffff800, -1)
  TEST_IMM_OP(21, addiw, 0xfffffffffffffff1, 0x0000000000000001, -16)
  TEST_IMM_OP(22, addiw, 0xffffffffffffffff, 0xffffffffffffffff, 0)
  TEST_IMM_OP(23, addiw, 0xffffffff80000001, 0x0000000080000000, 1)
  TEST_IMM_OP(24, addiw, 0xfffffffffffff800, 0xfffffffffffff800, 0)
  TEST_IMM_OP(25, addiw, 0x000000007ffffffe, 0x000000007fffffff, -1)
  TEST_IMM_OP(26, addiw, 0xfffffffffffffaaa, 0x8000000000000000, -1366)
  TEST_IMM_OP(27, addiw, 0xffffffffffffffff, 0x00000000000007ff, -2048)
  TEST_IMM_OP(28, addiw, 0xffffffffffffffff, 0x8000000000000000, -1)
  TEST_IMM_OP(29, addiw, 0xffffffff80000000, 0x0000000080000000, 0)
  TEST_IMM_OP(30, addiw, 0x000000005187bcb4, 0x053869eb5187b6ec, 1480)
  TEST_IMM_OP(31, addiw, 0xffffffff90fb273c, 0xa44ab3ad90fb2d7d, -1601)
  TEST_IMM_OP(32, addiw, 0x000000007f6d817b, 0x914829fa7f6d8839, -1726)
  TEST_IMM_OP(33, addiw, 0xffffffffd3233f27, 0x1e6cc084d32339ae, 1401)
  TEST_IMM_OP(34, addiw, 0xffffffff9348472b, 0xb21a30cc93484239, 1266)
  TEST_IMM_OP(35, addiw, 0x00000000724bf07e, 0x11354113724bf80b, -1933)

  TEST_IMM_SRC1_EQ_DEST(36, addiw, 0xfffffffffffffc27, 0xf00000000000000f, -1000)
  TEST_IMM_DEST_BYPASS(37, 0, addiw, 0xffffffffae120734, 0x631bcb09ae120a3c, -776)
  TEST_IMM_DEST_BYPASS(38, 1, addiw, 0x0000000079b701eb, 0xc5174a9f79b6fcb9, 1330)
  TEST_IMM_DEST_BYPASS(39, 2, addiw, 0xffffffff8c7e7b68, 0x1a1f80d18c7e80c1, -1369)
  TEST_IMM_SRC1_BYPASS(40, 0, addiw, 0xffffffffa4fe542b, 0x78e19be6a4fe5561, -310)
  TEST_IMM_SRC1_BYPASS(41, 1, addiw, 0xffffffffe5514d8d, 0x26da053ee551550e, -1921)
  TEST_IMM_SRC1_BYPASS(42, 2, addiw, 0x000000006d4fd444, 0x01397a296d4fdbf8, -1972)
  TEST_IMM_ZEROSRC1(43, addiw, 0xffffffffffffffe0, -32)
  TEST_IMM_ZERODEST(44, addiw, 0x0000000000000021, -32)
  TEST_PASSFAIL
RVTEST_CODE_END
