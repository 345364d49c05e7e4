# xori: exclusive or immediate.
# Expected values: the RISC-V unprivileged spec's definition in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_IMM_OP(2, xori, 0x0000000000000000, 0x0000000000000000, 0)
  TEST_IMM_OP(3, xori, 0x0000000000000000, 0x0000000000000001, 1)
  TEST_IMM_OP(4, xori, 0x0000000000000004, 0x0000000000000003, 7)
  TEST_IMM_OP(5, xori, 0xfffffffffffff800, 0x0000000000000000, -2048)
  TEST_IMM_OP(6, xori, 0x00000000000007ff, 0x0000000000000000, 2047)
  TEST_IMM_OP(7, xori, 0xfffffffffffffffe, 0xffffffffffffffff, 1)
  TEST_IMM_OP(8, xori, 0x0000000000000000, 0xffffffffffffffff, -1)
  TEST_IMM_OP(9, xori, 0x7ffffffffffffffe, 0x7fffffffffffffff, 1)
  TEST_IMM_OP(10, xori, 0x7fffffffffffffff, 0x8000000000000000, -1)
  TEST_IMM_OP(11, xori, 0x000000007ffffffe, 0x000000007fffffff, 1)
  TEST_IMM_OP(12, xori, 0xffffffff7fffffff, 0x0000000080000000, -1)
  TEST_IMM_OP(13, xori, 0x00000000fffffffe, 0x00000000ffffffff, 1)
  TEST_IMM_OP(14, xori, 0x0000000000000000, 0xfffffffffffff800, -2048)
  TEST_IMM_OP(15, xori, 0x0000000000000000, 0x00000000000007ff, 2047)
  TEST_IMM_OP(16, xori, 0xfffffffffffff000, 0x0000000000000800, -2048)
  TEST_IMM_OP(17, xori, 0xffffffffffffffff, 0x00000000000007ff, -2048)
  TEST_IMM_OP(18, xori, 0x0000000000000800, 0xfffffffffffff7ff, -1)
  TEST_IMM_OP(19, xori, 0xffffffffffffffff, 0xfffffffffffff800, 2047)
  TEST_IMM_OP(20, xori, 0xfffffffffffff800, 0x0000000000000000, -2048)
  TEST_IMM_OP(21, xori, 0x00000000fffffffe, 0x00000000ffffffff, 1)
  TEST_IMM_OP(22, xori, 0xfffffffffffff800, 0x0000000000000000, -2048)
  TEST_IMM_OP(23, xori, 0xffffffff800007ff, 0xffffffff80000000, 2047)
  TEST_IMM_OP(24, xori, 0xfffffffffffff800, 0xffffffffffffffff, 2047)
  TEST_IMM_OP(25, xori, 0xffffffff800007ff, 0xffffffff80000000, 2047)
  TEST_IMM_OP(26, xori, 0x00000000000000f1, 0x0000000000000001, 240)
  TEST_IMM_OP(27, xori, 0xffffffff00000555, 0x00000000ffffffff, -1366)
  TEST_IMM_OP(28, xori, 0x7ffffffffffffaaa, 0x7fffffffffffffff, 1365)
  TEST_IMM_OP(29, xori, 0xffffffff80000000, 0xffffffff80000000, 0)
  TEST_IMM_OP(30, xori, 0xcae5a871a3a6a37f, 0xcae5a871a3a6a0a9, 982)
  TEST_IMM_OP(31, xori, 0x57c52302858d59f3, 0x57c52302858d5cd2, 1313)
  TEST_IMM_OP(32, xori, 0xf2ae556fbdfaec17, 0xf2ae556fbdfaea88, 1695)
  TEST_IMM_OP(33, xori, 0x027d2489ca379699, 0xfd82db7635c86b78, -543)
  TEST_IMM_OP(34, xori, 0x7c781f1b9b8597e2, 0x8387e0e4647a6c08, -1046)
  TEST_IMM_OP(35, xori, 0xfc061e1fbaa6bb86, 0xfc061e1fbaa6b8e6, 864)

  TEST_IMM_SRC1_EQ_DEST(36, xori, 0x0ffffffffffffc17, 0xf00000000000000f, -1000)
  TEST_IMM_DEST_BYPASS(37, 0, xori, 0x0e7e8994a337b5b2, 0x0e7e8994a337b5a6, 20)
  TEST_IMM_DEST_BYPASS(38, 1, xori, 0x61c00cbe463c429a, 0x61c00cbe463c4650, 1226)
  TEST_IMM_DEST_BYPASS(39, 2, xori, 0xfc97d313f0414d71, 0x03682cec0fbeb716, -1433)
  TEST_IMM_SRC1_BYPASS(40, 0, xori, 0xea59fdda6b283d95, 0xea59fdda6b2838e0, 1397)
  TEST_IMM_SRC1_BYPASS(41, 1, xori, 0xb2c0b0bca0e99dbf, 0xb2c0b0bca0e99efb, 836)
  TEST_IMM_SRC1_BYPASS(42, 2, xori, 0xbc1ea3aa6b79a6fa, 0x43e15c5594865d85, -1153)
  TEST_IMM_ZEROSRC1(43, xori, 0xffffffffffffffe0, -32)
  TEST_IMM_ZERODEST(44, xori, 0x0000000000000021, -32)
  TEST_PASSFAIL
RVTEST_CODE_END
