# Hardware threads (verif/scalar/iss.py's docstring): mthreadctl reads the running mask and a
# write keeps only the bits of threads that exist; a thread started through mthreadctl begins at
# mthreadpc with its own registers and reads its index from mhartid; a thread stops itself or
# is stopped by another; a restarted thread begins at mthreadpc again. Runs with any number of
# threads: the mask read back says which exist.
# Expected values: by hand from the mask read back.

#include "test_macros.h"

#define MTHREADCTL D1_CSR_MTHREADCTL
#define MTHREADPC D1_CSR_MTHREADPC

/* Wait (bounded) until mthreadctl reads want (a register); fail after many polls. */
#define WAIT_MASK(want) \
    li x20, 100000; \
1:  csrr x21, MTHREADCTL; \
    beq x21, want, 2f; \
    addi x20, x20, -1; \
    bnez x20, 1b; \
    j fail; \
2:

RVTEST_CODE_BEGIN
  TEST_CASE(2, x14, 1, csrr x14, MTHREADCTL)

  # 3: start every thread at worker; the mask read back has bit 0 and one bit per other thread.
  la x1, worker
  csrw MTHREADPC, x1
  li x1, -2
  TEST_CASE(3, x14, 1, csrs MTHREADCTL, x1; csrr x22, MTHREADCTL; andi x14, x22, 1)
  TEST_CASE(4, x14, 0, li x1, ~((1 << D1_MAX_THREADS) - 1); and x14, x22, x1)
  TEST_CASE(5, x14, 0, addi x1, x22, 1; and x14, x22, x1)   # the mask is 2^k - 1
  li x23, 1
  WAIT_MASK(x23)
  # 6: each started thread added its index + 1 to its slot once; the others left theirs at 0.
  TEST_CASE(6, x14, 0, jal x1, check_slots; mv x14, x24)

  # 7: a second start runs each worker from mthreadpc again (slots now hold 2 (i + 1)).
  li x1, -2
  csrs MTHREADCTL, x1
  WAIT_MASK(x23)
  TEST_CASE(7, x14, 0, jal x1, check_slots; mv x14, x24)

  # 8, 9: thread 0 stops a spinning thread 1 (when it exists).
  la x1, spin
  csrw MTHREADPC, x1
  li x1, 2
  csrs MTHREADCTL, x1
  andi x25, x22, 3
  TEST_CASE(8, x14, 0, csrr x26, MTHREADCTL; sub x14, x26, x25)
  csrc MTHREADCTL, x1
  TEST_CASE(9, x14, 1, csrr x14, MTHREADCTL)

  TEST_PASSFAIL

/* x24 = 0 if slot i holds round * (i + 1) for every thread i >= 1 in x22, 0 for the others
   (round = 1 on the first call, 2 on the second), else 1. */
check_slots:
  la x5, round
  ld x6, 0(x5)
  addi x6, x6, 1
  sd x6, 0(x5)
  la x5, slots
  li x24, 0
  li x8, 0
  andi x27, x22, -2
1:
  srl x9, x27, x8
  andi x9, x9, 1
  addi x10, x8, 1
  mul x10, x10, x6
  mul x10, x10, x9
  slli x11, x8, 3
  add x11, x11, x5
  ld x12, 0(x11)
  beq x12, x10, 2f
  li x24, 1
2:
  addi x8, x8, 1
  li x9, D1_MAX_THREADS
  bltu x8, x9, 1b
  jr x1

/* Every started thread: install the default trap handler, add hartid + 1 to slots[hartid],
   stop itself. */
worker:
  la x5, __d1_trap
  csrw mtvec, x5
  csrr x5, mhartid
  la x6, slots
  slli x7, x5, 3
  add x6, x6, x7
  ld x8, 0(x6)
  addi x8, x8, 1
  add x8, x8, x5
  sd x8, 0(x6)
  fence
  li x9, 1
  sll x9, x9, x5
  csrc MTHREADCTL, x9
  j fail

spin:
  j spin
RVTEST_CODE_END

RVTEST_DATA_BEGIN
slots: .dword 0, 0, 0, 0
round: .dword 0
RVTEST_DATA_END
