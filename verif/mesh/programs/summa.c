/* Distributed GEMM on a mesh (docs/mesh.md, "Distributed GEMM"): SUMMA over a GW × GH grid of
   the mesh's live cores, D (M×N FP32) = A·B, A given as Aᵀ (K×M) and B (K×N), BF16 or, with
   -DCFP8, CFP8 1-4-3 × CFP8 1-5-2 (bias 7 and 15). M, N, K, the panel width KB and the grid
   GW × GH come from -D flags (verif/mesh/gemm.py builds one image per shape and grid).

   The grid: the mesh itself when every core lives, else the live cores in core-number order
   on the grid that they fill best (dead cores are skipped: the work is re-partitioned over the
   live ones, docs/mesh.md). A live core that is not in the grid has nothing to do and passes.

   The plan. The host (verif/mesh/gemm.py) works out each core's part of the schedule and
   writes it into that core's image (`d1_plan`): its DMA lists of pushes, one per panel it
   sends; its GEMM descriptors, one per panel and part; which panels arrive from other cores,
   whom to give credits, how many credits to wait for. The program only runs the plan: no
   address arithmetic and no descriptor filling on the scalar core, whose stores to the
   scratchpad would delay the first pushes (the exposed part of the communication) by hundreds
   of cycles.

   Partitioning. Grid position (gx, gy) computes block (gy, gx) of D: rows [gy·BM, min(M,
   (gy+1)·BM)) and columns [gx·BN, min(N, (gx+1)·BN)), BM = M/GH and BN = N/GW rounded up to
   whole 16-row tiles. K is cut into L panels of KB (the last may be shorter). Panel p of A's
   row block gy (the rows p·KB.. of Aᵀ, the block's columns) belongs to position
   ((p + gy) mod GW, gy), panel p of B's column block gx to (gx, (p + gx + 1) mod GH) (skewed:
   on a square grid no core owns both panels 0): the host loads each core's own panels
   (`aown`, `bown`) and nothing else.

   The schedule (every core, panels in order p = 0 .. L-1):
   - A sender thread pushes each panel this core owns to the other cores of its grid row (A) or
     column (B), into buffer p mod 2 there (`abuf`, `bbuf`, the same addresses in every core),
     each push adding 1 to S_AIN or S_BIN at the destination when its last byte has landed.
     Panels 0 and 1 go at once; panel p >= 2 waits until every receiver has said that buffer
     p mod 2 is free again (a credit: a d1.snotify adding 1 to S_ACR or S_BCR here). A credit
     for panel p+2 cannot come before every credit for panel p: no receiver finishes GEMM p
     before it has panel p, which this core pushes only when all of p's credits are in. So one
     counting semaphore per operand is enough.
   - The compute thread (main) waits for panel p's A and B (its own panels it reads in place),
     then queues GEMM p as NP parts (D's rows cut in two when they split on whole lines of Aᵀ):
     part h of GEMM p reads C = D (part h of GEMM p-1's result, load_c) and is queued only
     after part h of GEMM p-1 has signalled, while the other part of GEMM p-1 still keeps the
     matrix unit busy: the engine does not order a GEMM's C reads after an earlier GEMM's D
     writes (docs/core.md), and so the engine never idles between panels. When both parts of
     GEMM p-1 are done, buffer (p-1) mod 2 is free: credits go to the owners of panel p+1.
   The matrix unit accumulates in FP32 element by element in k order from C (verif/matmul/
   model.py), so chaining the panels through C gives D bit for bit equal to one GEMM over all
   of K: the host checks D against the SoftFloat-based reference of A·B.

   d1_result (read by the host): [0] the cycle counter at the first instruction of main, [1] at
   the last part's signal (the last byte of D written), [2..6] the matrix unit's counters
   (busy, port, operand, backpressure, idle; from reset), [7] cycles the compute thread waited
   for panels, [8] for its own GEMMs, [9] the sender's cycles waiting for
   credits, [10] the error registers (matrix, DMA, network) ORed, [11] 0 or a check's code. */

