/* Kernel 1 (row-major operands) and kernel 2 (the same with the fused epilogue) on one core.

   D (M×N FP32, row-major) = A·B with A (M×K) and B (K×N) row-major in the scratchpad, BF16 or,
   with -DCFP8, CFP8 1-4-3 × CFP8 1-5-2 (gemm.h). Every row starts a 64-byte line (strides are
   the rows rounded up to whole lines); A has its rows up to a multiple of the slab (below), the
   rows past M being padding. With -DEPILOGUE=1 each finished block of D is also turned into
   OUT = BF16(ReLU(D + bias)) (a bias row of N FP32), rounded to nearest even or, with -DSR=1,
   stochastically, while the engine works on the next block.

   The engine reads Aᵀ and B K-major (docs/isa.md, GemmDescriptor). Row-major B is K-major
   already: the GEMMs read it in place. A must be transposed, and that is the vector unit's
   work, not the DMA's: the DMA moves 8-, 16- or 64-byte elements, so it cannot move one 2-byte
   (or 1-byte) element from a row of A into a column. The vector unit transposes by ZIPs
   (docs/vector.md, "8×8 transpose"), here on a whole slab of E = 64 / sizeof(elem_t) rows of A
   (32 BF16 rows, 64 CFP8 rows: one Aᵀ line per k) at a time. Number the slab's elements by
   their line (row m, line b of the row: E·NB lines) and lane (k mod E): element (m, b, kk)
   sits at line m·NB + b, lane kk. One round is two VOPs over the slab's lines as one array of
   2H = E·NB lines: line i of zip_lo joins lines i and i + H into line 2i, zip_hi into line
   2i + 1 (strides a = b = 64, d = 128). A round rotates the element's index (line, lane) left
   by one bit (the top bit of the line number becomes the lowest lane bit), also for an NB that
   is not a power of two (mixed radix); log2(E) rounds (5 for BF16, 6 for CFP8) turn
   (m, b, kk) into (b, kk, m): line b·E + kk = k, lane m, which is Aᵀ with one line per k. The
   rounds ping-pong between the slab's Aᵀ buffer and one scratch buffer, the first reading A in
   place, the last writing Aᵀ. (tests/core/test_kernels.py checks the scheme on the vector
   model.)

   Threads and blocks. Thread 0 (matrix) queues one GEMM per slab of E rows of D (split into
   column pieces of NP columns, so that the epilogue can start on a piece while the engine
   works on the next); thread 1 (vector) lays out the next slab's Aᵀ into the one of two Aᵀ
   buffers that the engine is not reading (with the split below, slab 0 has a third), and runs
   the epilogue. Semaphores hand the buffers
   over: SEM_AT counts the slabs laid out (the last VOP of a layout signals it), SEM_MM the
   GEMM commands done (each signals it). The first slab is the kernel's head, which nothing
   overlaps: with -DHEAD_K=h (a multiple of E below K) its first h columns of A are laid out
   alone and multiplied first (GEMM 0a); slab 1 follows in full, then the rest of slab 0
   (GEMM 0b, k from h, D of 0a loaded as C: the engine accumulates from C in k order, so D is
   bit for bit the same), which must wait for 0a to be done; slab 1's GEMM is queued between
   them to hide that wait. The two parts of slab 0 cannot be read in place by the ZIP rounds (a
   part's lines are not one array), so the DMA first packs them into two staging buffers (a
   2D copy of 64-byte elements: the DMA's own job). Only thread 1 issues VOPs, so their order,
   and with it the stochastic rounding, does not depend on timing.

   The vector sequencer holds back a VOP that reads a line in the range of the lines written by
   the VOPs in flight (from the lowest to the highest, since it was last idle). Everything the
   vector unit writes is therefore in one object (vbuf), and what it only reads (A, the
   staging buffers, D, the bias) is outside: a VOP then waits only for a real dependency.

   The epilogue of a piece (rows R of a slab, columns c0 .. c0 + NP): ADD (FP32, D + bias, one
   VOP per line of the piece's columns, rows at stride LDD, the bias line at stride 0) into T;
   MAX with a zero line in place (ReLU: IEEE maximumNumber, so -0 and NaN give +0); two NARROW
   passes to BF16 (imm 0 from T's even lines, the first with c = its own source, imm 1 from the
   odd lines with c = the output line, which packs both halves). With -DSR=1 a SEED VOP sets
   the 32 generators before each NARROW VOP (seed SR_SEED + v, v numbering the narrows by
   slab, piece, pass and line: seeds[v]), so each output's rounding depends only on its place.

   d1_result (words): [0] cycles from the kernel's first instruction to its end (the last GEMM's
   signal, with the epilogue the last NARROW's: the last byte written), [1] cycles to the first
   GEMM queued (the head), [2..6] the matrix unit's counters (busy, port, operand,
   backpressure, idle), [7] the vector unit's busy cycles, [8..10] the error registers of the
   matrix, vector and DMA units, [11] the address of OUT. */

