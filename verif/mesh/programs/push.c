/* Issue 18, milestone 1 (docs/mesh.md): core (0, 0) pushes a block to core (1, 1) with one DMA
   list of two remote descriptors, an 8-line copy and a 16-byte gather (2 rows of 4 elements,
   element stride 64: partial lines at the destination), each adding 1 to semaphore 3 at (1, 1)
   when its last byte has landed there; then it waits for their answers (d1.fence) and checks
   the DMA's error register. Core (1, 1) waits for semaphore 3 to reach 2 and checks every byte.
   Every other core passes at once. The same image runs everywhere: `block` at (0, 0) is the
   source, `copied` and `gathered` at (1, 1) the destinations (same addresses in every core). */

#include "mesh.h"

uint8_t block[16][64] __attribute__((aligned(64)));
uint8_t copied[8][64] __attribute__((aligned(64)));
uint8_t gathered[2][64] __attribute__((aligned(64)));
d1_dma_desc push[2];

static uint8_t pattern(unsigned i, unsigned j)
{
    return (uint8_t)(i * 37 + j * 11 + 5);
}

static int sender(void)
{
    for (unsigned i = 0; i < 16; i++)
        for (unsigned j = 0; j < 64; j++)
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
        for (unsigned j = 0; j < 64; j++)
            if (copied[i][j] != pattern(i, j))
                return 3;
    /* element e of row r: 16 bytes from block[8] + r * 16 + e * 64, packed at row r */
    for (unsigned r = 0; r < 2; r++)
        for (unsigned e = 0; e < 4; e++)
            for (unsigned k = 0; k < 16; k++)
                if (gathered[r][e * 16 + k] != pattern(8 + e, r * 16 + k))
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
