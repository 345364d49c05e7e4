/* Shared by the mesh's C programs (verif/mesh/programs, docs/mesh.md): the core's place, which
   the host writes into each core's copy of the image before it starts the cores, and remote DMA
   descriptors. */

#ifndef D1_MESH_PROGRAMS_MESH_H
#define D1_MESH_PROGRAMS_MESH_H

#include "d1.h"

/* This core's coordinates, the mesh's size and its live cores, bit y * width + x (dead cores
   are held in reset and not loaded: verif/mesh/programs/__init__.py, PLACE_SYMBOL). */
volatile struct {
    uint32_t x, y, width, height, live;
} d1_place __attribute__((aligned(64)));

/* Whether core (x, y) is in the mesh and live. */
static inline int d1_live(unsigned x, unsigned y)
{
    return x < d1_place.width && y < d1_place.height
           && (d1_place.live >> (y * d1_place.width + x) & 1);
}

/* d1.snotify: add signal (d1_signal) to the semaphores of core (x, y), directly: a queued
   command that completes with that core's answer (d1_fence waits for it); a failure (a dead
   core, one outside the mesh) is in d1_status(D1_STATUS_NETWORK): REMOTE | (x | y << 4) << 32.
   Not ordered against this thread's pushes: fence first to signal after them. */
static inline void d1_snotify(unsigned x, unsigned y, unsigned long signal)
{
    __asm__ volatile(D1_INSN(D1_OP_SYNC, D1_F3_SNOTIFY, 0) "x0, %0, %1"
                     : : "r"((unsigned long)(x | y << 4)), "r"(signal) : "memory");
}

/* Make *t (filled by d1_dma_fill) a push to core (x, y): its dst is an address there, and its
   signal is added there when its last byte has landed. */
static inline void d1_dma_remote(d1_dma_desc *t, unsigned x, unsigned y)
{
    t->local = 0;
    t->dst_x = x;
    t->dst_y = y;
}

/* Make *t (filled by d1_dma_fill) a multicast push to every core of the rectangle
   (x0, y0)..(x1, y1), corners included (this core too, if inside): its dst is the same
   address in each, and its signal is added in each when its last byte has landed there. No
   core answers it: its Done comes when its packets have left (a d1_fence does not wait for
   them to land), and a refused line is counted at its destination, not reported here
   (docs/mesh.md, "Multicast pushes"). */
static inline void d1_dma_multicast(d1_dma_desc *t, unsigned x0, unsigned y0, unsigned x1,
                                    unsigned y1)
{
    t->local = 0;
    t->mcast = 1;
    t->rect_x = x0;
    t->rect_y = y0;
    t->dst_x = x1;
    t->dst_y = y1;
}

#endif
