/* Shared by the GEMM kernels (gemm.c: operands in the engine's layout; gemm_rm.c: row-major
   operands, optionally with the fused epilogue): the element type of the operands and the
   line arithmetic. M, N, K (and CFP8) come from the build's -D flags
   (verif/core/kernels/__init__.py). */

#ifndef D1_KERNELS_GEMM_H
#define D1_KERNELS_GEMM_H

#include "d1.h"

#ifdef CFP8
typedef uint8_t elem_t;         /* CFP8 1-4-3 (A, bias 7) × CFP8 1-5-2 (B, bias 15) */
#define GEMM_OPERANDS d1_operands(D1_FMT_CFP8_143, 7, D1_FMT_CFP8_152, 15)
#else
typedef uint16_t elem_t;        /* BF16 × BF16 (the engine's reset configuration) */
#endif

/* Bytes rounded up to whole 64-byte lines: every row of every operand starts a line. */
#define LINE 64
#define LINE_UP(bytes) ((((bytes) + LINE - 1) / LINE) * LINE)

/* d1.swait with rd = x0: sleep until semaphore sem >= value, without its value. The value a
   wait answers is the semaphore's when the thread wakes, which signals of commands still in
   flight may have raised further: it depends on the timing (and the core model, whose units
   finish at issue, answers more). A wait whose value is not used discards it, so the retire
   trace holds nothing timing-dependent and the lockstep comparison with the model holds. */
static inline void d1_wait(unsigned long sem, unsigned long value)
{
    __asm__ volatile(D1_INSN(D1_OP_SYNC, D1_F3_SWAIT, 0) "x0, %0, %1"
                     : : "r"(sem), "r"(value) : "memory");
}

/* The counter of unit u (0 matrix, 1 vector, 2 DMA) for cause c (D1_CTR_UNIT_*). */
#define UNIT_CTR(u, c) (16 * (u) + (c))

#endif
