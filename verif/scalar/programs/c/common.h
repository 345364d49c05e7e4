/* Shared by the C programs: the data generator (tests/scalar/test_programs.py reproduces it in
   Python to check the constants the programs compare against) and the work split. */

#ifndef D1_PROGRAMS_COMMON_H
#define D1_PROGRAMS_COMMON_H

#include "d1.h"

#ifndef WORKERS
#error "WORKERS (the number of threads sharing the work) must be defined: sim/riscv.py does"
#endif

/* The SplitMix64 output function of i + 1: a pseudo-random 64-bit value per index, so every
   thread generates its own part of the data without a shared generator state. */
static inline unsigned long mix(unsigned long i)
{
    unsigned long z = (i + 1) * 0x9E3779B97F4A7C15ul;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBul;
    return z ^ (z >> 31);
}

/* The first and one-past-last index of worker k's share of n items. */
#define SHARE_BEGIN(k, n) ((k) * (n) / WORKERS)
#define SHARE_END(k, n) (((k) + 1) * (n) / WORKERS)

/* One parallel phase: fn(k) for k = 0 .. WORKERS - 1, k >= 1 on hardware threads 1.. when they
   exist (else here, in turn), k = 0 here; returns when all are done, with the sum of the
   results. */
static inline long run_workers(d1_thread_fn fn)
{
    int started[WORKERS > 1 ? WORKERS : 1] = {0};
    long sum = 0;
    for (int k = 1; k < WORKERS; k++)
        started[k] = d1_thread_start(k, fn, k);
    for (int k = 1; k < WORKERS; k++)
        if (!started[k])
            sum += fn(k);
    sum += fn(0);
    for (int k = 1; k < WORKERS; k++)
        if (started[k])
            sum += d1_thread_join(k);
    return sum;
}

#endif