#include "gemm.h"

#ifndef HEAD_K
#define HEAD_K 0
#endif
#ifndef EPILOGUE
#define EPILOGUE 0
#endif
#ifndef SR
#define SR 0
#endif
#ifndef SR_SEED
#define SR_SEED 0x5EED
#endif
#ifndef NP
#define NP N
#endif
#ifndef TIMELINE
#define TIMELINE 0
#endif

#define ESIZE sizeof(elem_t)
#define E (LINE / ESIZE)                /* rows of a slab: one line of Aᵀ holds a slab's column */
#ifdef CFP8
#define ROUNDS 6
#define ZIP_TYPE D1_VT_INT8
#else
#define ROUNDS 5
#define ZIP_TYPE D1_VT_INT16
#endif
#define LDA LINE_UP(K * ESIZE)
#define NB (LDA / LINE)                 /* lines of a row of A */
#define SLABS ((M + E - 1) / E)
#define SLAB_LINES (E * NB)             /* lines of a slab of A, of its Aᵀ, of the scratch */
#define LDB LINE_UP(N * ESIZE)
#define LDD LINE_UP(N * 4)
#define LDO LINE_UP(N * 2)
#define SPLIT (HEAD_K > 0 && HEAD_K < K)
#define NB0 (HEAD_K * ESIZE / LINE)     /* lines of a row of the head part (GEMM 0a) */
#define JOBS (SLABS + SPLIT)            /* GEMM jobs (and layout jobs), in queue order */
#define PIECES ((N + NP - 1) / NP)
#define QMAX ((NP + 31) / 32)           /* BF16 output lines of a piece's row */

_Static_assert(HEAD_K % E == 0, "HEAD_K must be a multiple of the slab's rows");
_Static_assert(PIECES == 1 || (NP * ESIZE) % LINE == 0, "NP must start pieces on B's lines");
_Static_assert(PIECES == 1 || NP % 32 == 0, "NP must start pieces on OUT's lines");

enum { SEM_AT = 1, SEM_MM = 2, SEM_DMA = 3, SEM_EP = 4 };

elem_t a[SLABS * E][LDA / ESIZE] __attribute__((aligned(64)));
elem_t b[K][LDB / ESIZE] __attribute__((aligned(64)));
uint32_t d[M][LDD / 4] __attribute__((aligned(64)));
d1_gemm_desc desc[JOBS * PIECES];
#if SPLIT
uint8_t stage0[E * NB0][LINE] __attribute__((aligned(64)));
uint8_t stage1[E * (NB - NB0)][LINE] __attribute__((aligned(64)));
d1_dma_desc stage_dma[2];
#endif
#if EPILOGUE
uint32_t bias[LDD / 4] __attribute__((aligned(64)));
uint8_t zero_line[LINE] __attribute__((aligned(64)));
#if SR
uint32_t seeds[SLABS * PIECES * 2 * QMAX][16] __attribute__((aligned(64)));
#endif
#endif

/* Everything the vector unit writes (see above). */
struct vbuf {
    uint8_t scratch[SLAB_LINES][LINE];
    uint8_t at[2 + SPLIT][SLAB_LINES][LINE];    /* line k = row k of Aᵀ (buf(s): slab s's) */
#if EPILOGUE
    uint8_t t[E * 2 * QMAX][LINE];      /* a piece's ReLU(D + bias), rows of 2·QMAX lines */
    uint8_t sink[LINE];                 /* where SEED writes its zero line */
    uint16_t out[M][LDO / 2];
#endif
};
struct vbuf vbuf __attribute__((aligned(64)));
volatile uint64_t d1_result[12] __attribute__((aligned(64)));

