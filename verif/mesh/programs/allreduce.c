/* Issue 18 (docs/mesh.md, "All-reduce"): every live core holds an FP32 array x_r of N elements
   (r its rank: the live cores numbered in core-number order, y * width + x); afterwards every
   live core holds the same sum, added in one fixed order: ((x_0 + x_1) + x_2) + ... + x_{P-1},
   each + one FP32 add of the vector unit (IEEE, round to nearest even). verif/mesh/allreduce.py
   is the host side: the build (the -D flags below), the inputs and the same order in numpy.

   Algorithm: reduce-scatter, then all-gather. The array's L = ceil(N/16) lines are cut into P
   chunks, chunk j = lines [j·L/P, (j+1)·L/P) (rounded down), owned by rank j, and each chunk
   into pieces of at most PIECE lines.
   0. The plan (before the timed part, once per array and set of live cores as a collective
      library's plan): the ranks from d1_place and every DMA descriptor below.
   1. One DMA list pushes piece p of chunk j of x_me to its owner j, into slot `me` of its
      `recv` buffer, for every piece (piece-major, then owners from me + 1 round: the owners'
      first pieces leave first), each adding 1 to semaphore `me` at the owner when its last byte
      has landed. Pieces from one core arrive in order (one path), so semaphore k = p + 1 at the
      owner means pieces 0..p from rank k are there.
   2. The owner adds its chunk piece by piece: acc = x_0 + x_1, acc = acc + x_k for k = 2 ..
      P - 1 (x_k of a piece: slot k of recv, or its own input for k = me), one VOP of the piece's
      lines per step, after a local wait on semaphore k. The last step is issued twice: into the
      result (this core's copy) and, with a signal on semaphore `me` here, into `acc`.
   3. When piece p's sum has landed in acc (semaphore me = p + 1), one DMA list pushes it to
      the result array of every other live core (same address), each adding 1 to semaphore
      `me` there. Pushes of piece p overlap the adds of piece p + 1 (issued before the wait).
   4. Every core waits for semaphore k (k != me) to reach the pieces of its own chunk (the
      reduce-scatter's) plus those of chunk k (the all-gather's: they follow on one path),
      reads the cycle counter, fences (its own pushes answered) and compares the result with
      the expected sum bit for bit.
   The all-gather pushes from `acc`, not from the result, because the DMA engine holds a
   descriptor whose source overlaps an earlier remote descriptor's destination taken as a local
   address (docs/mesh.md): pushing the result to the same address elsewhere would serialise the
   P - 1 pushes of a piece on their answers.

   Semaphores: k (any rank but me) counts arrivals from rank k; me counts this core's finished
   pieces. So P <= 16 (D1_SEMAPHORES).

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

#define LINE 64
#define LANES 16
#define L ((N + LANES - 1) / LANES)
#define WORDS (L * LANES)
#define CHUNK_START(j) ((j) * L / P)
#define CHUNK_LINES(j) (CHUNK_START((j) + 1) - CHUNK_START(j))
#define PIECES(j) ((CHUNK_LINES(j) + PIECE - 1) / PIECE)
#define PMAX ((CMAX + PIECE - 1) / PIECE)
#define TIME_MASK ((1ul << 21) - 1)     /* REPORT: three times of 21 bits in tohost */

_Static_assert(P >= 1 && P <= D1_SEMAPHORES, "a semaphore per rank");
_Static_assert(PIECE >= 1 && PIECE * LINE <= 32767, "a piece's lines in one VOP");
_Static_assert(CMAX == (L + P - 1) / P, "CMAX is the largest chunk");

#ifdef PER_CORE
uint32_t ar_x[WORDS] __attribute__((aligned(64)));
#define INPUT(r) ar_x
#else
extern uint32_t ar_inputs[P][WORDS];
extern uint32_t ar_expected[1][WORDS];
#define INPUT(r) ar_inputs[r]
#endif
uint32_t result[WORDS] __attribute__((aligned(64)));
uint32_t recv[P][CMAX * LANES] __attribute__((aligned(64)));
uint32_t acc[CMAX * LANES] __attribute__((aligned(64)));
/* the reduce-scatter's list, then one list of P - 1 pushes per piece of this core's chunk */
d1_dma_desc scatter[(P - 1) * PMAX + 1];
d1_dma_desc gather[PMAX][P];

static unsigned rank_x[P], rank_y[P];

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

static inline unsigned long line_of(const void *base, unsigned line)
{
    return (unsigned long)base + (unsigned long)line * LINE;
}

/* Piece p of this core's chunk: its first line in the chunk and its lines. */
static inline unsigned piece_at(unsigned p)
{
    return p * PIECE;
}

static inline unsigned piece_lines(unsigned me, unsigned p)
{
    unsigned left = CHUNK_LINES(me) - p * PIECE;
    return left < PIECE ? left : PIECE;
}

/* One FP32 add of `lines` lines: d = a + b, signalling `signal` here when done. */
static inline void add_lines(unsigned long d, unsigned long a, unsigned long b, unsigned lines,
                             unsigned long signal)
{
    d1_vsetcfg(d1_vconfig(D1_VT_FP32, lines, signal));
    d1_vsetdc((void *)d, (const void *)0);
    D1_VOP(D1_VOP_ADD, a, b);
}

/* Field `name` of a DMA descriptor's fourth 64-bit word (bits 192..255: rows .. signal). */
#define W3(name, v) ((uint64_t)(v) << (D1_DMA_##name##_SHIFT - 192))
_Static_assert(D1_DMA_ROWS_SHIFT == 192 && D1_DMA_SIGNAL_SHIFT + D1_DMA_SIGNAL_BITS <= 256
               && D1_DMA_NEXT_SHIFT == 160 && D1_DMA_SRC_ELEM_STRIDE_SHIFT == 128,
               "the descriptor's words as push() writes them");

