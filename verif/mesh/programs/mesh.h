/* Shared by the mesh's C programs (verif/mesh/programs, docs/mesh.md): the core's place, which
   the host writes into each core's copy of the image before it starts the cores, and remote DMA
   descriptors. */

#ifndef D1_MESH_PROGRAMS_MESH_H
#define D1_MESH_PROGRAMS_MESH_H

#include "d1.h"

/* This core's coordinates and the mesh's size (verif/mesh/programs/__init__.py: PLACE_SYMBOL). */
volatile struct {
    uint32_t x, y, width, height;
} d1_place __attribute__((aligned(64)));

/* Make *t (filled by d1_dma_fill) a push to core (x, y): its dst is an address there, and its
   signal is added there when its last byte has landed. */
static inline void d1_dma_remote(d1_dma_desc *t, unsigned x, unsigned y)
{
    t->local = 0;
    t->dst_x = x;
    t->dst_y = y;
}

#endif