/* -DTIMELINE=1 (tuning only): the cycle counter at events, d1_timeline[i]: [0] thread 1
   started, [1 + j] layout job j issued, [32 + j] GEMM job j queued. */
#if TIMELINE
volatile uint64_t d1_timeline[64] __attribute__((aligned(64)));
#define STAMP(i) (d1_timeline[i] = d1_rdctr(D1_CTR_CYCLES))
#else
#define STAMP(i) ((void)0)
#endif

typedef struct {
    unsigned slab, k0, kn;
} job_t;

/* Job j: rows of slab `slab`, k in k0 .. k0 + kn; the GEMM jobs and the layout jobs are the
   same list, in queue order. */
static job_t job(unsigned j)
{
    if (!SPLIT)
        return (job_t){j, 0, K};
    if (j == 0)
        return (job_t){0, 0, HEAD_K};
    if (j == 1 && SLABS > 1)
        return (job_t){1, 0, K};
    if (j <= 2)
        return (job_t){0, HEAD_K, K - HEAD_K};
    return (job_t){j - 1, 0, K};
}

/* The Aᵀ buffer of slab s: two in turn; with the split, slab 0 has a third of its own, as its
   GEMM 0b runs after slab 1's and would hold a shared buffer until slab 2 is due. */
static unsigned buf(unsigned s)
{
    return SPLIT ? (s == 0 ? 2 : (s - 1) % 2) : s % 2;
}

/* The GEMM job of slab s (the last one that reads its Aᵀ buffer). */
static unsigned slab_job(unsigned s)
{
    return SPLIT && s >= 1 ? (s == 1 ? 1 : s + 1) : s;
}

static unsigned slab_rows(unsigned s)
{
    return M - s * E < E ? M - s * E : E;
}

static unsigned piece_cols(unsigned p)
{
    return N - p * NP < NP ? N - p * NP : NP;
}

static unsigned long t_head;            /* the cycle counter when the first GEMM is queued */

/* Matrix thread: queue job j's GEMMs (one per piece), signalling SEM_MM each. */
static void queue_gemms(unsigned j)
{
    job_t jb = job(j);
    for (unsigned p = 0; p < PIECES; p++) {
        d1_gemm_desc *g = &desc[j * PIECES + p];
        uint32_t *dd = &d[jb.slab * E][p * NP];
        unsigned long load_c = jb.k0 != 0;
        /* the descriptor in five word stores (the rest of the line is zero from the load and
           never written): d1_gemm_fill clears the line and sets load_c by read-modify-write,
           some 20 accesses, and the head waits for the first job's */
        volatile uint64_t *w = (volatile uint64_t *)g;
        w[0] = D1_ADDR(vbuf.at[buf(jb.slab)][jb.k0])
               | (uint64_t)D1_ADDR(&b[jb.k0][p * NP]) << 32;
        w[1] = (load_c ? D1_ADDR(dd) : 0) | (uint64_t)D1_ADDR(dd) << 32;
        w[2] = LINE | (uint64_t)LDB << 32;
        w[3] = (load_c ? LDD : 0) | (uint64_t)LDD << 32;
        w[4] = slab_rows(jb.slab) | (uint64_t)piece_cols(p) << (D1_GEMM_N_SHIFT - 256)
               | (uint64_t)jb.kn << (D1_GEMM_K_SHIFT - 256)
               | load_c << (D1_GEMM_LOAD_C_SHIFT - 256);
    }
    d1_wait(SEM_AT, j + 1);
    if (jb.k0)                          /* GEMM 0b reads 0a's D as C */
        d1_wait(SEM_MM, PIECES);
    for (unsigned p = 0; p < PIECES; p++) {
        d1_mgemm(&desc[j * PIECES + p], d1_signal(SEM_MM, 1));
        if (j == 0 && p == 0)
            t_head = d1_rdctr(D1_CTR_CYCLES);
    }
}

