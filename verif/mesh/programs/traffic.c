/* Random traffic between cores, checked by a scoreboard (issue 18's tests; the host side and
   the scoreboard: verif/mesh/traffic.py). The host writes each core a plan: DMA descriptors
   (pushes), in lists; each pushes a copy or a 2D gather of 8-, 16- or 64-byte elements from
   this core's `src` to a region of `dst` at a random live core (this one included), adding 1
   to semaphore 3 there when its last byte has landed; and `expect`, the number of pushes this
   core receives. Each core starts its lists (one DMA command each), waits until semaphore 3
   reaches `expect`, waits for the answers of its own pushes (d1.fence: a remote push completes
   with its destination's answer) and reads its DMA's error register. The host then reads every
   core's `dst` and compares it byte for byte with the scoreboard's: the regions are disjoint,
   so the order in which pushes arrive does not matter, and a byte no push writes must keep
   the value the host loaded. */

#include "mesh.h"

#define MAX_PUSHES 64
#define SRC_BYTES 4096
#define DST_BYTES 8192

volatile struct {
    uint32_t lists, expect;
    uint32_t first[MAX_PUSHES]; /* index in pushes[] of each list's first descriptor */
} plan __attribute__((aligned(64)));
d1_dma_desc pushes[MAX_PUSHES];
uint8_t src[SRC_BYTES] __attribute__((aligned(64)));
uint8_t dst[DST_BYTES] __attribute__((aligned(64)));

int main(void)
{
    for (unsigned i = 0; i < plan.lists; i++)
        d1_dma(&pushes[plan.first[i]]);
    if (d1_swait(3, plan.expect) != plan.expect)
        return 2;
    d1_fence();
    return d1_status(2) == 0 ? 0 : 1;
}
