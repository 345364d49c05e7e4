/* Integer matrix multiply C = A B of N x N 64-bit matrices with pseudo-random entries in
   -1000..999. Every phase is split over WORKERS threads by rows: generating A and B, computing
   C, computing B v, checking C v = A (B v) (Freivalds) and summing C. Tests: 1, Freivalds'
   check with v = (1, 2, ..., N); 2, the sum of C's entries equals C_SUM (numpy over the same
   matrices; tests/scalar/test_programs.py recomputes it). */

#include "common.h"

#define N 16
#define C_SUM (-1811831l)

static long a[N][N], b[N][N], c[N][N], bv[N];

static long generate(long k)
{
    for (long i = SHARE_BEGIN(k, N); i < SHARE_END(k, N); i++)
        for (long j = 0; j < N; j++) {
            a[i][j] = (long)(mix(2 * (i * N + j)) % 2000) - 1000;
            b[i][j] = (long)(mix(2 * (i * N + j) + 1) % 2000) - 1000;
        }
    return 0;
}

static long multiply(long k)
{
    for (long i = SHARE_BEGIN(k, N); i < SHARE_END(k, N); i++)
        for (long j = 0; j < N; j++) {
            long s = 0;
            for (long m = 0; m < N; m++)
                s += a[i][m] * b[m][j];
            c[i][j] = s;
        }
    return 0;
}

static long b_times_v(long k)
{
    for (long i = SHARE_BEGIN(k, N); i < SHARE_END(k, N); i++) {
        bv[i] = 0;
        for (long j = 0; j < N; j++)
            bv[i] += b[i][j] * (j + 1);
    }
    return 0;
}

/* 1 for each of worker k's rows where (C v)_i differs from (A (B v))_i. */
static long freivalds(long k)
{
    long bad = 0;
    for (long i = SHARE_BEGIN(k, N); i < SHARE_END(k, N); i++) {
        long cv = 0, abv = 0;
        for (long j = 0; j < N; j++) {
            cv += c[i][j] * (j + 1);
            abv += a[i][j] * bv[j];
        }
        bad += cv != abv;
    }
    return bad;
}

static long sum_rows(long k)
{
    long s = 0;
    for (long i = SHARE_BEGIN(k, N); i < SHARE_END(k, N); i++)
        for (long j = 0; j < N; j++)
            s += c[i][j];
    return s;
}

int main(void)
{
    run_workers(generate);
    run_workers(multiply);
    run_workers(b_times_v);
    if (run_workers(freivalds))
        return 1;
    if (run_workers(sum_rows) != C_SUM)
        return 2;
    return 0;
}