/* Vector thread: transpose the E rows of nb lines each at src (E·nb lines, one array) into
   E·nb lines of Aᵀ at dst (one per k), by ROUNDS rounds of ZIPs; the last VOP signals sig. */
static void transpose(const uint8_t *src, unsigned nb, uint8_t *dst, unsigned long sig)
{
    unsigned long half = (unsigned long)E * nb / 2;
    d1_vsetcfg(d1_vconfig(ZIP_TYPE, half, 0));
    d1_vsetstride(d1_vstrides(LINE, LINE, 0, 2 * LINE));
    for (int r = 0; r < ROUNDS; r++) {
        uint8_t *to = (ROUNDS - 1 - r) % 2 ? vbuf.scratch[0] : dst;
        d1_vsetdc(to, 0);
        D1_VOP(D1_VOP_ZIP_LO, src, src + half * LINE);
        if (r == ROUNDS - 1)
            d1_vsetcfg(d1_vconfig(ZIP_TYPE, half, sig));
        d1_vsetdc(to + LINE, 0);
        D1_VOP(D1_VOP_ZIP_HI, src, src + half * LINE);
        src = to;
    }
}

static void layout(unsigned j)
{
    job_t jb = job(j);
    const uint8_t *src = (const uint8_t *)a[jb.slab * E];
    unsigned nb = NB;
#if SPLIT
    if (jb.slab == 0) {
        d1_wait(SEM_DMA, jb.k0 ? 2 : 1);
        src = jb.k0 ? stage1[0] : stage0[0];
        nb = jb.k0 ? NB - NB0 : NB0;
    }
#endif
    transpose(src, nb, vbuf.at[buf(jb.slab)][jb.k0], d1_signal(SEM_AT, 1));
}

#if EPILOGUE
/* OUT = BF16(ReLU(D + bias)) on piece p of slab s (its GEMM done). */
static void epilogue_piece(unsigned s, unsigned p)
{
    unsigned rows = slab_rows(s), cols = piece_cols(p);
    unsigned lines = (cols + 15) / 16, q_lines = (cols + 31) / 32;
    unsigned long ldt = 2 * q_lines * LINE;
    const uint8_t *dd = (const uint8_t *)&d[s * E][p * NP];
    const uint8_t *bb = (const uint8_t *)&bias[p * NP];
    uint8_t *t = vbuf.t[0];
    uint8_t *o = (uint8_t *)&vbuf.out[s * E][p * NP];

    d1_vsetcfg(d1_vconfig(D1_VT_FP32, rows, 0));
    d1_vsetstride(d1_vstrides(LDD, 0, 0, ldt));
    for (unsigned j = 0; j < lines; j++) {
        d1_vsetdc(t + j * LINE, 0);
        D1_VOP(D1_VOP_ADD, dd + j * LINE, bb + j * LINE);
    }
    d1_vsetcfg(d1_vconfig(D1_VT_FP32, rows * 2 * q_lines, 0));
    d1_vsetstride(d1_vstrides(LINE, 0, 0, LINE));
    d1_vsetdc(t, 0);
    D1_VOP(D1_VOP_MAX, t, zero_line);
    for (unsigned imm = 0; imm < 2; imm++)
        for (unsigned q = 0; q < q_lines; q++) {
            unsigned long sig = imm && q == q_lines - 1 ? d1_signal(SEM_EP, 1) : 0;
#if SR
            unsigned v = ((s * PIECES + p) * 2 + imm) * QMAX + q;
            seeds[v][0] = SR_SEED + v;
            d1_vsetcfg(d1_vconfig(D1_VT_INT32, 1, 0));
            d1_vsetdc(vbuf.sink, 0);
            D1_VOP(D1_VOP_SEED, seeds[v], 0);
#endif
            d1_vsetcfg(d1_vconfig_full(D1_VT_FP32, D1_FMT_BF16, 0, SR, imm, rows, sig));
            d1_vsetstride(d1_vstrides(ldt, 0, imm ? LDO : ldt, LDO));
            d1_vsetdc(o + q * LINE, imm ? o + q * LINE : t + 2 * q * LINE);
            D1_VOP(D1_VOP_NARROW, t + (2 * q + imm) * LINE, 0);
        }
}

