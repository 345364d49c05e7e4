/* A ring of pushes, for traffic and the simulation's speed (d1core run --mesh, docs/mesh.md):
   the live cores in core-number order form a ring; in each of ROUNDS rounds every core pushes
   an 8-line block to the next one (adding 1 to its semaphore 3 when the last byte landed),
   waits for the block from the previous one (semaphore 3 >= round + 1), checks every word of
   it and tells the previous one it may push again (d1.snotify, semaphore 4). A core pushes
   round r + 1 only when the next one has checked round r, so one buffer each way suffices. A
   ring of one core (1×1, or one live core) pushes to itself. */

#include "mesh.h"

#define ROUNDS 24

uint64_t out[8][8] __attribute__((aligned(64)));
uint64_t in[8][8] __attribute__((aligned(64)));
d1_dma_desc push;

static uint64_t pattern(unsigned core, unsigned round, unsigned i, unsigned j)
{
    return (0x0101010101010101ull * (i * 8 + j + 1)) ^ ((uint64_t)core << 56)
           ^ ((uint64_t)round << 40);
}

/* The live core after (step 1) or before (step -1) core n in core-number order. */
static unsigned neighbour(unsigned n, int step)
{
    unsigned cores = d1_place.width * d1_place.height;
    do
        n = (n + cores + step) % cores;
    while (!(d1_place.live >> n & 1));
    return n;
}

int main(void)
{
    unsigned w = d1_place.width, me = d1_place.y * w + d1_place.x;
    unsigned next = neighbour(me, 1), prev = neighbour(me, -1);
    for (unsigned r = 0; r < ROUNDS; r++) {
        if (r > 0 && d1_swait(4, r) < r)        /* the next core has checked round r - 1 */
            return 1;
        for (unsigned i = 0; i < 8; i++)
            for (unsigned j = 0; j < 8; j++)
                out[i][j] = pattern(me, r, i, j);
        d1_dma_fill(&push, out, in, 0, 0, 64, 1, 8, 2, d1_signal(3, 1));
        d1_dma_remote(&push, next % w, next / w);
        d1_dma(&push);
        d1_fence();
        if (d1_status(2) != 0)
            return 2;
        if (d1_swait(3, r + 1) < r + 1)
            return 3;
        for (unsigned i = 0; i < 8; i++)
            for (unsigned j = 0; j < 8; j++)
                if (in[i][j] != pattern(prev, r, i, j))
                    return 4;
        d1_snotify(prev % w, prev / w, d1_signal(4, 1));
    }
    d1_fence();
    return d1_status(D1_STATUS_NETWORK) == 0 ? 0 : 5;
}
