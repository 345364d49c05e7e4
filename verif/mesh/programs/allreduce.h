/* The all-reduce of an FP32 array over every live core (issue 18; docs/mesh.md, "All-reduce"),
   shared by allreduce.c (the program that runs it once and checks it) and train.c (the
   training step, which all-reduces its gradients once a step). verif/mesh/allreduce.py is the
   host side and the numpy model of the order.

   Every live core holds an FP32 array x_r of N elements (r its rank: the live cores numbered in
   core-number order, y * width + x); afterwards every live core holds the same sum in `result`,
   added in one fixed order: ((x_0 + x_1) + x_2) + ... + x_{P-1}, each + one FP32 add of the
   vector unit (IEEE, round to nearest even).

   Algorithm: reduce-scatter, then all-gather. The array's L = ceil(N/16) lines are cut into P
   chunks, chunk j = lines [j·L/P, (j+1)·L/P) (rounded down), owned by rank j, and each chunk
   into pieces of at most PIECE lines.
   0. The plan (ar_plan, once per array and set of live cores as a collective library's plan):
      the ranks from d1_place and every DMA descriptor below.
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
      reduce-scatter's) plus those of chunk k (the all-gather's: they follow on one path).
   The all-gather pushes from `acc`, not from the result, because the DMA engine holds a
   descriptor whose source overlaps an earlier remote descriptor's destination taken as a local
   address (docs/mesh.md): pushing the result to the same address elsewhere would serialise the
   P - 1 pushes of a piece on their answers.

   Semaphores: k (any rank but me) counts arrivals from rank k; me counts this core's finished
   pieces. So P <= 16 (D1_SEMAPHORES); a program that runs the all-reduce uses semaphores 0 ..
   P - 1 for it and no others. They are never reset: run `round` t (0, 1, ...) waits for the
   counts of t earlier runs plus its own, so a core that starts run t + 1 early (its pushes
   arriving while this core is still in run t's last waits or in its own work between runs)
   is counted in run t + 1, not t. A reset would race with such pushes.

   Reuse between runs (train.c): the input, `result`, `recv` and `acc` are reused. It is safe
   without a barrier: a core pushes into rank j's recv for run t + 1 only after it has received
   every chunk's sum of run t, so rank j has finished reading its recv and acc of run t (it
   pushed its sum from acc after its adds); and the caller must have finished reading `result`
   and fenced (its own pushes of run t answered, so their sources were read) before it starts
   run t + 1 or rewrites the input.

   The includer defines N (elements), P (live cores), PIECE (lines per piece), CMAX (the
   largest chunk's lines) and AR_INPUT(r) (rank r's input array, uint32_t[WORDS], 64-byte
   aligned; used for r = me only), and sets the vector strides to d1_vstrides(LINE, LINE, 0,
   LINE) before ar_run (it issues plain FP32 adds of consecutive lines). */

#ifndef D1_MESH_PROGRAMS_ALLREDUCE_H
#define D1_MESH_PROGRAMS_ALLREDUCE_H

#include "mesh.h"

#define LINE 64
#define LANES 16
#define L ((N + LANES - 1) / LANES)
#define WORDS (L * LANES)
#define CHUNK_START(j) ((j) * L / P)
#define CHUNK_LINES(j) (CHUNK_START((j) + 1) - CHUNK_START(j))
#define PIECES(j) ((CHUNK_LINES(j) + PIECE - 1) / PIECE)
#define PMAX ((CMAX + PIECE - 1) / PIECE)

_Static_assert(P >= 1 && P <= D1_SEMAPHORES, "a semaphore per rank");
_Static_assert(PIECE >= 1 && PIECE * LINE <= 32767, "a piece's lines in one VOP");
_Static_assert(CMAX == (L + P - 1) / P, "CMAX is the largest chunk");

uint32_t result[WORDS] __attribute__((aligned(64)));
uint32_t recv[P][CMAX * LANES] __attribute__((aligned(64)));
uint32_t acc[CMAX * LANES] __attribute__((aligned(64)));
/* the reduce-scatter's list, then one list of P - 1 pushes per piece of this core's chunk */
d1_dma_desc scatter[(P - 1) * PMAX + 1];
d1_dma_desc gather[PMAX][P];

static unsigned rank_x[P], rank_y[P];

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
        return line_of(AR_INPUT(me), CHUNK_START(me) + piece_at(p));
    return line_of(recv[k], piece_at(p));
}

/* What semaphore k (k != me) counted in `round` earlier runs: rank k's pieces of this core's
   chunk and its own chunk's. */
static inline unsigned ar_base(unsigned me, unsigned k, unsigned round)
{
    return round * (PIECES(me) + PIECES(k));
}

/* The adds of piece p in the fixed order, each input waited for here. */
static void reduce_piece(unsigned me, unsigned p, unsigned round)
{
    unsigned lines = piece_lines(me, p), first = CHUNK_START(me) + piece_at(p);
    unsigned long sum = line_of(acc, piece_at(p));
    for (unsigned k = 1; k < P; k++) {
        /* the inputs' waits as late as possible: the earlier steps' adds are queued by then */
        for (unsigned w = k == 1 ? 0 : k; w <= k; w++)
            if (w != me)
                d1_swait(w, ar_base(me, w, round) + p + 1);
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
            push(&scatter[n], line_of(AR_INPUT(me), CHUNK_START(j) + p * PIECE),
                 line_of(recv[me], p * PIECE), lines < PIECE ? lines : PIECE, rank_x[j],
                 rank_y[j], d1_signal(me, 1), 0);
            n++;
        }
    return n;
}

/* This core's rank (*me) from d1_place, filling rank_x and rank_y; the number of live cores
   (the program needs it to be P). */
static unsigned ar_ranks(unsigned *me)
{
    unsigned width = d1_place.width, height = d1_place.height, live = d1_place.live;
    unsigned here = d1_place.y * width + d1_place.x, count = 0, c = 0;
    *me = 0;
    for (unsigned y = 0; y < height; y++)       /* no division: the scalar core's is slow */
        for (unsigned x = 0; x < width; x++, c++) {
            if (!(live >> c & 1))
                continue;
            if (c == here)
                *me = count;
            if (count < P) {
                rank_x[count] = x;
                rank_y[count] = y;
            }
            count++;
        }
    return count;
}

/* The plan: every descriptor of the all-reduce (the ranks found); the scatter list's
   length. */
static unsigned ar_plan(unsigned me)
{
    unsigned pushes = plan_scatter(me);
    if (P > 1)
        for (unsigned p = 0; p < (unsigned)PIECES(me); p++)
            plan_gather(me, p);
    return pushes;
}

/* Run `round` of the all-reduce (0 for the first; see above), `pushes` the scatter list's
   length: returns when every piece of the sum has landed in this core's result. Its own pushes
   may still await their answers (d1_fence). */
static void ar_run(unsigned me, unsigned pushes, unsigned round)
{
    unsigned pieces = PIECES(me), done = round * pieces;
    if (pushes)
        d1_dma(&scatter[0]);
    for (unsigned p = 0; p < pieces; p++) {
        reduce_piece(me, p, round);
        if (p > 0 && P > 1) {
            d1_swait(me, done + p);
            d1_dma(&gather[p - 1][0]);
        }
    }
    if (pieces > 0 && P > 1) {
        d1_swait(me, done + pieces);
        d1_dma(&gather[pieces - 1][0]);
    }
    for (unsigned k = 0; k < P; k++)
        if (k != me)
            d1_swait(k, ar_base(me, k, round + 1));
}

#endif
