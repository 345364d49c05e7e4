/* Kernel 1 (first form): one GEMM block on one core, operands already in the engine's layout.

   D (M×N FP32, row-major) = A·B, A given as Aᵀ (K×M, row-major) and B (K×N, row-major), both
   BF16 or, with -DCFP8, CFP8 1-4-3 × CFP8 1-5-2 (bias 7 and 15). The host places Aᵀ and B
   (verif/core/kernels/__init__.py fills the arrays in the image); the kernel fills one
   descriptor, queues the block, sleeps on its semaphore and records in d1_result:
     [0] cycles from the first instruction of the kernel to the block's signal (the last byte of
         D written), [1] the matrix unit's busy cycles, [2] its cycles waiting on a port,
     [3] waiting for operands, [4] held by backpressure, [5] idle, [6] the error register.
   M, N, K come from -D flags; strides are the rows rounded up to whole 64-byte lines. */

#include "gemm.h"

#define LDA LINE_UP(M * sizeof(elem_t))
#define LDB LINE_UP(N * sizeof(elem_t))
#define LDD LINE_UP(N * 4)

elem_t at[K][LDA / sizeof(elem_t)] __attribute__((aligned(64)));
elem_t b[K][LDB / sizeof(elem_t)] __attribute__((aligned(64)));
uint32_t d[M][LDD / 4] __attribute__((aligned(64)));
volatile uint64_t d1_result[8] __attribute__((aligned(64)));
d1_gemm_desc desc;

int main(void)
{
    unsigned long t0 = d1_rdctr(D1_CTR_CYCLES);
#ifdef CFP8
    d1_mcfg(GEMM_OPERANDS, 0);
#endif
    d1_gemm_fill(&desc, at, b, 0, d, LDA, LDB, 0, LDD, M, N, K, 0);
    d1_sset(0, 0);
    d1_mgemm(&desc, d1_signal(0, 1));
    d1_swait(0, 1);
    unsigned long t1 = d1_rdctr(D1_CTR_CYCLES);
    d1_result[0] = t1 - t0;
    for (int c = 0; c < 5; c++)
        d1_result[1 + c] = d1_rdctr(c);
    d1_result[6] = d1_status(0);
    return d1_result[6] != 0;
}
