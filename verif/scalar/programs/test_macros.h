/* Test macros of d1core's per-instruction assembly tests, in the convention of the official
   RISC-V tests' "p" environment: a test file is

       #include "test_macros.h"
       RVTEST_CODE_BEGIN
         TEST_RR_OP(2, add, 5, 2, 3)      # test 2: add x14, x1, x2 with x1 = 2, x2 = 3 gives 5
         ...
         TEST_PASSFAIL
       RVTEST_CODE_END

   Each TEST_* case sets TESTNUM (gp) to its number n, runs its code and compares one register
   with the expected value; the first mismatch ends the program with tohost = 2n + 1, reaching
   TEST_PASSFAIL ends it with tohost = 1. Test numbers start at 2 (TESTNUM is 1 before the first
   test). The file is linked with crt0.S, whose _start calls main (RVTEST_CODE_BEGIN) with a
   stack, and whose trap handler reports any trap the test did not ask for. Registers: x1, x2
   operands, x14 result, x7 expected value, x4 and x5 scratch, x6 a bypassed copy.
   Built with -mno-relax (sim/riscv.py): gp holds the test number, never a global pointer. */

#ifndef D1_TEST_MACROS_H
#define D1_TEST_MACROS_H

#define TESTNUM gp

#define RVTEST_CODE_BEGIN .text; .globl main; .balign 4; main: li TESTNUM, 1;
#define RVTEST_CODE_END
#define RVTEST_DATA_BEGIN .data; .balign 8;
#define RVTEST_DATA_END
#define RVTEST_PASS fence; li a0, 1; j __d1_exit;
#define RVTEST_FAIL fence; slli a0, TESTNUM, 1; ori a0, a0, 1; j __d1_exit;

#define TEST_PASSFAIL bne x0, TESTNUM, pass; fail: RVTEST_FAIL; pass: RVTEST_PASS

#define NOPS_0
#define NOPS_1 nop;
#define NOPS_2 nop; nop;
#define NOPS_3 nop; nop; nop;
#define NOPS(n) NOPS_ ## n

/* The generic case: run code, then compare testreg with correctval. */
#define TEST_CASE(testnum, testreg, correctval, code...) \
test_ ## testnum: \
    li TESTNUM, testnum; \
    code; \
    li x7, correctval; \
    bne testreg, x7, fail;

/* Register-register operations. */
#define TEST_RR_OP(testnum, inst, result, val1, val2) \
    TEST_CASE(testnum, x14, result, li x1, val1; li x2, val2; inst x14, x1, x2)
#define TEST_RR_SRC1_EQ_DEST(testnum, inst, result, val1, val2) \
    TEST_CASE(testnum, x1, result, li x1, val1; li x2, val2; inst x1, x1, x2)
#define TEST_RR_SRC2_EQ_DEST(testnum, inst, result, val1, val2) \
    TEST_CASE(testnum, x2, result, li x1, val1; li x2, val2; inst x2, x1, x2)
#define TEST_RR_SRC12_EQ_DEST(testnum, inst, result, val1) \
    TEST_CASE(testnum, x1, result, li x1, val1; inst x1, x1, x1)
/* The result used n instructions after it is produced. */
#define TEST_RR_DEST_BYPASS(testnum, nops, inst, result, val1, val2) \
    TEST_CASE(testnum, x6, result, li x1, val1; li x2, val2; inst x14, x1, x2; NOPS(nops) \
              addi x6, x14, 0)
/* The operands produced n instructions before their use. */
#define TEST_RR_SRC_BYPASS(testnum, nops, inst, result, val1, val2) \
    TEST_CASE(testnum, x14, result, li x1, val1; li x2, val2; NOPS(nops) inst x14, x1, x2)
#define TEST_RR_ZEROSRC1(testnum, inst, result, val) \
    TEST_CASE(testnum, x2, result, li x1, val; inst x2, x0, x1)
