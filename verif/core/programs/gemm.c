/* One GEMM block through a descriptor: D = A·B + C, BF16 A (as Aᵀ) and B, FP32 C and D, M = 4,
   K = 8, N = 8; a second block without C into D2 after an MCFG to CFP8 1-4-3 × CFP8 1-5-2
   (bias 7 and 15), reading the same bytes as CFP8 codes. The test compares D and D2 with the
   matmul reference and numpy. */

#include "common.h"

#define M 4
#define K 8
#define N 8

uint16_t at[K][32] __attribute__((aligned(64)));    /* row k: column k of A */
uint16_t b[K][32] __attribute__((aligned(64)));
uint32_t c[M][16] __attribute__((aligned(64)));
uint32_t d[M][16] __attribute__((aligned(64)));
uint32_t d2[M][16] __attribute__((aligned(64)));
d1_gemm_desc desc, desc2;

int main(void)
{
    for (int k = 0; k < K; k++) {
        for (int i = 0; i < M; i++)
            at[k][i] = bf16_of_int(small(k * M + i, 4));
        for (int j = 0; j < N; j++)
            b[k][j] = bf16_of_int(small(1000 + k * N + j, 4));
    }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            c[i][j] = f32_of_int(small(2000 + i * N + j, 50));

    d1_sset(0, 0);
    d1_gemm_fill(&desc, at, b, c, d, 64, 64, 64, 64, M, N, K, 1);
    d1_mgemm(&desc, d1_signal(0, 1));
    d1_gemm_fill(&desc2, at, b, 0, d2, 64, 64, 0, 64, M, N, K, 0);
    d1_mcfg(d1_operands(D1_FMT_CFP8_143, 7, D1_FMT_CFP8_152, 15), 0);
    d1_mgemm(&desc2, d1_signal(0, 1));
    if (d1_swait(0, 2) != 2)
        return 1;
    if (d1_status(0) != 0)
        return 2;
    /* A refused block: k = 0. Its signal still arrives; the status names the descriptor. */
    desc.k = 0;
    d1_mgemm(&desc, d1_signal(1, 1));
    d1_swait(1, 1);
    if (d1_status(0) != (D1_ERR_FIELD | (unsigned long)D1_ADDR(&desc) << 32))
        return 3;
    return 0;
}
