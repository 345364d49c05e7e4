/* Issue 18's third program (docs/mesh.md, "The training step"): a two-layer MLP trained
   data-parallel on every live core, STEPS steps of SGD. verif/mesh/train.py is the host side
   (the build, each core's shard, the reads) and the numpy model that makes the same rounding
   decisions.

   The network: Y = ReLU(X·W1)·W2, X (B × DIN) BF16, W1 (DIN × HID), W2 (HID × DOUT) BF16
   weights with FP32 master copies M1, M2; loss = mean squared error against T (B × DOUT, FP32)
   over the global batch B = BATCH (every element of Y, BATCH·DOUT of them). Rank r (the live
   cores in core-number order) holds rows [r·B/P, (r+1)·B/P) of X and T (its shard, `tr_rows`
   rows, written by the host with the data), so the global batch does not depend on which
   cores are dead, and every core holds the same weights.

   One step, every GEMM D (FP32) = Aᵀ·B from Aᵀ (K×M) and B (K×N) row-major, BF16 operands:
     Z1ᵀ = W1ᵀ·Xᵀ    (Aᵀ = W1, B = Xᵀ)          Z1 = X·W1        (Aᵀ = Xᵀ, B = W1)
     R1ᵀ = max(Z1ᵀ, 0), H1ᵀ = bf16(R1ᵀ)         R1 = max(Z1, 0), H1 = bf16(R1)
     Yᵀ = W2ᵀ·H1ᵀ    (Aᵀ = W2, B = H1ᵀ)         Y = H1·W2        (Aᵀ = H1ᵀ, B = W2)
     Eᵀ = Yᵀ − Tᵀ; loss part = sum of Eᵀ·Eᵀ (a tree of line adds, then REDSUM)
     dYᵀ = bf16(Eᵀ·c), dY = bf16((Y − T)·c), c = 2 / (BATCH·DOUT)
     dW2 = H1ᵀ·dY    (Aᵀ = H1, B = dY)          dH1 = dY·W2ᵀ     (Aᵀ = dYᵀ, B = W2ᵀ)
     dZ1 = select(R1 ≠ 0, dH1, 0), dW1 = Xᵀ·bf16(dZ1)   (Aᵀ = X, B = bf16(dZ1))
     all-reduce [dW1 | dW2 | loss part] over the live cores (allreduce.h: a fixed order)
     loss = sum · (1 / (BATCH·DOUT)) into tr_loss[step]
     M = M − lr·dW (one FNMA), W = bf16(M) rounded stochastically (NARROW with SR after a SEED
     of SR_SEED + step·NSEED + v, v numbering the step's NARROW VOPs: every core seeds the same
     way, so every core rounds alike and the weights stay identical)
     W2ᵀ = W2 transposed (vector ZIPs, for the next step's dH1)

   Layouts, and why the transposes are where they are: the engine contracts over the row index
   of both stored operands, so a GEMM reads its operands in place when both have the
   contraction's dimension as rows. The forward contractions run over features (Xᵀ, W1, then
   H1ᵀ, W2), the weight gradients over the batch (X, H1, dY, bf16(dZ1)), dH1 over DOUT (dYᵀ,
   W2ᵀ). So every activation is needed both ways. Rather than transposing activations on the
   vector unit, each forward product is computed in both orientations from the same stored
   operands (the engine's D = Aᵀ·B with A and B swapped gives the transpose, bit for bit: the
   same products accumulated in the same k order): a second small GEMM costs less engine time
   than the ZIP rounds cost the vector unit (5 rounds over every line of each activation), and
   the data (X and Xᵀ, T and Tᵀ) comes from the host in both layouts. Only W2 is needed both
   ways and cannot be recomputed (its SR rounding happens in one layout), so W2ᵀ is made from
   W2 by ZIP rounds (gemm_rm.c's transpose: 32-row slabs of W2, one line a row) after each
   update.

   Every unit's work is ordered by waiting for it: a GEMM's signal before the vector unit reads
   its D, a VOP's before the engine reads its output (the engine does not order its reads after
   the vector unit's writes); the vector unit orders its own VOPs (docs/vector.md). One thread
   issues every VOP, so their order, and with it the stochastic rounding, does not depend on
   timing.

   Padding: FP32 rows are whole 64-byte lines, BF16 rows too; the lanes past a row's end are
   zero (the buffers are cleared at the start, the host pads its data with zeros, the GEMMs
   never write past n and every VOP keeps zeros zero), so whole-line VOPs (the loss's squares)
   see zeros there.

   -D flags (train.py): P live cores, BMAX the largest shard's rows, DIN, HID, DOUT, BATCH,
   STEPS, LR, CSCALE, INV (FP32 codes of lr, c and 1 / (BATCH·DOUT)), SR_SEED; the all-reduce's
   N (floats of the gradient array), PIECE, CMAX; REPORT (fill tr_report) and THREAD_WAITING
   (the RDCTR number of thread 0's waiting cycles).

   Result (tohost): 0 pass; 1 the live cores are not P; 2 a unit's error register was set.
   The host reads tr_loss, the weights and masters, and in a REPORT build tr_report: per step
   and per stamp (the step's start, the backward GEMMs done = the all-reduce's start, the
   all-reduce done, the update done) the cycle counter, the matrix, vector and DMA units' busy
   cycles and thread 0's waiting cycles. */

