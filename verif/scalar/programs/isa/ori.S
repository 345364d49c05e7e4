# ori: or immediate.
# Expected values: the RISC-V unprivileged spec's definition in Python integers
# (tests/scalar/test_programs.py::test_isa_vectors recomputes every one).

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_IMM_OP(2, ori, 0x0000000000000000, 0x0000000000000000, 0)
  TEST_IMM_OP(3, ori, 0x0000000000000001, 0x0000000000000001, 1)
  TEST_IMM_OP(4, ori, 0x0000000000000007, 0x0000000000000003, 7)
  TEST_IMM_OP(5, ori, 0xfffffffffffff800, 0x0000000000000000, -2048)
  TEST_IMM_OP(6, ori, 0x00000000000007ff, 0x0000000000000000, 2047)
  TEST_IMM_OP(7, ori, 0xffffffffffffffff, 0xffffffffffffffff, 1)
  TEST_IMM_OP(8, ori, 0xffffffffffffffff, 0xffffffffffffffff, -1)
  TEST_IMM_OP(9, ori, 0x7fffffffffffffff, 0x7fffffffffffffff, 1)
  TEST_IMM_OP(10, ori, 0xffffffffffffffff, 0x8000000000000000, -1)
  TEST_IMM_OP(11, ori, 0x000000007fffffff, 0x000000007fffffff, 1)
  TEST_IMM_OP(12, ori, 0xffffffffffffffff, 0x0000000080000000, -1)
  TEST_IMM_OP(13, ori, 0x00000000ffffffff, 0x00000000ffffffff, 1)
  TEST_IMM_OP(14, ori, 0xfffffffffffff800, 0xfffffffffffff800, -2048)
  TEST_IMM_OP(15, ori, 0x00000000000007ff, 0x00000000000007ff, 2047)
  TEST_IMM_OP(16, ori, 0xfffffffffffff800, 0x0000000000000800, -2048)
  TEST_IMM_OP(17, ori, 0xffffffffffffffff, 0x00000000000007ff, -2048)
  TEST_IMM_OP(18, ori, 0xffffffffffffffff, 0xfffffffffffff7ff, -1)
  TEST_IMM_OP(19, ori, 0xffffffffffffffff, 0xfffffffffffff800, 2047)
  TEST_IMM_OP(20, ori, 0xffffffffffffffff, 0x7fffffffffffffff, -2048)
  TEST_IMM_OP(21, ori, 0xffffffffffffffff, 0x00000000000007ff, -2048)
  TEST_IMM_OP(22, ori, 0xffffffff800007ff, 0xffffffff80000000, 2047)
  TEST_IMM_OP(23, ori, 0x0000000080000555, 0x0000000080000000, 1365)
  TEST_IMM_OP(24, ori, 0xffffffffffffffff, 0x7fffffffffffffff, -1)
  TEST_IMM_OP(25, ori, 0xffffffffffffffff, 0xffffffffffffffff, 1)
  TEST_IMM_OP(26, ori, 0xffffffffffffffff, 0xfffffffffffff800, 2047)
  TEST_IMM_OP(27, ori, 0xffffffffffffffff, 0x00000000ffffffff, -16)
  TEST_IMM_OP(28, ori, 0xffffffff800007ff, 0xffffffff80000000, 2047)
  TEST_IMM_OP(29, ori, 0xffffffffffffffff, 0xffffffffffffffff, 2047)
  TEST_IMM_OP(30, ori, 0xa3882a8aaa8177ff, 0xa3882a8aaa8173cf, 1337)
  TEST_IMM_OP(31, ori, 0xff02f2b177d575ff, 0xff02f2b177d5759d, 363)
  TEST_IMM_OP(32, ori, 0xfffffffffffffff9, 0x8c5b45dfc28803f8, -1023)
  TEST_IMM_OP(33, ori, 0xd5704724c7a40f4f, 0xd5704724c7a4084b, 1797)
  TEST_IMM_OP(34, ori, 0xffffffffffffff5f, 0xc89994cc5ad0a51c, -161)
  TEST_IMM_OP(35, ori, 0xb44678f94475ee5b, 0xb44678f94475ee53, 1033)

  TEST_IMM_SRC1_EQ_DEST(36, ori, 0xfffffffffffffc1f, 0xf00000000000000f, -1000)
  TEST_IMM_DEST_BYPASS(37, 0, ori, 0x40e898f2affcd7e7, 0x40e898f2affcd247, 1442)
  TEST_IMM_DEST_BYPASS(38, 1, ori, 0x2f96781fadc70ffd, 0x2f96781fadc70e94, 1897)
  TEST_IMM_DEST_BYPASS(39, 2, ori, 0xce31175200b09fff, 0xce31175200b09f63, 255)
  TEST_IMM_SRC1_BYPASS(40, 0, ori, 0x3eb62c1c5ba469a9, 0x3eb62c1c5ba46881, 424)
  TEST_IMM_SRC1_BYPASS(41, 1, ori, 0x7ac3caf8520087ec, 0x7ac3caf85200866c, 1924)
  TEST_IMM_SRC1_BYPASS(42, 2, ori, 0xfffffffffffffebb, 0x9f94c7556db1bc28, -1349)
  TEST_IMM_ZEROSRC1(43, ori, 0xffffffffffffffe0, -32)
  TEST_IMM_ZERODEST(44, ori, 0x0000000000000021, -32)
  TEST_PASSFAIL
RVTEST_CODE_END
