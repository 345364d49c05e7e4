/* Kernel 3: layer normalisation of R rows of C FP32 values on the vector unit, output BF16.

   For every row x (C values, C/16 = L lines):
       mean = sum(x) · (1/C)                  line adds (a tree), REDSUM, MUL, BCAST
       d    = x − mean                        SUB
       v    = sum(d²) · (1/C) + eps           MUL/FMA then line adds, REDSUM, FMA, BCAST
       r    = 1/sqrt(v)                       0x5F3759DF − (bits(v) >> 1) (INT32 SRL, SUB),
                                              then NEWTON Newton steps: r = r·(1.5 − (v/2)·r²)
                                              (MUL, FNMA, MUL): no divide or square root unit
       y    = BF16(RNE(d · r · gamma + beta)) MUL, FMA, two NARROWs (packing two FP32 lines)
   Every step is an FP32 (or INT32) operation of the vector unit on whole lines; the scalar core
   only issues VOPs. verif/core/kernels/layernorm.py has the host side: the build (the -D flags
   below), the data placed in the image and the same operation sequence in numpy.

   Schedule. The work goes in phases, each a set of VOPs over every row; a phase's VOPs do not
   read each other's results, so the vector sequencer streams them back to back, and the first
   VOP of the next phase, which reads them, waits once for them to complete (the sequencer's
   read-after-write check). The check is conservative: a VOP that reads a line between the
   lowest and highest destination of the VOPs in flight waits for all of them. So the layout
   (layernorm.py) keeps each phase's reads outside the span of its own destinations: constants,
   gamma, beta, x, the per-row statistics, the tree lines t, d, y in that order, and a phase that
   updates a buffer in place walks it upwards. Line j of row r of the tree buffer is at
   t + (j·R + r)·64: the sum of lines j and j + n − h of every row (h = n/2) is then one VOP of
   h·R contiguous lines, whatever the row count, and log2(L) of them reduce a row to a line.

   -D flags (layernorm.py): R, C, NEWTON, P; WS_BYTES and the byte offsets in ws of the buffers
   OFF_K (K_LINES constant lines), OFF_GAMMA, OFF_BETA, OFF_X (R rows of P lines, L used),
   OFF_ST (ST_LINES arrays of R lines), OFF_T (H×R lines), OFF_D (R rows of P lines), OFF_Y
   (R×H lines of BF16); the
   constants' FP32/INT32 codes K_INV_C, K_EPS, K_HALF, K_THREE_HALVES, K_MAGIC; VECTOR_CTR the
   RDCTR number of the vector unit's first counter (busy; port, operand, backpressure, idle
   follow).

   d1_result: [0] cycles from the first VOP to the fence after the last, [1..5] the vector
   unit's busy, port, operand, backpressure and idle cycles over the same span, [6] the vector
   unit's error register, [7] the vector unit's sticky flags. */

#include "d1.h"

#define LINE 64
#define L (C / 16)          /* lines of a row */
#define H ((L + 1) / 2)     /* lines of the tree's first level; BF16 lines of an output row */
/* P (-D): the row stride of x and d in lines, L or L + 1, odd: a VOP down a column of rows
   then visits every bank of the scratchpad (a stride of a multiple of the bank count would read
   one bank line after line, each read colliding with the other port's) */
#define FP32 D1_VT_FP32
#define INT32 D1_VT_INT32

_Static_assert(C % 16 == 0 && C >= 16, "C is a multiple of 16 lanes");
_Static_assert(R * LINE <= 32767 && P * LINE <= 32767, "strides fit VectorStrides' 16 bits");
_Static_assert(P >= L && P % 2 == 1, "rows of x and d are an odd number of lines apart");

/* The constant lines (every lane the same code), in this order at OFF_K. */
enum { KI_INV_C, KI_EPS, KI_HALF, KI_THREE_HALVES, KI_MAGIC, KI_ONE, KI_NEG_ZERO, KI_ZERO, KI_N };
/* The per-row statistics, one array of R lines each at OFF_ST: lane 0 or every lane. */
enum { S_SUM, S_MEAN0, S_MEAN, S_SSQ, S_VAR0, S_VAR, S_HALF_VAR, S_SHIFTED, S_R, S_R2, S_CORR,
       S_N };
_Static_assert(KI_N == K_LINES && S_N == ST_LINES, "layernorm.py reserves these lines");

uint8_t ws[WS_BYTES] __attribute__((aligned(64)));
volatile uint64_t d1_result[8] __attribute__((aligned(64)));

#define BASE ((unsigned long)ws)
#define KL(i) (BASE + OFF_K + (i) * LINE)
#define ST(i) (BASE + OFF_ST + (i) * R * LINE)
#define X (BASE + OFF_X)
#define T (BASE + OFF_T)
#define D (BASE + OFF_D)
#define Y (BASE + OFF_Y)
#define GAMMA (BASE + OFF_GAMMA)
#define BETA (BASE + OFF_BETA)

