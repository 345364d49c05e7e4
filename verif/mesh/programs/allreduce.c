/* Issue 18 (docs/mesh.md, "All-reduce"): every live core holds an FP32 array x_r of N elements
   (r its rank: the live cores numbered in core-number order, y * width + x); afterwards every
   live core holds the same sum, added in one fixed order: ((x_0 + x_1) + x_2) + ... + x_{P-1},
   each + one FP32 add of the vector unit (IEEE, round to nearest even). verif/mesh/allreduce.py
   is the host side: the build (the -D flags below), the inputs and the same order in numpy.

   Algorithm: reduce-scatter, then all-gather. The array's L = ceil(N/16) lines are cut into P
   chunks, chunk j = lines [j·L/P, (j+1)·L/P) (rounded down), owned by rank j, and each chunk
   into pieces of at most PIECE lines.
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
   largest chunk's lines; REPORT: end with the timing instead of the plain pass (below). The
   data (ar_inputs[P][L·16], the live ranks' inputs; ar_expected[L·16]) come from a generated
   source file linked beside this one (the host cannot write one core's memory alone yet).

   Result (tohost): main returns 0 (pass) or 1: the live cores are not P; 2: a DMA error
   (d1_status); 3 + i: element i differs from the expected sum. With REPORT a passing core
   ends with tohost = (t1 << 32 | t0) << 1 instead (even, so never a pass or failure code): t0
   and t1 the cycle counter at the first instruction and when the last piece had landed here;
   the counters of every core count from the same start (go). */

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

extern uint32_t ar_inputs[P][WORDS];
extern uint32_t ar_expected[1][WORDS];
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

/* Rank k's part of piece p of this core's chunk: slot k of recv, or the own input. */
static inline unsigned long part(unsigned me, unsigned k, unsigned p)
{
    if (k == me)
        return line_of(ar_inputs[me], CHUNK_START(me) + piece_at(p));
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

/* Push piece p of this core's sum (in acc) to every other live core's result. */
static void gather_piece(unsigned me, unsigned p)
{
    d1_dma_desc *list = gather[p];
    unsigned n = 0, first = CHUNK_START(me) + piece_at(p);
    for (unsigned k = 0; k < P; k++) {
        if (k == me)
            continue;
        d1_dma_fill(&list[n], (void *)line_of(acc, piece_at(p)), (void *)line_of(result, first),
                    0, 0, LINE, 1, piece_lines(me, p), 2, d1_signal(me, 1));
        d1_dma_remote(&list[n], rank_x[k], rank_y[k]);
        if (n)
            d1_dma_link(&list[n - 1], &list[n]);
        n++;
    }
    d1_dma(&list[0]);
}

/* The reduce-scatter's pushes, piece-major, owners from me + 1 round. */
static void scatter_all(unsigned me)
{
    unsigned n = 0;
    for (unsigned p = 0; p < PMAX; p++)
        for (unsigned i = 1; i < P; i++) {
            unsigned j = (me + i) % P;
            if (p >= (unsigned)PIECES(j))
                continue;
            unsigned lines = CHUNK_LINES(j) - p * PIECE;
            d1_dma_fill(&scatter[n], (void *)line_of(ar_inputs[me], CHUNK_START(j) + p * PIECE),
                        (void *)line_of(recv[me], p * PIECE), 0, 0, LINE, 1,
                        lines < PIECE ? lines : PIECE, 2, d1_signal(me, 1));
            d1_dma_remote(&scatter[n], rank_x[j], rank_y[j]);
            if (n)
                d1_dma_link(&scatter[n - 1], &scatter[n]);
            n++;
        }
    if (n)
        d1_dma(&scatter[0]);
}

int main(void)
{
    unsigned long t0 = d1_rdctr(D1_CTR_CYCLES);
    unsigned here = d1_place.y * d1_place.width + d1_place.x, me = 0, count = 0;
    for (unsigned c = 0; c < d1_place.width * d1_place.height; c++) {
        if (!(d1_place.live >> c & 1))
            continue;
        if (c == here)
            me = count;
        if (count < P) {
            rank_x[count] = c % d1_place.width;
            rank_y[count] = c / d1_place.width;
        }
        count++;
    }
    if (count != P)
        return 1;

    scatter_all(me);
    d1_vsetstride(d1_vstrides(LINE, LINE, 0, LINE));
    unsigned pieces = PIECES(me);
    for (unsigned p = 0; p < pieces; p++) {
        reduce_piece(me, p);
        if (p > 0 && P > 1) {
            d1_swait(me, p);
            gather_piece(me, p - 1);
        }
    }
    if (pieces > 0 && P > 1) {
        d1_swait(me, pieces);
        gather_piece(me, pieces - 1);
    }
    for (unsigned k = 0; k < P; k++)
        if (k != me)
            d1_swait(k, pieces + PIECES(k));
    unsigned long t1 = d1_rdctr(D1_CTR_CYCLES);
    d1_fence();
    if (d1_status(2) != 0 || d1_status(1) != 0)
        return 2;

    const uint32_t *sum = P == 1 ? ar_inputs[0] : result;
    for (unsigned i = 0; i < WORDS; i++)
        if (sum[i] != ar_expected[0][i])
            return 3 + i;
#ifdef REPORT
    __d1_exit((t1 << 32 | t0) << 1);
#else
    (void)t0;
    (void)t1;
#endif
    return 0;
}
