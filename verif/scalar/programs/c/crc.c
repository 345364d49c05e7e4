/* CRC-32 (IEEE 802.3: reflected, polynomial 0xEDB88320, initial value and final xor all ones),
   table-driven, of N pseudo-random bytes. Every phase is split over WORKERS threads: building
   the 256-entry table; generating a share of the buffer and computing its CRC, which also checks
   the table against a bit-at-a-time CRC of the share's first bytes, and multiplying the CRC by
   x^(8m) modulo the polynomial, m the bytes after the share (zlib's crc32_combine, split), so
   that thread 0 only xors the results. Tests: 1, the
   catalogue check value CRC-32("123456789") = 0xCBF43926; 2, the buffer's CRC equals BUFFER_CRC
   (Python's zlib.crc32 over the same bytes; tests/scalar/test_programs.py recomputes it); 3,
   the bit-at-a-time CRCs agree with the table. */

#include "common.h"

#define N 1024
#define POLY 0xEDB88320u
#define BUFFER_CRC 0x7f20d9e7u

static unsigned char buffer[N];
static unsigned int table[256];
static unsigned int part_crc[WORKERS];

static unsigned int crc32(unsigned int crc, const unsigned char *p, long n)
{
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static unsigned int crc32_bitwise(const unsigned char *p, long n)
{
    unsigned int crc = ~0u;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ POLY : crc >> 1;
    }
    return ~crc;
}

/* a * b modulo the polynomial, in the reflected bit order (bit 31 is x^0). */
static unsigned int multmodp(unsigned int a, unsigned int b)
{
    unsigned int m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
    }
    return p;
}

static unsigned int x8pow2[16];          /* x^(8 * 2^j) modulo the polynomial */

/* x^(8 * n) modulo the polynomial, from the powers in x8pow2 (n < 2^16). */
static unsigned int x8nmodp(unsigned long n)
{
    unsigned int p = 1u << 31;                  /* x^0 */
    for (int j = 0; n; j++, n >>= 1)
        if (n & 1)
            p = multmodp(x8pow2[j], p);
    return p;
}

/* Worker k's share of the table; the last worker also squares its way through x8pow2. */
static long build_table(long k)
{
    for (long i = SHARE_BEGIN(k, 256); i < SHARE_END(k, 256); i++) {
        unsigned int c = (unsigned int)i;
        for (int b = 0; b < 8; b++)
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table[i] = c;
    }
    if (k == WORKERS - 1) {
        unsigned int sq = 1u << 23;             /* x^8 */
        for (int j = 0; 1l << j < N; j++) {
            x8pow2[j] = sq;
            sq = multmodp(sq, sq);
        }
    }
    return 0;
}

/* Generate and CRC worker k's share, shifted past the bytes after it; 1 if the bit-at-a-time
   CRC of the share's start disagrees with the table. */
static long crc_share(long k)
{
    long lo = SHARE_BEGIN(k, N), hi = SHARE_END(k, N);
    for (long i = lo; i < hi; i++)
        buffer[i] = (unsigned char)(mix(i) >> 56);
    part_crc[k] = multmodp(x8nmodp(N - hi), crc32(0, buffer + lo, hi - lo));
    return crc32_bitwise(buffer + lo, 32) != crc32(0, buffer + lo, 32);
}

int main(void)
{
    static const unsigned char check[] = "123456789";
    run_workers(build_table);
    if (crc32(0, check, 9) != 0xCBF43926u)
        return 1;
    long bad = run_workers(crc_share);
    unsigned int crc = 0;
    for (int k = 0; k < WORKERS; k++)
        crc ^= part_crc[k];
    if (crc != BUFFER_CRC)
        return 2;
    if (bad)
        return 3;
    return 0;
}