#include "mesh.h"
#include "../../core/kernels/gemm.h"

#if !defined(M) || !defined(N) || !defined(K) || !defined(KB) || !defined(GW) || !defined(GH)
#error "summa.c needs -DM, -DN, -DK, -DKB, -DGW and -DGH"
#endif

#define TILE 16
#define CEIL(a, b) (((a) + (b) - 1) / (b))
#define BM (CEIL(CEIL(M, GH), TILE) * TILE)
#define BN (CEIL(CEIL(N, GW), TILE) * TILE)
#define L CEIL(K, KB)
#define LDA LINE_UP(BM * sizeof(elem_t))
#define LDB LINE_UP(BN * sizeof(elem_t))
#define LDD LINE_UP(BN * 4)
/* The DMA descriptors of the pushes: one per panel sent and receiver. */
#define PUSHES (CEIL(L, GW) * (GW - 1) + CEIL(L, GH) * (GH - 1) + 1)

/* Semaphores (0 at reset: nothing sets them, so an early push's signal is never lost). */
#define S_AIN 1         /* remote A panels landed here */
#define S_BIN 2
#define S_ACR 3         /* credits for the A panels this core owns */
#define S_BCR 4
#define S_MM 5          /* S_MM + h: parts h of GEMMs done */

elem_t aown[CEIL(L, GW)][KB][LDA / sizeof(elem_t)] __attribute__((aligned(64)));
elem_t bown[CEIL(L, GH)][KB][LDB / sizeof(elem_t)] __attribute__((aligned(64)));
elem_t abuf[2][KB][LDA / sizeof(elem_t)] __attribute__((aligned(64)));
elem_t bbuf[2][KB][LDB / sizeof(elem_t)] __attribute__((aligned(64)));
uint32_t d[BM][LDD / 4] __attribute__((aligned(64)));
d1_gemm_desc gdesc[L][2];
d1_dma_desc pushes[PUSHES];

/* This core's plan (verif/mesh/gemm.py, SummaKernel.plan). */
volatile struct {
    uint32_t active;            /* 0: not in the grid */
    uint32_t parts;             /* GEMM parts per panel, 1 or 2 (0: an empty block) */
    uint32_t apush[L], bpush[L];    /* the DMA list that sends panel p (0: none) */
    uint32_t aneed[L], bneed[L];    /* credits in before that list may go (cumulative) */
    uint8_t ain[L], bin[L];         /* 1: panel p comes from another core */
    uint8_t aowner[L], bowner[L];   /* that core, x | y << 4: the one to give credits */
} d1_plan __attribute__((aligned(64)));

#ifdef SELFCHECK
/* -DSELFCHECK: the host also loads each core's block of the reference D here, and the core
   compares (check word: the number of elements that differ). */
uint32_t dexp[BM][LDD / 4] __attribute__((aligned(64)));
#endif
volatile uint64_t d1_result[12] __attribute__((aligned(64)));

#ifdef TIMELINE
/* -DTIMELINE (tuning): cycle stamps, [i] of event i (see the STAMP calls). */
volatile uint64_t d1_timeline[64] __attribute__((aligned(64)));
#define STAMP(i) (d1_timeline[(i) & 63] = d1_rdctr(D1_CTR_CYCLES))
#else
#define STAMP(i) ((void)0)
#endif

/* Wait until semaphore s >= v; the cycles waited are added to *acc. It polls the local
   semaphore (d1.sread) rather than sleeping: a part of a D1 core's GEMM runs for thousands of
   cycles, and a mesh whose every thread sleeps that long looks hung to the bench's watchdog
   (no instruction retired for HANG_CYCLES, verif/mesh/mesh_tb.py). Nothing crosses the
   network: the semaphore is this core's. */
