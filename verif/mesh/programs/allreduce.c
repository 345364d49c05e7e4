/* Issue 18 (docs/mesh.md, "All-reduce"): every live core holds an FP32 array x_r of N elements
   (r its rank: the live cores numbered in core-number order, y * width + x); afterwards every
   live core holds the same sum, added in one fixed order: ((x_0 + x_1) + x_2) + ... + x_{P-1},
   each + one FP32 add of the vector unit (IEEE, round to nearest even). verif/mesh/allreduce.py
   is the host side: the build (the -D flags below), the inputs and the same order in numpy.

   The algorithm, its semaphores and its buffers are allreduce.h's (shared with train.c, which
   runs it once a training step); this program plans it, runs it once and checks the sum.

   -D flags (allreduce.py): N elements per core, P live cores, PIECE lines per piece, CMAX the
   largest chunk's lines; REPORT: end with the timing instead of the plain pass (below) and
   fill ar_report, THREAD_CTR, VECTOR_CTR, DMA_CTR its counters' RDCTR numbers;
   PER_CORE: where the data are. Without it every core gets the same image, the live ranks'
   inputs (ar_inputs[P][L·16]) and the expected sum (ar_expected[1][L·16]) from a generated
   source file linked beside this one, uses its own rank's input and checks its result itself.
   With it the host writes each core's input into ar_x (its own data, through the edge port)
   and reads `result` back (ar_x when P = 1) to compare: less memory, larger arrays.

   Result (tohost): main returns 0 (pass) or 1: the live cores are not P; 2: a DMA or vector
   error (d1_status); 3 + i: element i differs from the expected sum. With REPORT a passing
   core ends with tohost = (t1 << 42 | t0 << 21 | ts) << 1 instead (even, so never a pass or
   failure code): the cycle counter at the first instruction (ts), after the plan (t0) and when
   the last piece had landed here (t1), 21 bits each; every core's counter counts from the same
   start (go). */

#include "mesh.h"

#ifndef P
#error "P (live cores) is a -D flag"
#endif
#ifdef PER_CORE
extern uint32_t ar_x[];
#define AR_INPUT(r) ar_x
#else
extern uint32_t ar_inputs[P][(N + 15) / 16 * 16];
extern uint32_t ar_expected[1][(N + 15) / 16 * 16];
#define AR_INPUT(r) ar_inputs[r]
#endif
#include "allreduce.h"

#define TIME_MASK ((1ul << 21) - 1)     /* REPORT: three times of 21 bits in tohost */

#ifdef PER_CORE
uint32_t ar_x[WORDS] __attribute__((aligned(64)));
#endif

/* REPORT (allreduce.py's REPORT_WORDS): ts, t0, t1, then over [t0, t1] thread 0's counters
   from THREAD_CTR (instructions, not running, held, waiting, in flight, fetch, issued,
   eligible), the vector unit's and the DMA engine's five each from VECTOR_CTR and DMA_CTR
   (busy, port, operand, backpressure, idle). The host reads it in a per-core build. */
#define REPORT_THREAD 8
#define REPORT_UNIT 5
#define REPORT_N (3 + REPORT_THREAD + 2 * REPORT_UNIT)
volatile uint64_t ar_report[REPORT_N] __attribute__((aligned(64)));

#ifdef REPORT
static void counters(uint64_t *c)
{
    for (unsigned i = 0; i < REPORT_THREAD; i++)
        c[i] = d1_rdctr(THREAD_CTR + i);
    for (unsigned i = 0; i < REPORT_UNIT; i++) {
        c[REPORT_THREAD + i] = d1_rdctr(VECTOR_CTR + i);
        c[REPORT_THREAD + REPORT_UNIT + i] = d1_rdctr(DMA_CTR + i);
    }
}
#endif

#ifndef PER_CORE
/* The first element of the array at `sum` that differs from the expected sum, or WORDS. The
   vector unit compares (INT32 xor of every line into recv, free by now, then an or tree down to
   one line), the scalar core reads the one line, and looks for the element only when it is
   not zero (its loads are slow: the vector unit does a line a cycle). */
static unsigned first_difference(const uint32_t *sum)
{
    unsigned long diff = line_of(recv, 0);
    d1_vsetstride(d1_vstrides(LINE, LINE, 0, LINE));
    d1_vsetcfg(d1_vconfig(D1_VT_INT32, L, 0));
    d1_vsetdc((void *)diff, (const void *)0);
    D1_VOP(D1_VOP_XOR, (unsigned long)sum, (unsigned long)ar_expected[0]);
    for (unsigned n = L; n > 1; n -= n / 2) {
        unsigned h = n / 2;
        d1_vsetcfg(d1_vconfig(D1_VT_INT32, h, 0));
        d1_vsetdc((void *)diff, (const void *)0);
        D1_VOP(D1_VOP_OR, diff, line_of(recv, n - h));
    }
    d1_fence();
    const volatile uint64_t *w = (const volatile uint64_t *)diff;
    uint64_t any = 0;
    for (unsigned i = 0; i < LINE / 8; i++)
        any |= w[i];
    if (any)
        for (unsigned i = 0; i < WORDS; i++)
            if (sum[i] != ar_expected[0][i])
                return i;
    return WORDS;
}
#endif

int main(void)
{
    unsigned long ts = d1_rdctr(D1_CTR_CYCLES);
    /* the plan (once per array and set of live cores, as a collective library's plan): the
       ranks, every descriptor */
    unsigned me;
    if (ar_ranks(&me) != P)
        return 1;
    unsigned pushes = ar_plan(me);
    d1_vsetstride(d1_vstrides(LINE, LINE, 0, LINE));

    /* the all-reduce */
#ifdef REPORT
    uint64_t c0[REPORT_N - 3], c1[REPORT_N - 3];
    counters(c0);
#endif
    unsigned long t0 = d1_rdctr(D1_CTR_CYCLES);
    ar_run(me, pushes, 0);
    unsigned long t1 = d1_rdctr(D1_CTR_CYCLES);
#ifdef REPORT
    counters(c1);
    ar_report[0] = ts;
    ar_report[1] = t0;
    ar_report[2] = t1;
    for (unsigned i = 0; i < REPORT_N - 3; i++)
        ar_report[3 + i] = c1[i] - c0[i];
#endif
    d1_fence();
    if (d1_status(2) != 0 || d1_status(1) != 0)
        return 2;

#ifndef PER_CORE
    unsigned i = first_difference(P == 1 ? AR_INPUT(0) : result);
    if (i < WORDS)
        return 3 + i;
#endif
#ifdef REPORT
    __d1_exit(((t1 & TIME_MASK) << 42 | (t0 & TIME_MASK) << 21 | (ts & TIME_MASK)) << 1);
#else
    (void)ts;
    (void)t0;
    (void)t1;
#endif
    return 0;
}
