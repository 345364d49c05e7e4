/* Distributed GEMM on a mesh (docs/mesh.md, "Distributed GEMM"): SUMMA over a GW × GH grid of
   the mesh's live cores, D (M×N FP32) = A·B, A given as Aᵀ (K×M) and B (K×N), BF16 or, with
   -DCFP8, CFP8 1-4-3 × CFP8 1-5-2 (bias 7 and 15). M, N, K, the panel width KB and the grid
   GW × GH come from -D flags (verif/mesh/gemm.py builds one image per shape and grid).

   The grid. Grid position (gx, gy) is core `d1_grid[gy][gx]` (x | y << 4), a table the host
   writes into every core's image: the mesh itself when every core lives, else the live cores
   in core-number order on the most nearly square grid that they fill (dead cores are skipped:
   the work is re-partitioned over the live ones, docs/mesh.md). A live core that is not in the
   grid has nothing to do and passes.

   Partitioning. Grid position (gx, gy) computes block (gy, gx) of D: rows [gy·BM, min(M,
   (gy+1)·BM)) and columns [gx·BN, min(N, (gx+1)·BN)), BM = M/GH and BN = N/GW rounded up to
   whole 16-row tiles. K is cut into L panels of KB (the last may be shorter). Panel p of A's
   row block gy (the rows p·KB.. of Aᵀ, the block's columns) belongs to position
   (p mod GW, gy), panel p of B's column block gx to (gx, p mod GH): the host loads each core's
   own panels (`aown`, `bown`) and nothing else.

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
   (busy, port, operand, backpressure, idle; from reset), [7] cycles the compute thread slept
   waiting for panels, [8] waiting on its own GEMMs, [9] the sender's cycles waiting for
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
/* D's rows in two parts when the second part starts on a whole line of Aᵀ. */
#define HALF (BM / 2)
#define NP ((HALF * sizeof(elem_t)) % LINE == 0 && HALF > 0 ? 2 : 1)

/* Semaphores. */
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
d1_gemm_desc gdesc[2][2];
/* one DMA list per panel sent: the engine reads a list after it was queued */
d1_dma_desc apush[CEIL(L, GW)][GW > 1 ? GW - 1 : 1], bpush[CEIL(L, GH)][GH > 1 ? GH - 1 : 1];
#ifdef SELFCHECK
/* -DSELFCHECK: the host also loads each core's block of the reference D here, and the core
   compares (check word: the number of elements that differ). */
uint32_t dexp[BM][LDD / 4] __attribute__((aligned(64)));
#endif
volatile uint64_t d1_result[12] __attribute__((aligned(64)));

/* The grid: position (gx, gy) is core x | y << 4 (the host fills it). */
volatile uint8_t d1_grid[GH][GW] __attribute__((aligned(64)));

static unsigned me_x, me_y, rows, cols;

/* Core x and y of grid position (gx, gy). */
#define GRID_X(gx, gy) (d1_grid[gy][gx] & 15)
#define GRID_Y(gx, gy) (d1_grid[gy][gx] >> 4)

static unsigned panel_k(unsigned p)
{
    return p + 1 < L ? KB : K - p * KB;
}

/* Sleep until semaphore s >= v; the cycles slept are added to *acc. */
static void wait_counted(unsigned s, unsigned long v, volatile uint64_t *acc)
{
    if (d1_sread(s) >= v)
        return;
    unsigned long t = d1_rdctr(D1_CTR_CYCLES);
    d1_wait(s, v);
    *acc += d1_rdctr(D1_CTR_CYCLES) - t;
}

/* Push `lines` whole lines from src to dst in each of the n cores (xs[i], ys[i]), each adding 1
   to semaphore sem there when its last byte has landed: one DMA list. */
static void push(d1_dma_desc *t, const void *src, unsigned lines, const unsigned *xs,
                 const unsigned *ys, unsigned n, unsigned sem, void *dst)
{
    for (unsigned i = 0; i < n; i++) {
        d1_dma_fill(&t[i], src, dst, 0, 0, LINE, 1, lines, 2, d1_signal(sem, 1));
        d1_dma_remote(&t[i], xs[i], ys[i]);
        if (i)
            d1_dma_link(&t[i - 1], &t[i]);
    }
    if (n)
        d1_dma(&t[0]);
}

