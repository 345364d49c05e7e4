/* A DMA list of two descriptors: a gather (2 rows of 4 elements of 16 bytes, element stride 64,
   row stride 16: column blocks of src into packed rows of dst) and a copy of 3 lines (elements
   of 64 bytes), each delivering its own signal to semaphore 2. */

#include "common.h"

uint8_t src[8][64] __attribute__((aligned(64)));
uint8_t gathered[2][128] __attribute__((aligned(64)));
uint8_t copied[3][64] __attribute__((aligned(64)));
d1_dma_desc list[2];

int main(void)
{
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 64; j++)
            src[i][j] = i * 64 + j + 7;
    d1_dma_fill(&list[0], src, gathered, 16, 128, 64, 2, 4, 1, d1_signal(2, 1));
    d1_dma_fill(&list[1], src[4], copied, 0, 0, 64, 1, 3, 2, d1_signal(2, 1));
    d1_dma_link(&list[0], &list[1]);
    d1_sset(2, 0);
    d1_dma(&list[0]);
    if (d1_swait(2, 2) != 2)
        return 1;
    d1_fence();
    return d1_status(2) == 0 ? 0 : 2;
}
