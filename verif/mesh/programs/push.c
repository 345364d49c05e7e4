/* Issue 18, milestone 1 (docs/mesh.md): core (0, 0) pushes a block to core (1, 1) with one DMA
   list of two remote descriptors, an 8-line copy and a 16-byte gather (2 rows of 4 elements,
   element stride 64: partial lines at the destination), each adding 1 to semaphore 3 at (1, 1)
   when its last byte has landed there; then it waits for their answers (d1.fence) and checks
   the DMA's error register. Core (1, 1) waits for semaphore 3 to reach 2 and checks every byte
   (as 8-byte words: a line is 8 of them). Every other core passes at once. The same image runs
   everywhere: `block` at (0, 0) is the source, `copied` and `gathered` at (1, 1) the
   destinations (the same addresses in every core). */

#include "mesh.h"

uint64_t block[16][8] __attribute__((aligned(64)));
uint64_t copied[8][8] __attribute__((aligned(64)));
uint64_t gathered[2][8] __attribute__((aligned(64)));
d1_dma_desc push[2];

/* Word j of line i of the block: every byte differs from its neighbours' and other lines'. */
static uint64_t pattern(unsigned i, unsigned j)
{
    return (0x0101010101010101ull * (i * 8 + j + 1)) ^ 0x8040201008040201ull;
}

static int sender(void)
{
    for (unsigned i = 0; i < 16; i++)
        for (unsigned j = 0; j < 8; j++)
            block[i][j] = pattern(i, j);
    d1_dma_fill(&push[0], block, copied, 0, 0, 64, 1, 8, 2, d1_signal(3, 1));
    d1_dma_fill(&push[1], block[8], gathered, 16, 64, 64, 2, 4, 1, d1_signal(3, 1));
    d1_dma_remote(&push[0], 1, 1);
    d1_dma_remote(&push[1], 1, 1);
    d1_dma_link(&push[0], &push[1]);
    d1_dma(&push[0]);
    d1_fence();
    return d1_status(2) == 0 ? 0 : 1;
}

static int receiver(void)
{
    if (d1_swait(3, 2) != 2)
        return 2;
    for (unsigned i = 0; i < 8; i++)
        for (unsigned j = 0; j < 8; j++)
            if (copied[i][j] != pattern(i, j))
                return 3;
    /* element e of row r: the 16 bytes (2 words) at block[8] + r * 16 + e * 64, packed at row
       r: words 2e, 2e + 1 of gathered[r] are words 2r, 2r + 1 of block[8 + e] */
    for (unsigned r = 0; r < 2; r++)
        for (unsigned e = 0; e < 4; e++)
            for (unsigned k = 0; k < 2; k++)
                if (gathered[r][2 * e + k] != pattern(8 + e, 2 * r + k))
                    return 4;
    return 0;
}

int main(void)
{
    if (d1_place.x == 0 && d1_place.y == 0)
        return sender();
    if (d1_place.x == 1 && d1_place.y == 1)
        return receiver();
    return 0;
}