static long sender(long unused)
{
    (void)unused;
    unsigned rx[GW], ry[GW], cx[GH], cy[GH], nr = 0, nc = 0;
    for (unsigned x = 0; x < GW; x++)
        if (x != me_x)
            rx[nr] = GRID_X(x, me_y), ry[nr++] = GRID_Y(x, me_y);
    for (unsigned y = 0; y < GH; y++)
        if (y != me_y)
            cx[nc] = GRID_X(me_x, y), cy[nc++] = GRID_Y(me_x, y);
    unsigned long need_a = 0, need_b = 0;
    for (unsigned p = 0; p < L; p++) {
        unsigned kp = panel_k(p);
        if (p % GW == me_x && nr) {
            if (p >= 2) {
                need_a += nr;
                wait_counted(S_ACR, need_a, &d1_result[9]);
            }
            /* into the receivers' buffer p mod 2 (the same address in every core) */
            push(apush[p / GW], aown[p / GW], kp * LDA / LINE, rx, ry, nr, S_AIN, abuf[p % 2]);
        }
        if (p % GH == me_y && nc) {
            if (p >= 2) {
                need_b += nc;
                wait_counted(S_BCR, need_b, &d1_result[9]);
            }
            push(bpush[p / GH], bown[p / GH], kp * LDB / LINE, cx, cy, nc, S_BIN, bbuf[p % 2]);
        }
    }
    d1_fence();
    return 0;
}

int main(void)
{
    unsigned long t0 = d1_rdctr(D1_CTR_CYCLES);
    d1_result[0] = t0;
    /* this core's grid position; every core of the grid must be live */
    unsigned here = d1_place.x | d1_place.y << 4, found = 0;
    for (unsigned gy = 0; gy < GH; gy++)
        for (unsigned gx = 0; gx < GW; gx++) {
            if (!d1_live(GRID_X(gx, gy), GRID_Y(gx, gy))) {
                d1_result[11] = 1;
                return 1;
            }
            if (d1_grid[gy][gx] == here)
                me_x = gx, me_y = gy, found = 1;
        }
    if (!found)
        return 0;                   /* not in the grid: nothing to do */
    rows = me_y * BM < M ? (M - me_y * BM < BM ? M - me_y * BM : BM) : 0;
    cols = me_x * BN < N ? (N - me_x * BN < BN ? N - me_x * BN : BN) : 0;
#ifdef CFP8
    d1_mcfg(GEMM_OPERANDS, 0);
#endif
    for (unsigned s = S_AIN; s < S_MM + 2; s++)
        d1_sset(s, 0);
    if (!d1_thread_start(1, sender, 0)) {
        d1_result[11] = 2;
        return 2;
    }
    unsigned long na = 0, nb = 0;
    for (unsigned p = 0; p < L; p++) {
        const elem_t *a, *b;
        if (p % GW == me_x)
            a = &aown[p / GW][0][0];
        else {
            wait_counted(S_AIN, ++na, &d1_result[7]);
            a = &abuf[p % 2][0][0];
        }
        if (p % GH == me_y)
            b = &bown[p / GH][0][0];
        else {
            wait_counted(S_BIN, ++nb, &d1_result[7]);
            b = &bbuf[p % 2][0][0];
        }
        unsigned kp = panel_k(p);
        for (unsigned h = 0; h < NP; h++) {
            unsigned r0 = h * HALF, m = NP == 1 ? rows : (h ? (rows > HALF ? rows - HALF : 0)
                                                             : (rows < HALF ? rows : HALF));
            if (p)
                wait_counted(S_MM + h, p, &d1_result[8]);
            if (m == 0 || cols == 0)
                d1_sadd(S_MM + h, 1);       /* an empty part: nothing to compute */
            else {
                d1_gemm_desc *g = &gdesc[p % 2][h];
                d1_gemm_fill(g, (const char *)a + r0 * sizeof(elem_t), b, d[r0], d[r0],
                             LDA, LDB, LDD, LDD, m, cols, kp, p != 0);
                d1_mgemm(g, d1_signal(S_MM + h, 1));
            }
        }
        /* Both parts of GEMM p-1 are done: its buffers, (p-1) mod 2, take panel p+1. */
        if (p >= 1 && p + 1 < L) {
            unsigned q = p + 1;
            if (q % GW != me_x)
                d1_snotify(GRID_X(q % GW, me_y), GRID_Y(q % GW, me_y), d1_signal(S_ACR, 1));
            if (q % GH != me_y)
                d1_snotify(GRID_X(me_x, q % GH), GRID_Y(me_x, q % GH), d1_signal(S_BCR, 1));
        }
    }
    for (unsigned h = 0; h < NP; h++)
        wait_counted(S_MM + h, L, &d1_result[8]);
    d1_result[1] = d1_rdctr(D1_CTR_CYCLES);
    for (int c = 0; c < 5; c++)
        d1_result[2 + c] = d1_rdctr(UNIT_CTR(0, c));
    d1_thread_join(1);
    d1_fence();
    d1_result[10] = d1_status(0) | d1_status(2) | d1_status(D1_STATUS_NETWORK);
#ifdef SELFCHECK
    unsigned long bad = 0;
    for (unsigned i = 0; i < rows; i++)
        for (unsigned j = 0; j < cols; j++)
            bad += d[i][j] != dexp[i][j];
    d1_result[11] = bad;
    if (bad)
        return 4;
#endif
    return d1_result[10] != 0 ? 3 : 0;
}