#include "mesh.h"

#define LINE_UP(bytes) ((((bytes) + 63) / 64) * 64)
#define LDF(n) LINE_UP((n) * 4)         /* FP32 row stride */
#define LDH(n) LINE_UP((n) * 2)         /* BF16 row stride */
#define SLAB 32                         /* rows of W2 per transposition: one BF16 line */
#define SLABS ((HID + SLAB - 1) / SLAB)
#define G1 (DIN * LDF(HID))             /* the gradient array: dW1 at 0, dW2 at G1, */
#define G2 (G1 + HID * LDF(DOUT))       /* the loss part at G2 (lane 0 of one line) */
#define NSEED ((HID + 15) / 16 + (DOUT + 15) / 16)      /* SR NARROW VOPs per step */
enum { S_MM = 14, S_V = 15 };           /* semaphores: GEMMs done, VOP signals */

_Static_assert(N * 4 == G2 + 64, "N is the gradient array's floats");
_Static_assert(P <= S_MM, "the all-reduce's semaphores 0 .. P - 1 are not the step's");
_Static_assert(BMAX <= 32 && DOUT <= 32, "one BF16 line per row of Xᵀ, Tᵀ, W2 and dYᵀ");

typedef uint16_t bf16;

uint32_t ar_g[N] __attribute__((aligned(64)));
#define AR_INPUT(r) ar_g
#include "allreduce.h"

/* The host's: this core's shard (rows and both layouts of X and T) and the initial weights. */
volatile uint32_t tr_rows __attribute__((aligned(64)));
bf16 xt[DIN][LDH(BMAX) / 2] __attribute__((aligned(64)));
bf16 x[BMAX][LDH(DIN) / 2] __attribute__((aligned(64)));
uint32_t t[BMAX][LDF(DOUT) / 4] __attribute__((aligned(64)));
uint32_t tt[DOUT][LDF(BMAX) / 4] __attribute__((aligned(64)));
bf16 w1[DIN][LDH(HID) / 2] __attribute__((aligned(64)));
bf16 w2[SLABS * SLAB][LDH(DOUT) / 2] __attribute__((aligned(64)));
uint32_t m1[DIN][LDF(HID) / 4] __attribute__((aligned(64)));
uint32_t m2[HID][LDF(DOUT) / 4] __attribute__((aligned(64)));

