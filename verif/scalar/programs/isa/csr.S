# Zicsr: the six CSR instructions (old value to rd; write, set, clear; no write from x0 or a
# zero immediate with csrrs/csrrc), and the machine CSRs the core implements: mscratch, mstatus
# (MIE, MPIE stored, MPP reads 3), mie (reads 0, ignores writes), mtvec and mepc (low two bits
# cleared), mcause, mtval, mhartid (0 on thread 0), the counters and their shadows, mthreadpc.
# Expected values: the RISC-V privileged spec and verif/scalar/iss.py's docstring, by hand.

#include "test_macros.h"

RVTEST_CODE_BEGIN
  TEST_CASE(2, x14, 0, csrw mscratch, x0; csrr x14, mscratch)
  TEST_CASE(3, x14, 0x1234, li x1, 0x1234; csrrw x0, mscratch, x1; csrr x14, mscratch)
  TEST_CASE(4, x14, 0x1234, li x1, 0x5678; csrrw x14, mscratch, x1)
  TEST_CASE(5, x14, 0x567f, li x1, 0x000f; csrrs x0, mscratch, x1; csrr x14, mscratch)
  TEST_CASE(6, x14, 0x567f, li x1, 0xff00; csrrs x14, mscratch, x1)
  TEST_CASE(7, x14, 0xff7f, csrr x14, mscratch)
  TEST_CASE(8, x14, 0xff7f, li x1, 0x00f0; csrrc x14, mscratch, x1)
  TEST_CASE(9, x14, 0xff0f, csrr x14, mscratch)
  TEST_CASE(10, x14, 0xff0f, csrrwi x14, mscratch, 0x1f)
  TEST_CASE(11, x14, 0x1f, csrrsi x14, mscratch, 0)
  TEST_CASE(12, x14, 0x1f, csrrci x14, mscratch, 3)
  TEST_CASE(13, x14, 0x1c, csrrsi x14, mscratch, 0x10)
  TEST_CASE(14, x14, 0x1c, csrrci x0, mscratch, 0; csrr x14, mscratch)
  TEST_CASE(15, x14, 0xffffffffffffffff, li x1, -1; csrw mscratch, x1; csrr x14, mscratch)
  # 16: rd = rs1 in csrrw: the write uses the old register value.
  TEST_CASE(16, x14, 0x77, li x1, 0x77; li x2, 0x99; csrw mscratch, x2; csrrw x1, mscratch, x1; \
            csrr x14, mscratch)
  TEST_CASE(17, x1, 0x99, li x1, 0x77; li x2, 0x99; csrw mscratch, x2; csrrw x1, mscratch, x1)
  # 18, 19: the CSR result used at once (bypass).
  TEST_CASE(18, x14, 0x78, li x1, 0x77; csrw mscratch, x1; csrr x2, mscratch; addi x14, x2, 1)
  TEST_CASE(19, x14, 0x5, csrwi mscratch, 5; csrr x14, mscratch)

  TEST_CASE(20, x14, 0, csrr x14, mhartid)
  TEST_CASE(21, x14, 0x1800, csrr x14, mstatus)
  TEST_CASE(22, x14, 0x1888, li x1, -1; csrw mstatus, x1; csrr x14, mstatus)
  TEST_CASE(23, x14, 0x1800, csrw mstatus, x0; csrr x14, mstatus)
  TEST_CASE(24, x14, 0x1880, csrsi mstatus, 0x8; li x1, 0x80; csrs mstatus, x1; csrci mstatus, 8; \
            csrr x14, mstatus)
  TEST_CASE(25, x14, 0x1800, csrw mstatus, x0; csrr x14, mstatus)
  TEST_CASE(26, x14, 0, li x1, -1; csrw mie, x1; csrr x14, mie)
  TEST_CASE(27, x14, 0, csrrs x14, mie, x1)
  # 28: mtvec keeps the low two bits clear (direct mode); the handler address is restored.
  TEST_CASE(28, x14, 0x80000120, csrr x5, mtvec; li x1, 0x80000123; csrw mtvec, x1; \
            csrr x14, mtvec; csrw mtvec, x5)
  TEST_CASE(29, x14, 0x80000444, li x1, 0x80000447; csrw mepc, x1; csrr x14, mepc)
  TEST_CASE(30, x14, 0xfffffffffffffffc, li x1, -1; csrw mepc, x1; csrr x14, mepc)
  TEST_CASE(31, x14, 0x8000000000000005, li x1, 0x8000000000000005; csrw mcause, x1; \
            csrr x14, mcause)
  TEST_CASE(32, x14, 0xfedcba9876543210, li x1, 0xfedcba9876543210; csrw mtval, x1; \
            csrr x14, mtval)

  # 33-35: minstret counts this thread's retired instructions; a reading instruction sees the
  # count before itself; instret is its read-only shadow.
  TEST_CASE(33, x14, 3, csrr x1, minstret; nop; nop; csrr x2, minstret; sub x14, x2, x1)
  TEST_CASE(34, x14, 1, csrr x1, minstret; csrr x2, instret; sub x14, x2, x1)
  TEST_CASE(35, x14, 1000, li x1, 1000; csrw minstret, x1; csrr x14, minstret)
  TEST_CASE(36, x14, 1001, li x1, 1000; csrw minstret, x1; csrr x2, minstret; csrr x14, minstret)
  # 37-39: mcycle advances (the RTL counts clock cycles, so only the order is exact); cycle
  # is its shadow; a written value is what later reads count from.
  TEST_CASE(37, x14, 1, csrr x1, mcycle; nop; csrr x2, mcycle; sltu x14, x1, x2)
  TEST_CASE(38, x14, 1, csrr x1, mcycle; csrr x2, cycle; sltu x14, x1, x2)
  TEST_CASE(39, x14, 1, li x1, 0x10000000000; csrw mcycle, x1; csrr x2, mcycle; sub x2, x2, x1; \
            sltiu x14, x2, 1000)
  # 40, 41: mthreadpc keeps its low two bits clear; mthreadctl reads 1 (only thread 0 runs).
  TEST_CASE(40, x14, 0x80000004, li x1, 0x80000007; csrw D1_CSR_MTHREADPC, x1; \
            csrr x14, D1_CSR_MTHREADPC)
  TEST_CASE(41, x14, 1, csrr x14, D1_CSR_MTHREADCTL)

  TEST_PASSFAIL
RVTEST_CODE_END
