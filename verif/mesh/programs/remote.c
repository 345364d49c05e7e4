/* Issue 18, milestone 2 (docs/mesh.md): the network instructions and their error paths on a 2x2
   mesh, with core (1, 0) live or dead (the host holds a dead core in reset and does not load
   it; d1_place.live says which cores live). Core (0, 0) issues, checking each answer:

   1. d1.snotify to (0, 1): 3 added to its semaphore 5; the fence waits for the answer; the
      network's error register stays clear.
   2. d1.snotify to (1, 0): as 1 when it lives; when dead, the router answers: REMOTE, address
      its coordinates (1 | 0 << 4).
   3. d1.snotify to (3, 3), outside the mesh: REMOTE, address 0x33.
   4. A 2-line push to (1, 0), adding 1 to its semaphore 3: clean when it lives; when dead the
      DMA's error register has REMOTE and the descriptor's address.
   5. A push to (1, 1) whose destination is no scratchpad address: refused at the source
      (RANGE, the descriptor's address: every core's scratchpad is the same), its signal
      delivered here (semaphore 7).
   6. A 2-line push to (1, 1) adding 1 to its semaphore 3, the fence, then a d1.snotify there
      adding 1 to its semaphore 4 ("all sent": after the fence, so after the lines landed).

   Each other live core checks what it was sent, bit for bit, and answers (0, 0) with a
   d1.snotify adding 1 to its semaphore 6; (0, 0) waits for one per other live core. Every
   core returns 0 (tohost 1) when all is as above, a distinct code otherwise. */

#include "mesh.h"

uint64_t block[4][8] __attribute__((aligned(64)));
uint64_t landed[2][8] __attribute__((aligned(64)));
d1_dma_desc push[3];

/* Word j of line i: every byte differs from its neighbours' and other lines'. */
static uint64_t pattern(unsigned i, unsigned j)
{
    return (0x0101010101010101ull * (i * 8 + j + 1)) ^ 0x8040201008040201ull;
}

/* The network's error register after the fence: `want` (0: clear). */
static int net_status_is(unsigned long want)
{
    d1_fence();
    return d1_status(D1_STATUS_NETWORK) == want;
}

static int issuer(void)
{
    int dead = !d1_live(1, 0);
    unsigned others = 0;
    for (unsigned y = 0; y < 2; y++)
        for (unsigned x = 0; x < 2; x++)
            others += (x | y) && d1_live(x, y);
    for (unsigned i = 0; i < 4; i++)
        for (unsigned j = 0; j < 8; j++)
            block[i][j] = pattern(i, j);

    d1_snotify(0, 1, d1_signal(5, 3));
    if (!net_status_is(0))
        return 10;
    d1_snotify(1, 0, d1_signal(5, 1));
    if (!net_status_is(dead ? D1_ERR_REMOTE | 1ul << 32 : 0))
        return 11;
    d1_snotify(3, 3, d1_signal(5, 1));
    if (!net_status_is(D1_ERR_REMOTE | 0x33ul << 32))
        return 12;

    d1_dma_fill(&push[0], block, landed, 0, 0, 64, 1, 2, 2, d1_signal(3, 1));
    d1_dma_remote(&push[0], 1, 0);
    d1_dma(&push[0]);
    d1_fence();
    if (d1_status(2) != (dead ? D1_ERR_REMOTE | (unsigned long)D1_ADDR(&push[0]) << 32 : 0))
        return 13;

    d1_dma_fill(&push[1], block, (void *)0x80200000ul, 0, 0, 64, 1, 2, 2, d1_signal(7, 1));
    d1_dma_remote(&push[1], 1, 1);
    d1_dma(&push[1]);
    d1_fence();
    if (d1_status(2) != (D1_ERR_RANGE | (unsigned long)D1_ADDR(&push[1]) << 32)
        || d1_sread(7) != 1)
        return 14;

    d1_dma_fill(&push[2], block[2], landed, 0, 0, 64, 1, 2, 2, d1_signal(3, 1));
    d1_dma_remote(&push[2], 1, 1);
    d1_dma(&push[2]);
    d1_fence();
    if (d1_status(2) != 0)
        return 15;
    d1_snotify(1, 1, d1_signal(4, 1));
    if (!net_status_is(0))
        return 16;

    if (d1_swait(6, others) != others || d1_sread(5) != 0 || d1_sread(3) != 0)
        return 17;
    return 0;
}

/* A receiving core: wait for `sem` to reach `want` (exactly), check `lines` lines of `landed`
   against block line `first` on, then answer (0, 0). */
static int receiver(unsigned sem, unsigned want, unsigned first, unsigned lines, int code)
{
    if (d1_swait(sem, want) != want)
        return code;
    for (unsigned i = 0; i < lines; i++)
        for (unsigned j = 0; j < 8; j++)
            if (landed[i][j] != pattern(first + i, j))
                return code + 1;
    d1_snotify(0, 0, d1_signal(6, 1));
    return net_status_is(0) ? 0 : code + 2;
}

int main(void)
{
    unsigned x = d1_place.x, y = d1_place.y;
    if (x == 0 && y == 0)
        return issuer();
    if (x == 0 && y == 1)
        return receiver(5, 3, 0, 0, 20);
    if (x == 1 && y == 0) {
        /* the add of step 2, then the push of step 4 */
        if (d1_swait(5, 1) != 1)
            return 30;
        return receiver(3, 1, 0, 2, 31);
    }
    /* (1, 1): the push of step 6, then the add after it */
    if (d1_swait(3, 1) != 1 || d1_swait(4, 1) != 1)
        return 40;
    return receiver(4, 1, 2, 2, 41);
}