/* What the program writes (cleared at the start). */
#define MAX(a, b) ((a) > (b) ? (a) : (b))
struct work {
    bf16 w2t[SLABS][SLAB][SLAB];        /* W2ᵀ: slab s's line o = column o of W2's rows */
    union {                             /* FP32, in turn: Z1ᵀ; the squares; dH1 */
        uint32_t z1t[HID][LDF(BMAX) / 4];
        uint32_t sq[DOUT][LDF(BMAX) / 4];
        uint32_t dh1[BMAX][LDF(HID) / 4];
        uint8_t scratch[SLAB][64];      /* the transposition's */
    } u;
    uint32_t z1[BMAX][LDF(HID) / 4];    /* Z1, then R1 (dZ1's mask) */
    uint32_t yt[DOUT][LDF(BMAX) / 4];   /* Yᵀ, Eᵀ, Eᵀ·c */
    uint32_t y[BMAX][LDF(DOUT) / 4];    /* Y, E, E·c */
    bf16 h1t[HID][LDH(BMAX) / 2];
    bf16 h1[BMAX][LDH(HID) / 2];
    bf16 dyt[DOUT][LDH(BMAX) / 2];
    bf16 dy[BMAX][LDH(DOUT) / 2];
    bf16 dz1[BMAX][LDH(HID) / 2];
    uint32_t seeds[NSEED][16];
    uint8_t sink[64];                   /* SEED's zero line */
};
struct work wk __attribute__((aligned(64)));
uint32_t consts[4][16] __attribute__((aligned(64)));    /* 0, lr, c, 1 / (BATCH·DOUT) */
enum { C_ZERO, C_LR, C_SCALE, C_INV };
uint32_t tr_loss[STEPS][16] __attribute__((aligned(64)));
#define REPORT_STAMPS 4
#define REPORT_WORDS 5
volatile uint64_t tr_report[STEPS][REPORT_STAMPS][REPORT_WORDS] __attribute__((aligned(64)));

static unsigned mm_n, v_n;              /* GEMM signals and VOP signals asked for */

/* REPORT builds (the bench's): the cycle counter, the units' busy cycles and thread 0's
   waiting cycles at stamp i of a step (some 30 instructions: 100 cycles of the scalar core). */
static void stamp(unsigned step, unsigned i)
{
#ifdef REPORT
    volatile uint64_t *r = tr_report[step][i];
    r[0] = d1_rdctr(D1_CTR_CYCLES);
    for (unsigned u = 0; u < 3; u++)
        r[1 + u] = d1_rdctr(16 * u + D1_CTR_UNIT_BUSY);
    r[4] = d1_rdctr(THREAD_WAITING);
#else
    (void)step;
    (void)i;
#endif
}

/* The step's GEMMs, filled once (plan_gemms): the same operands every step. */
enum { G_Z1T, G_Z1, G_YT, G_Y, G_DW2, G_DW1, G_DH1 };
d1_gemm_desc gdesc[G_DH1 + SLABS];

/* gdesc[i]: D (m × n FP32, row stride ldd) = Aᵀ·B, Aᵀ (k × m, stride lda) and B (k × n,
   stride ldb) BF16. In five word stores (c, ldc, load_c and the rest of the line are zero from
   .bss): d1_gemm_fill clears the line and sets the fields by read-modify-write, some 20
   accesses of the scalar core (gemm_rm.c does the same). */
static void plan_gemm(unsigned i, const void *at, unsigned lda, const void *b, unsigned ldb,
                      void *d, unsigned ldd, unsigned m, unsigned n, unsigned k)
{
    volatile uint64_t *w = (volatile uint64_t *)&gdesc[i];
    w[0] = D1_ADDR(at) | (uint64_t)D1_ADDR(b) << 32;
    w[1] = (uint64_t)D1_ADDR(d) << 32;
    w[2] = lda | (uint64_t)ldb << 32;
    w[3] = (uint64_t)ldd << 32;
    w[4] = m | (uint64_t)n << (D1_GEMM_N_SHIFT - 256) | (uint64_t)k << (D1_GEMM_K_SHIFT - 256);
}
_Static_assert(D1_GEMM_M_SHIFT == 256 && D1_GEMM_K_SHIFT + 16 <= 320,
               "the descriptor's fifth word as plan_gemm writes it");