#define TEST_RR_ZEROSRC2(testnum, inst, result, val) \
    TEST_CASE(testnum, x2, result, li x1, val; inst x2, x1, x0)
#define TEST_RR_ZEROSRC12(testnum, inst, result) \
    TEST_CASE(testnum, x1, result, inst x1, x0, x0)
#define TEST_RR_ZERODEST(testnum, inst, val1, val2) \
    TEST_CASE(testnum, x0, 0, li x1, val1; li x2, val2; inst x0, x1, x2)

/* Register-immediate operations (shifts too: imm is the shift amount). */
#define TEST_IMM_OP(testnum, inst, result, val1, imm) \
    TEST_CASE(testnum, x14, result, li x1, val1; inst x14, x1, imm)
#define TEST_IMM_SRC1_EQ_DEST(testnum, inst, result, val1, imm) \
    TEST_CASE(testnum, x1, result, li x1, val1; inst x1, x1, imm)
#define TEST_IMM_DEST_BYPASS(testnum, nops, inst, result, val1, imm) \
    TEST_CASE(testnum, x6, result, li x1, val1; inst x14, x1, imm; NOPS(nops) addi x6, x14, 0)
#define TEST_IMM_SRC1_BYPASS(testnum, nops, inst, result, val1, imm) \
    TEST_CASE(testnum, x14, result, li x1, val1; NOPS(nops) inst x14, x1, imm)
#define TEST_IMM_ZEROSRC1(testnum, inst, result, imm) \
    TEST_CASE(testnum, x1, result, inst x1, x0, imm)
#define TEST_IMM_ZERODEST(testnum, inst, val1, imm) \
    TEST_CASE(testnum, x0, 0, li x1, val1; inst x0, x1, imm)

/* Loads: inst x14, offset(base). The base register is written n instructions before. */
#define TEST_LD_OP(testnum, inst, result, offset, base) \
    TEST_CASE(testnum, x14, result, la x2, base; inst x14, offset(x2))
#define TEST_LD_SRC1_BYPASS(testnum, nops, inst, result, offset, base) \
    TEST_CASE(testnum, x14, result, la x2, base; NOPS(nops) inst x14, offset(x2))
#define TEST_LD_DEST_BYPASS(testnum, nops, inst, result, offset, base) \
    TEST_CASE(testnum, x6, result, la x2, base; inst x14, offset(x2); NOPS(nops) addi x6, x14, 0)

/* Stores: store val at offset(base), then load it back with load_inst; result is what the
   load returns (the stored value, narrowed and extended by the pair of instructions). */
#define TEST_ST_OP(testnum, load_inst, store_inst, result, val, offset, base) \
    TEST_CASE(testnum, x14, result, la x2, base; li x1, val; store_inst x1, offset(x2); \
              load_inst x14, offset(x2))
#define TEST_ST_BYPASS(testnum, nops, load_inst, store_inst, result, val, offset, base) \
    TEST_CASE(testnum, x14, result, la x2, base; li x1, val; NOPS(nops) \
              store_inst x1, offset(x2); NOPS(nops) load_inst x14, offset(x2))

/* Branches: taken both forward and backward; not taken both ways. */
#define TEST_BR2_OP_TAKEN(testnum, inst, val1, val2) \
test_ ## testnum: \
    li TESTNUM, testnum; \
    li x1, val1; \
    li x2, val2; \
    inst x1, x2, 2f; \
    bne x0, TESTNUM, fail; \
1:  bne x0, TESTNUM, 3f; \
2:  inst x1, x2, 1b; \
    bne x0, TESTNUM, fail; \
3:

#define TEST_BR2_OP_NOTTAKEN(testnum, inst, val1, val2) \
test_ ## testnum: \
    li TESTNUM, testnum; \
    li x1, val1; \
    li x2, val2; \
    inst x1, x2, 1f; \
    bne x0, TESTNUM, 2f; \
1:  bne x0, TESTNUM, fail; \
2:  inst x1, x2, 1b; \
3:

#endif