/* An operand of a grid: line j of row r at p + r·rs + j·ls. */
typedef struct {
    unsigned long p;
    long rs, ls;
} grid_t;

#define G(p, rs, ls) ((grid_t){(unsigned long)(p), (rs), (ls)})
#define NONE G(0, 0, 0)
#define ROWS(p) G(p, LINE, 0)   /* one line per row (the statistics) */
#define ONE(p) G(p, 0, 0)       /* the same line for all (a constant) */

/* OP over rows × lines: one VOP per row (count = lines) when BY_ROWS, else one per line
   (count = rows). OP is the instruction's funct7, so this is a macro. */
#define GRID(OP, VT, FMT, IMM, BY_ROWS, ROWS_, LINES_, A_, B_, C_, D_) do { \
        grid_t a_ = (A_), b_ = (B_), c_ = (C_), d_ = (D_); \
        long n_ = (BY_ROWS) ? (ROWS_) : (LINES_), k_ = (BY_ROWS) ? (LINES_) : (ROWS_); \
        if (n_ > 0 && k_ > 0) { \
            d1_vsetcfg(d1_vconfig_full((VT), (FMT), 0, 0, (IMM), k_, 0)); \
            if (BY_ROWS) \
                d1_vsetstride(d1_vstrides(a_.ls, b_.ls, c_.ls, d_.ls)); \
            else \
                d1_vsetstride(d1_vstrides(a_.rs, b_.rs, c_.rs, d_.rs)); \
            long sa_ = (BY_ROWS) ? a_.rs : a_.ls, sb_ = (BY_ROWS) ? b_.rs : b_.ls; \
            long sc_ = (BY_ROWS) ? c_.rs : c_.ls, sd_ = (BY_ROWS) ? d_.rs : d_.ls; \
            for (long i_ = 0; i_ < n_; i_++) { \
                d1_vsetdc((void *)d_.p, (const void *)c_.p); \
                D1_VOP(OP, a_.p, b_.p); \
                a_.p += sa_; b_.p += sb_; c_.p += sc_; d_.p += sd_; \
            } \
        } \
    } while (0)

/* One VOP over the R lines of statistics (or any R lines 64 bytes apart). */
#define STAT(OP, VT, IMM, A_, B_, C_, D_) GRID(OP, VT, 0, IMM, 0, R, 1, A_, B_, C_, D_)

/* Reduce n lines per row of the tree buffer (row r's line j at T + (j·R + r)·64) to line 0:
   lines j and j + n − h, h = n/2, are added into line j, in place (each VOP reads its
   destination line only at the same index; line h stays when n is odd). */
static void tree(long n)
{
    for (; n > 1; n -= n / 2) {
        long h = n / 2;
        GRID(D1_VOP_ADD, FP32, 0, 0, 0, h * R, 1, G(T, LINE, 0),
             G(T + (n - h) * R * LINE, LINE, 0), NONE, G(T, LINE, 0));
    }
}

