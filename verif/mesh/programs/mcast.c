/* Issue 18, multicast pushes (docs/mesh.md, "Multicast pushes"), on a 2×2 mesh: core (0, 0)
   pushes its 4-line block to its row, (0, 0) and (1, 0), as `row`, adding 1 to semaphore 3 at
   each; core (1, 1) pushes its own block to its column, (1, 0) and (1, 1), as `column`, adding
   1 to semaphore 4 at each. One descriptor each: the routers fork the packets. Every core of
   the row waits for semaphore 3 and checks `row` word for word, every core of the column
   semaphore 4 and `column` ((1, 0) both); the senders also check that their DMA saw no error.
   (0, 1) is in neither and passes at once (the host checks that nothing reached it). */

#include "mesh.h"

uint64_t block[4][8] __attribute__((aligned(64)));
uint64_t row[4][8] __attribute__((aligned(64)));
uint64_t column[4][8] __attribute__((aligned(64)));
d1_dma_desc push;

/* Word j of line i of sender s's block. */
static uint64_t pattern(unsigned s, unsigned i, unsigned j)
{
    return (0x0101010101010101ull * (i * 8 + j + 1)) ^ (0x8040201008040201ull << s);
}

static int send(unsigned s, unsigned x0, unsigned y0, unsigned x1, unsigned y1, void *to,
                unsigned sem)
{
    for (unsigned i = 0; i < 4; i++)
        for (unsigned j = 0; j < 8; j++)
            block[i][j] = pattern(s, i, j);
    d1_dma_fill(&push, block, to, 0, 0, 64, 1, 4, 2, d1_signal(sem, 1));
    d1_dma_multicast(&push, x0, y0, x1, y1);
    d1_dma(&push);
    d1_fence();
    return d1_status(2) == 0 ? 0 : 1;
}

static int check(unsigned s, uint64_t (*got)[8], unsigned sem)
{
    if (d1_swait(sem, 1) != 1)
        return 2;
    for (unsigned i = 0; i < 4; i++)
        for (unsigned j = 0; j < 8; j++)
            if (got[i][j] != pattern(s, i, j))
                return 3;
    return 0;
}

int main(void)
{
    unsigned x = d1_place.x, y = d1_place.y;
    int bad = 0;
    if (x == 0 && y == 0)
        bad = send(0, 0, 0, 1, 0, row, 3);
    if (x == 1 && y == 1)
        bad = send(1, 1, 0, 1, 1, column, 4);
    if (!bad && y == 0)
        bad = check(0, row, 3);
    if (!bad && x == 1)
        bad = check(1, column, 4);
    return bad;
}