/* The epilogue of every finished GEMM job before job n (in queue order) not done yet. */
static void epilogue_through(unsigned *next, unsigned n)
{
    for (; *next < n; ++*next) {
        job_t jb = job(*next);
        if (jb.k0 + jb.kn != K)
            continue;
        for (unsigned p = 0; p < PIECES; p++) {
            d1_wait(SEM_MM, *next * PIECES + p + 1);
            epilogue_piece(jb.slab, p);
        }
    }
}
#endif

static long vector_thread(long arg)
{
    unsigned next = 0;
    (void)arg;
    (void)next;
    STAMP(0);
    for (unsigned j = 0; j < JOBS; j++) {
        unsigned s = job(j).slab;
        /* the buffer is free when the GEMM of the slab before in it (s - 2) is done */
        if (s >= 2 && buf(s - 2) == buf(s)) {
            unsigned need = slab_job(s - 2) + 1;
#if EPILOGUE
            epilogue_through(&next, need);
#endif
            d1_wait(SEM_MM, need * PIECES);
        }
        layout(j);
        STAMP(1 + j);
    }
#if EPILOGUE
    epilogue_through(&next, JOBS);
#endif
    return 0;
}

#if SPLIT
/* A staging copy (rows of E lines of A, packed) in the descriptor's first four words, one
   store each: the rest of the line is zero from the load (.bss) and never written.
   d1_dma_fill clears the line and sets the bit fields by read-modify-write, some 30 accesses
   on the head's path. */
static void stage_fill(d1_dma_desc *t, const void *src, void *dst, unsigned nb)
{
    volatile uint64_t *w = (volatile uint64_t *)t;
    w[0] = D1_ADDR(src) | (uint64_t)D1_ADDR(dst) << 32;
    w[1] = LDA | (uint64_t)(nb * LINE) << 32;
    w[2] = LINE;                        /* src_elem_stride; next = 0 */
    w[3] = E | (uint64_t)nb << (D1_DMA_ELEMS_SHIFT - 192)
           | 2ul << (D1_DMA_ELEM_BYTES_SHIFT - 192) | 1ul << (D1_DMA_LOCAL_SHIFT - 192)
           | d1_signal(SEM_DMA, 1) << (D1_DMA_SIGNAL_SHIFT - 192);
}
#endif

int main(void)
{
    unsigned long t0 = d1_rdctr(D1_CTR_CYCLES);
#if SPLIT
    /* the head's path first: the first part's staging, then thread 1 */
    d1_sset(SEM_DMA, 0);
    stage_fill(&stage_dma[0], a[0], stage0, NB0);
    d1_dma(&stage_dma[0]);
#endif
    d1_sset(SEM_AT, 0);
    if (!d1_thread_start(1, vector_thread, 0))
        return 1;
    d1_sset(SEM_MM, 0);
    d1_sset(SEM_EP, 0);
#if SPLIT
    stage_fill(&stage_dma[1], &a[0][HEAD_K], stage1, NB - NB0);
    d1_dma(&stage_dma[1]);
#endif
#ifdef CFP8
    d1_mcfg(GEMM_OPERANDS, 0);
#endif
    for (unsigned j = 0; j < JOBS; j++) {
        queue_gemms(j);
        STAMP(32 + j);
    }
    d1_wait(SEM_MM, JOBS * PIECES);
#if EPILOGUE
    d1_wait(SEM_EP, SLABS * PIECES);
#endif
    unsigned long t1 = d1_rdctr(D1_CTR_CYCLES);
    d1_result[0] = t1 - t0;
    d1_result[1] = t_head - t0;
    for (int c = 0; c < 5; c++)
        d1_result[2 + c] = d1_rdctr(UNIT_CTR(0, c));
    d1_result[7] = d1_rdctr(UNIT_CTR(1, D1_CTR_UNIT_BUSY));
    for (int u = 0; u < 3; u++)
        d1_result[8 + u] = d1_status(u);
#if EPILOGUE
    d1_result[11] = (uint64_t)(unsigned long)vbuf.out;
#endif
    d1_thread_join(1);
    return d1_result[8] || d1_result[9] || d1_result[10];
}