int main(void)
{
    static const uint32_t kval[KI_N] = {K_INV_C, K_EPS, K_HALF, K_THREE_HALVES, K_MAGIC, 1,
                                        0x80000000u, 0};
    volatile uint32_t *k = (volatile uint32_t *)(BASE + OFF_K);
    for (int i = 0; i < KI_N; i++)
        for (int lane = 0; lane < 16; lane++)
            k[16 * i + lane] = kval[i];

    unsigned long c0[5];
    for (int c = 0; c < 5; c++)
        c0[c] = d1_rdctr(VECTOR_CTR + c);
    unsigned long t0 = d1_rdctr(D1_CTR_CYCLES);
    /* by lines (count R) where a VOP per row would be short, by rows otherwise */
    const int by_rows = R < L;
    const long h = L / 2;

    /* mean: the first tree level from x (line h copied when L is odd: x + (−0) is x) */
    GRID(D1_VOP_ADD, FP32, 0, 0, by_rows, R, h, G(X, P * LINE, LINE),
         G(X + (L - h) * LINE, P * LINE, LINE), NONE, G(T, LINE, R * LINE));
    if (L % 2)
        STAT(D1_VOP_ADD, FP32, 0, G(X + h * LINE, P * LINE, 0), ONE(KL(KI_NEG_ZERO)), NONE,
             ROWS(T + h * R * LINE));
    tree(H);
    STAT(D1_VOP_REDSUM, FP32, 0, ROWS(T), NONE, NONE, ROWS(ST(S_SUM)));
    STAT(D1_VOP_MUL, FP32, 0, ROWS(ST(S_SUM)), ONE(KL(KI_INV_C)), NONE, ROWS(ST(S_MEAN0)));
    STAT(D1_VOP_BCAST, FP32, 0, ROWS(ST(S_MEAN0)), NONE, NONE, ROWS(ST(S_MEAN)));

    /* d = x − mean */
    GRID(D1_VOP_SUB, FP32, 0, 0, 1, R, L, G(X, P * LINE, LINE), ROWS(ST(S_MEAN)), NONE,
         G(D, P * LINE, LINE));

    /* sum of squares: the first level as MUL (the upper lines) then FMA, then the tree */
    GRID(D1_VOP_MUL, FP32, 0, 0, by_rows, R, h, G(D + (L - h) * LINE, P * LINE, LINE),
         G(D + (L - h) * LINE, P * LINE, LINE), NONE, G(T, LINE, R * LINE));
    if (L % 2)
        STAT(D1_VOP_MUL, FP32, 0, G(D + h * LINE, P * LINE, 0), G(D + h * LINE, P * LINE, 0),
             NONE, ROWS(T + h * R * LINE));
    /* in place on t: by lines, so that each VOP's t lines lie above the earlier ones' */
    GRID(D1_VOP_FMA, FP32, 0, 0, 0, R, h, G(D, P * LINE, LINE), G(D, P * LINE, LINE),
         G(T, LINE, R * LINE), G(T, LINE, R * LINE));
    tree(H);
    STAT(D1_VOP_REDSUM, FP32, 0, ROWS(T), NONE, NONE, ROWS(ST(S_SSQ)));
    STAT(D1_VOP_FMA, FP32, 0, ROWS(ST(S_SSQ)), ONE(KL(KI_INV_C)), ONE(KL(KI_EPS)),
         ROWS(ST(S_VAR0)));
    STAT(D1_VOP_BCAST, FP32, 0, ROWS(ST(S_VAR0)), NONE, NONE, ROWS(ST(S_VAR)));

    /* r = 1/sqrt(v): the integer estimate, then Newton steps */
    STAT(D1_VOP_SRL, INT32, 0, ROWS(ST(S_VAR)), ONE(KL(KI_ONE)), NONE, ROWS(ST(S_SHIFTED)));
    STAT(D1_VOP_MUL, FP32, 0, ROWS(ST(S_VAR)), ONE(KL(KI_HALF)), NONE, ROWS(ST(S_HALF_VAR)));
    STAT(D1_VOP_SUB, INT32, 0, ONE(KL(KI_MAGIC)), ROWS(ST(S_SHIFTED)), NONE, ROWS(ST(S_R)));
    for (int i = 0; i < NEWTON; i++) {
        STAT(D1_VOP_MUL, FP32, 0, ROWS(ST(S_R)), ROWS(ST(S_R)), NONE, ROWS(ST(S_R2)));
        STAT(D1_VOP_FNMA, FP32, 0, ROWS(ST(S_HALF_VAR)), ROWS(ST(S_R2)),
             ONE(KL(KI_THREE_HALVES)), ROWS(ST(S_CORR)));
        STAT(D1_VOP_MUL, FP32, 0, ROWS(ST(S_R)), ROWS(ST(S_CORR)), NONE, ROWS(ST(S_R)));
    }

    /* y = d·r·gamma + beta, in place on d by rows (upwards), then narrowed to BF16: even lines
       into the low halves of y's lines (the high halves from a zero line), odd lines into the
       high halves (c = the line itself) */
    GRID(D1_VOP_MUL, FP32, 0, 0, 1, R, L, G(D, P * LINE, LINE), ROWS(ST(S_R)), NONE,
         G(D, P * LINE, LINE));
    GRID(D1_VOP_FMA, FP32, 0, 0, 1, R, L, G(D, P * LINE, LINE), G(GAMMA, 0, LINE),
         G(BETA, 0, LINE), G(D, P * LINE, LINE));
    GRID(D1_VOP_NARROW, FP32, D1_FMT_BF16, 0, 1, R, H, G(D, P * LINE, 2 * LINE),
         NONE, ONE(KL(KI_ZERO)), G(Y, H * LINE, LINE));
    GRID(D1_VOP_NARROW, FP32, D1_FMT_BF16, 1, 1, R, h, G(D + LINE, P * LINE, 2 * LINE),
         NONE, G(Y, H * LINE, LINE), G(Y, H * LINE, LINE));
    d1_fence();

    unsigned long t1 = d1_rdctr(D1_CTR_CYCLES);
    d1_result[0] = t1 - t0;
    for (int c = 0; c < 5; c++)
        d1_result[1 + c] = d1_rdctr(VECTOR_CTR + c) - c0[c];
    d1_result[6] = d1_status(1);
    d1_vsetcfg(d1_vconfig(INT32, 1, 0));
    d1_result[7] = D1_VOP_REG(D1_VOP_RDFLAGS, BASE, 0);
    return d1_result[6] != 0;
}