static void wait_counted(unsigned s, unsigned long v, volatile uint64_t *acc)
{
    if (d1_sread(s) >= v)
        return;
    unsigned long t = d1_rdctr(D1_CTR_CYCLES);
    while (d1_sread(s) < v)
        ;
    *acc += d1_rdctr(D1_CTR_CYCLES) - t;
}

static void credit(unsigned core, unsigned sem)
{
    d1_snotify(core & 15, core >> 4, d1_signal(sem, 1));
}

/* The pushes of panels 0 and 1 need no credit: main sends them before anything else. */
static void first_pushes(void)
{
    for (unsigned p = 0; p < 2 && p < L; p++) {
        if (d1_plan.apush[p])
            d1_dma((const d1_dma_desc *)(unsigned long)d1_plan.apush[p]);
        if (d1_plan.bpush[p])
            d1_dma((const d1_dma_desc *)(unsigned long)d1_plan.bpush[p]);
    }
}

static long sender(long unused)
{
    (void)unused;
    for (unsigned p = 2; p < L; p++) {
        unsigned long a = d1_plan.apush[p], b = d1_plan.bpush[p];
        if (a) {
            wait_counted(S_ACR, d1_plan.aneed[p], &d1_result[9]);
            STAMP(32 + p);
            d1_dma((const d1_dma_desc *)a);
        }
        if (b) {
            wait_counted(S_BCR, d1_plan.bneed[p], &d1_result[9]);
            STAMP(48 + p);
            d1_dma((const d1_dma_desc *)b);
        }
    }
    d1_fence();
    return 0;
}

int main(void)
{
    d1_result[0] = d1_rdctr(D1_CTR_CYCLES);
    if (!d1_plan.active)
        return 0;                   /* not in the grid: nothing to do */
    first_pushes();
#ifdef CFP8
    d1_mcfg(GEMM_OPERANDS, 0);
#endif
    if (!d1_thread_start(1, sender, 0)) {
        d1_result[11] = 2;
        return 2;
    }
    STAMP(0);
    unsigned parts = d1_plan.parts;
    unsigned long na = 0, nb = 0;
    for (unsigned p = 0; p < L; p++) {
        if (d1_plan.ain[p])
            wait_counted(S_AIN, ++na, &d1_result[7]);
        if (d1_plan.bin[p])
            wait_counted(S_BIN, ++nb, &d1_result[7]);
        STAMP(2 + p);
        for (unsigned h = 0; h < parts; h++) {
            /* part h of GEMM p reads part h of GEMM p-1's D as its C */
            if (p)
                wait_counted(S_MM + h, p, &d1_result[8]);
            d1_mgemm(&gdesc[p][h], d1_signal(S_MM + h, 1));
        }
        /* Both parts of GEMM p-1 are done: its buffers, (p-1) mod 2, take panel p+1. */
        if (p >= 1 && p + 1 < L) {
            if (d1_plan.ain[p + 1])
                credit(d1_plan.aowner[p + 1], S_ACR);
            if (d1_plan.bin[p + 1])
                credit(d1_plan.bowner[p + 1], S_BCR);
        }
    }
    for (unsigned h = 0; h < parts; h++)
        wait_counted(S_MM + h, L, &d1_result[8]);
    d1_result[1] = d1_rdctr(D1_CTR_CYCLES);
    STAMP(1);
    for (int c = 0; c < 5; c++)
        d1_result[2 + c] = d1_rdctr(UNIT_CTR(0, c));
    d1_thread_join(1);
    d1_fence();
    d1_result[10] = d1_status(0) | d1_status(2) | d1_status(D1_STATUS_NETWORK);
#ifdef SELFCHECK
    unsigned long bad = 0;
    for (unsigned i = 0; i < BM; i++)
        for (unsigned j = 0; j < LDD / 4; j++)
            bad += d[i][j] != dexp[i][j];
    d1_result[11] = bad;
    if (bad)
        return 4;
#endif
    return d1_result[10] != 0 ? 3 : 0;
}
