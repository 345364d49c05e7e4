/* Shared by the core model's C programs (verif/core/programs): small exact values as BF16 and
   FP32 codes without floating point (the programs are integer-only), from the generator of
   tests/core/test_programs.py. */

#ifndef D1_CORE_PROGRAMS_COMMON_H
#define D1_CORE_PROGRAMS_COMMON_H

#include "d1.h"

/* The FP32 code of the integer v, |v| < 2**24 (exact). */
static inline uint32_t f32_of_int(long v)
{
    uint32_t sign = v < 0 ? 0x80000000u : 0;
    unsigned long m = v < 0 ? -v : v;
    int e = 0;
    if (m == 0)
        return sign;
    while (m >> (e + 1))
        e++;
    return sign | (uint32_t)(e + 127) << 23 | (uint32_t)((m << (23 - e)) & 0x7FFFFF);
}

/* The BF16 code of the integer v, |v| <= 256 (exact). */
static inline uint16_t bf16_of_int(long v)
{
    return f32_of_int(v) >> 16;
}

/* A small integer in -r..r from index i (tests/core/test_programs.py: small(i, r)). */
static inline long small(unsigned long i, long r)
{
    unsigned long z = (i + 1) * 0x9E3779B97F4A7C15ul;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul;
    z ^= z >> 31;
    return (long)(z % (unsigned long)(2 * r + 1)) - r;
}

#endif