/* *t = a push of `lines` whole lines from src here to dst at core (x, y), adding signal there
   when the last has landed; then next. The same descriptor d1_dma_fill and d1_dma_remote make,
   written as its eight 64-bit words (a quarter of the scalar core's stores, no bit-field
   read-modify-writes: the plan is the scalar core's work). */
static inline void push(d1_dma_desc *t, unsigned long src, unsigned long dst, unsigned lines,
                        unsigned x, unsigned y, unsigned long signal, const d1_dma_desc *next)
{
    uint64_t *w = (uint64_t *)t;
    w[0] = (uint32_t)src | (uint64_t)(uint32_t)dst << 32;
    w[1] = 0;
    w[2] = LINE | (uint64_t)D1_ADDR(next) << 32;
    w[3] = W3(ROWS, 1) | W3(ELEMS, lines) | W3(ELEM_BYTES, 2) | W3(LOCAL, 0) | W3(DST_X, x)
           | W3(DST_Y, y) | W3(SIGNAL, signal);
    w[4] = w[5] = w[6] = w[7] = 0;
}

/* Rank k's part of piece p of this core's chunk: slot k of recv, or the own input. */
static inline unsigned long part(unsigned me, unsigned k, unsigned p)
{
    if (k == me)
        return line_of(INPUT(me), CHUNK_START(me) + piece_at(p));
    return line_of(recv[k], piece_at(p));
}

/* The adds of piece p in the fixed order, each input waited for here. */
static void reduce_piece(unsigned me, unsigned p)
{
    unsigned lines = piece_lines(me, p), first = CHUNK_START(me) + piece_at(p);
    unsigned long sum = line_of(acc, piece_at(p));
    for (unsigned k = 1; k < P; k++) {
        /* the inputs' waits as late as possible: the earlier steps' adds are queued by then */
        for (unsigned w = k == 1 ? 0 : k; w <= k; w++)
            if (w != me)
                d1_swait(w, p + 1);
        unsigned long a = k == 1 ? part(me, 0, p) : sum, b = part(me, k, p);
        if (k == P - 1)
            add_lines(line_of(result, first), a, b, lines, 0);
        add_lines(sum, a, b, lines, k == P - 1 ? d1_signal(me, 1) : 0);
    }
}

/* The list that pushes piece p of this core's sum (in acc) to every other live core's result:
   gather[p][0..P-2], linked. */
static void plan_gather(unsigned me, unsigned p)
{
    d1_dma_desc *list = gather[p];
    unsigned long src = line_of(acc, piece_at(p));
    unsigned long dst = line_of(result, CHUNK_START(me) + piece_at(p));
    for (unsigned k = 0, n = 0; k < P; k++)
        if (k != me) {
            push(&list[n], src, dst, piece_lines(me, p), rank_x[k], rank_y[k], d1_signal(me, 1),
                 n + 2 < P ? &list[n + 1] : 0);
            n++;
        }
}

/* The reduce-scatter's list, piece-major, owners from me + 1 round; its length. */
static unsigned plan_scatter(unsigned me)
{
    unsigned n = 0;
    for (unsigned p = 0; p < PMAX; p++)
        for (unsigned i = 1; i < P; i++) {
            unsigned j = (me + i) % P;
            if (p >= (unsigned)PIECES(j))
                continue;
            unsigned lines = CHUNK_LINES(j) - p * PIECE;
            if (n)
                scatter[n - 1].next = D1_ADDR(&scatter[n]);
            push(&scatter[n], line_of(INPUT(me), CHUNK_START(j) + p * PIECE),
                 line_of(recv[me], p * PIECE), lines < PIECE ? lines : PIECE, rank_x[j],
                 rank_y[j], d1_signal(me, 1), 0);
            n++;
        }
    return n;
}

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
    unsigned width = d1_place.width, height = d1_place.height, live = d1_place.live;
    unsigned here = d1_place.y * width + d1_place.x, me = 0, count = 0, c = 0;
    for (unsigned y = 0; y < height; y++)       /* no division: the scalar core's is slow */
        for (unsigned x = 0; x < width; x++, c++) {
            if (!(live >> c & 1))
                continue;
            if (c == here)
                me = count;
            if (count < P) {
                rank_x[count] = x;
                rank_y[count] = y;
            }
            count++;
        }
    if (count != P)
        return 1;
    unsigned pushes = plan_scatter(me), pieces = PIECES(me);
    if (P > 1)
        for (unsigned p = 0; p < pieces; p++)
            plan_gather(me, p);
    d1_vsetstride(d1_vstrides(LINE, LINE, 0, LINE));

    /* the all-reduce */
#ifdef REPORT
    uint64_t c0[REPORT_N - 3], c1[REPORT_N - 3];
    counters(c0);
#endif
    unsigned long t0 = d1_rdctr(D1_CTR_CYCLES);
    if (pushes)
        d1_dma(&scatter[0]);
    for (unsigned p = 0; p < pieces; p++) {
        reduce_piece(me, p);
        if (p > 0 && P > 1) {
            d1_swait(me, p);
            d1_dma(&gather[p - 1][0]);
        }
    }
    if (pieces > 0 && P > 1) {
        d1_swait(me, pieces);
        d1_dma(&gather[pieces - 1][0]);
    }
    for (unsigned k = 0; k < P; k++)
        if (k != me)
            d1_swait(k, pieces + PIECES(k));
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
    unsigned i = first_difference(P == 1 ? INPUT(0) : result);
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