/* Queue GEMM i, signalling S_MM. */
static void gemm(unsigned i)
{
    d1_mgemm(&gdesc[i], d1_signal(S_MM, 1));
    mm_n++;
}

static void plan_gemms(unsigned rows)
{
    plan_gemm(G_Z1T, w1, LDH(HID), xt, LDH(BMAX), wk.u.z1t, LDF(BMAX), HID, rows, DIN);
    plan_gemm(G_Z1, xt, LDH(BMAX), w1, LDH(HID), wk.z1, LDF(HID), rows, HID, DIN);
    plan_gemm(G_YT, w2, LDH(DOUT), wk.h1t, LDH(BMAX), wk.yt, LDF(BMAX), DOUT, rows, HID);
    plan_gemm(G_Y, wk.h1t, LDH(BMAX), w2, LDH(DOUT), wk.y, LDF(DOUT), rows, DOUT, HID);
    plan_gemm(G_DW2, wk.h1, LDH(HID), wk.dy, LDH(DOUT), (uint8_t *)ar_g + G1, LDF(DOUT), HID,
              DOUT, rows);
    for (unsigned s = 0; s < SLABS; s++) {
        unsigned cols = HID - s * SLAB < SLAB ? HID - s * SLAB : SLAB;
        plan_gemm(G_DH1 + s, wk.dyt, LDH(BMAX), wk.w2t[s], 64, &wk.u.dh1[0][s * SLAB],
                  LDF(HID), rows, cols, DOUT);
    }
    plan_gemm(G_DW1, x, LDH(DIN), wk.dz1, LDH(HID), ar_g, LDF(HID), DIN, HID, rows);
}

static void mm_sync(void)
{
    d1_swait(S_MM, mm_n);
}

static void v_sync(void)
{
    d1_swait(S_V, v_n);
}

/* One VOP of `lines` lines of type vt, strides (sa, sb, sc, sd), signalling S_V. */
#define VOP(op, vt, lines, sa, sb, sc, sd, d, a, b, c) do { \
        d1_vsetcfg(d1_vconfig(vt, lines, d1_signal(S_V, 1))); \
        d1_vsetstride(d1_vstrides(sa, sb, sc, sd)); \
        d1_vsetdc((void *)(d), (const void *)(c)); \
        D1_VOP(op, (unsigned long)(a), (unsigned long)(b)); \
        v_n++; \
    } while (0)

/* dst (rows × cols BF16, row stride ldo) = the FP32 rows at src (stride lds), one NARROW VOP
   per FP32 line of a row: imm 0 from the even lines (c the zero line: an odd last line leaves
   the upper half zero), imm 1 from the odd ones (c the output, which packs both halves).
   *seed: the SEED value before each VOP when rounding stochastically (counted up), else 0.
   Inlined: with the sizes constant at each call the loops and the configuration fold away
   (one VOP of some 15 instructions where a call took 110: the scalar core's time is most of
   a step's). */
static inline __attribute__((always_inline)) void narrow(void *dst, unsigned ldo, const void *src, unsigned lds, unsigned rows,
                   unsigned cols, uint32_t *seed, unsigned *v)
{
    unsigned fl = (cols + 15) / 16;
    for (unsigned q = 0; 2 * q < fl; q++)
        for (unsigned imm = 0; imm < 2 && 2 * q + imm < fl; imm++) {
            uint8_t *o = (uint8_t *)dst + q * 64;
            if (seed) {
                uint32_t *line = wk.seeds[*v];
                line[0] = (*seed)++;
                ++*v;
                d1_vsetcfg(d1_vconfig(D1_VT_INT32, 1, 0));
                d1_vsetdc(wk.sink, 0);
                D1_VOP(D1_VOP_SEED, (unsigned long)line, 0);
            }
            d1_vsetcfg(d1_vconfig_full(D1_VT_FP32, D1_FMT_BF16, 0, seed != 0, imm, rows,
                                       d1_signal(S_V, 1)));
            d1_vsetstride(d1_vstrides(lds, 0, imm ? ldo : 0, ldo));
            d1_vsetdc(o, imm ? o : (const void *)consts[C_ZERO]);
            D1_VOP(D1_VOP_NARROW, (unsigned long)src + (2 * q + imm) * 64, 0);
            v_n++;
        }
}

/* W2ᵀ from W2, a slab of 32 rows (one line each) at a time by 5 rounds of ZIPs (gemm_rm.c's
   transpose with one line a row: element (row m, lane k) ends at line k, lane m). */
static void transpose_w2(void)
{
    for (unsigned s = 0; s < SLABS; s++) {
        const uint8_t *src = (const uint8_t *)w2[s * SLAB];
        uint8_t *dst = (uint8_t *)wk.w2t[s];
        d1_vsetcfg(d1_vconfig(D1_VT_INT16, SLAB / 2, 0));
        d1_vsetstride(d1_vstrides(64, 64, 0, 128));
        for (int r = 0; r < 5; r++) {
            uint8_t *to = (4 - r) % 2 ? wk.u.scratch[0] : dst;
            d1_vsetdc(to, 0);
            D1_VOP(D1_VOP_ZIP_LO, (unsigned long)src, (unsigned long)src + SLAB / 2 * 64);
            if (r == 4)
                d1_vsetcfg(d1_vconfig(D1_VT_INT16, SLAB / 2, d1_signal(S_V, 1)));
            d1_vsetdc(to + 64, 0);
            D1_VOP(D1_VOP_ZIP_HI, (unsigned long)src, (unsigned long)src + SLAB / 2 * 64);
            src = to;
        }
        v_n++;
    }
}

/* The forward pass and the loss gradient: H1ᵀ, H1 (and R1), dYᵀ, dY, the loss part. */
static void forward(unsigned rows)
{
    gemm(G_Z1T);
    gemm(G_Z1);
    mm_sync();
    VOP(D1_VOP_MAX, D1_VT_FP32, HID * LDF(BMAX) / 64, 64, 0, 0, 64, wk.u.z1t, wk.u.z1t,
        consts[C_ZERO], 0);
    VOP(D1_VOP_MAX, D1_VT_FP32, rows * LDF(HID) / 64, 64, 0, 0, 64, wk.z1, wk.z1,
        consts[C_ZERO], 0);
    narrow(wk.h1t, LDH(BMAX), wk.u.z1t, LDF(BMAX), HID, rows, 0, 0);
    narrow(wk.h1, LDH(HID), wk.z1, LDF(HID), rows, HID, 0, 0);
    v_sync();
    gemm(G_YT);
    gemm(G_Y);
    mm_sync();
    /* Eᵀ, E in place; the squares of Eᵀ, added line by line down to one line (halves: lines
       [0, h) += [n - h, n)), REDSUM into the gradient array's loss line */
    unsigned n = DOUT * LDF(BMAX) / 64;
    VOP(D1_VOP_SUB, D1_VT_FP32, n, 64, 64, 0, 64, wk.yt, wk.yt, tt, 0);
    VOP(D1_VOP_SUB, D1_VT_FP32, rows * LDF(DOUT) / 64, 64, 64, 0, 64, wk.y, wk.y, t, 0);
    VOP(D1_VOP_MUL, D1_VT_FP32, n, 64, 64, 0, 64, wk.u.sq, wk.yt, wk.yt, 0);
    for (; n > 1; n -= n / 2)
        VOP(D1_VOP_ADD, D1_VT_FP32, n / 2, 64, 64, 0, 64, wk.u.sq, wk.u.sq,
            (uint8_t *)wk.u.sq + (n - n / 2) * 64, 0);
    VOP(D1_VOP_REDSUM, D1_VT_FP32, 1, 64, 0, 0, 64, (uint8_t *)ar_g + G2, wk.u.sq, 0, 0);
    VOP(D1_VOP_MUL, D1_VT_FP32, DOUT * LDF(BMAX) / 64, 64, 0, 0, 64, wk.yt, wk.yt,
        consts[C_SCALE], 0);
    VOP(D1_VOP_MUL, D1_VT_FP32, rows * LDF(DOUT) / 64, 64, 0, 0, 64, wk.y, wk.y,
        consts[C_SCALE], 0);
    narrow(wk.dyt, LDH(BMAX), wk.yt, LDF(BMAX), DOUT, rows, 0, 0);
    narrow(wk.dy, LDH(DOUT), wk.y, LDF(DOUT), rows, DOUT, 0, 0);
    v_sync();
}

/* The backward GEMMs into the gradient array (this shard's sums over its rows). */
static void backward(unsigned rows)
{
    gemm(G_DW2);
    for (unsigned s = 0; s < SLABS; s++)
        gemm(G_DH1 + s);
    mm_sync();
    VOP(D1_VOP_SELECT, D1_VT_FP32, rows * LDF(HID) / 64, 64, 64, 0, 64, wk.u.dh1, wk.z1,
        wk.u.dh1, consts[C_ZERO]);
    narrow(wk.dz1, LDH(HID), wk.u.dh1, LDF(HID), rows, HID, 0, 0);
    v_sync();
    gemm(G_DW1);
    mm_sync();
}

/* The loss, the SGD step on the masters and the new BF16 weights, W2ᵀ. */
static void update(unsigned step)
{
    VOP(D1_VOP_MUL, D1_VT_FP32, 1, 64, 0, 0, 64, tr_loss[step], (uint8_t *)result + G2,
        consts[C_INV], 0);
    VOP(D1_VOP_FNMA, D1_VT_FP32, DIN * LDF(HID) / 64, 0, 64, 64, 64, m1, consts[C_LR],
        result, m1);
    VOP(D1_VOP_FNMA, D1_VT_FP32, HID * LDF(DOUT) / 64, 0, 64, 64, 64, m2, consts[C_LR],
        (uint8_t *)result + G1, m2);
    uint32_t seed = SR_SEED + step * NSEED;
    unsigned v = 0;
    narrow(w1, LDH(HID), m1, LDF(HID), DIN, HID, &seed, &v);
    narrow(w2, LDH(DOUT), m2, LDF(DOUT), HID, DOUT, &seed, &v);
    transpose_w2();
    v_sync();
}

int main(void)
{
    unsigned me;
    if (ar_ranks(&me) != P)
        return 1;
    unsigned pushes = ar_plan(me), rows = tr_rows;
    plan_gemms(rows);
    d1_sset(S_MM, 0);
    d1_sset(S_V, 0);
    for (unsigned i = 0; i < 16; i++) {         /* the constants in every lane */
        consts[C_ZERO][i] = 0;
        consts[C_LR][i] = LR;
        consts[C_SCALE][i] = CSCALE;
        consts[C_INV][i] = INV;
    }
    /* clear what the program writes: the padding lanes stay zero from here on */
    VOP(D1_VOP_AND, D1_VT_INT32, sizeof wk / 64, 0, 0, 0, 64, &wk, consts[C_ZERO],
        consts[C_ZERO], 0);
    transpose_w2();
    v_sync();
    for (unsigned step = 0; step < STEPS; step++) {
        stamp(step, 0);
        forward(rows);
        backward(rows);
        stamp(step, 1);
        d1_vsetstride(d1_vstrides(64, 64, 0, 64));
        ar_run(me, pushes, step);
        d1_fence();
        stamp(step, 2);
        update(step);
        stamp(step, 3);
    }
    d1_fence();
    if (d1_status(0) || d1_status(1) || d1_status(2))
        return 2;
    return 0;
}
