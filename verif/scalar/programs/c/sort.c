/* Sorting: N pseudo-random 64-bit keys (with repeats) in ascending order. Every phase is split
   over WORKERS threads: each generates and quicksorts its share; then the sorted runs are merged
   pairwise, level by level, each merge's output divided among the workers by the merge-path
   split (a binary search for where the i-th output comes from). The program checks itself:
   test 1, the keys are in order; test 2, their sum and test 3, their xor are unchanged (nothing
   lost or duplicated); test 4, the first key is the minimum found while generating. */

#include "common.h"

#define N 256

static unsigned long keys[N], tmp[N];
static unsigned long *src = keys, *dst = tmp;
static long run_len;                    /* length of the sorted runs being merged */

static void quicksort(unsigned long *a, long lo, long hi)
{
    while (lo < hi) {
        unsigned long pivot = a[lo + (hi - lo) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                unsigned long t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        }
        if (j - lo < hi - i) {          /* recurse into the smaller part: bounded stack */
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
}

static unsigned long sums[WORKERS], xors[WORKERS], mins[WORKERS];

static long generate_and_sort(long k)
{
    long lo = SHARE_BEGIN(k, N), hi = SHARE_END(k, N);
    unsigned long sum = 0, xor = 0, min = ~0ul;
    for (long i = lo; i < hi; i++) {
        unsigned long r = mix(i);
        keys[i] = r % 16 == 0 ? mix(r % N) : r;       /* about one in 16 repeats another key */
        sum += keys[i];
        xor ^= keys[i];
        if (keys[i] < min)
            min = keys[i];
    }
    sums[k] = sum;
    xors[k] = xor;
    mins[k] = min;
    quicksort(keys, lo, hi - 1);
    return 0;
}

/* How many of the first d outputs of merging a[0..na) and b[0..nb) come from a. */
static long merge_path(const unsigned long *a, long na, const unsigned long *b, long nb, long d)
{
    long lo = d > nb ? d - nb : 0, hi = d < na ? d : na;
    while (lo < hi) {
        long i = (lo + hi) / 2;
        if (a[i] <= b[d - 1 - i])
            lo = i + 1;
        else
            hi = i;
    }
    return lo;
}

/* Worker k's share of every merge of two adjacent runs of run_len (src -> dst). */
static long merge_share(long k)
{
    for (long base = 0; base < N; base += 2 * run_len) {
        const unsigned long *a = src + base, *b = a + run_len;
        long n = 2 * run_len, d0 = SHARE_BEGIN(k, n), d1 = SHARE_END(k, n);
        long i = merge_path(a, run_len, b, run_len, d0), j = d0 - i;
        long i1 = merge_path(a, run_len, b, run_len, d1), j1 = d1 - i1;
        unsigned long *out = dst + base + d0;
        while (i < i1 && j < j1)
            *out++ = a[i] <= b[j] ? a[i++] : b[j++];
        while (i < i1)
            *out++ = a[i++];
        while (j < j1)
            *out++ = b[j++];
    }
    return 0;
}

/* Worker k's check of its share of the result: 1 if out of order, else 0; partial sum, xor. */
static long check_share(long k)
{
    long lo = SHARE_BEGIN(k, N), hi = SHARE_END(k, N), bad = 0;
    for (long i = lo; i < hi; i++) {
        if (i > 0 && src[i - 1] > src[i])
            bad = 1;
        sums[k] -= src[i];
        xors[k] ^= src[i];
    }
    return bad;
}

int main(void)
{
    unsigned long sum = 0, xor = 0, min = ~0ul;
    run_workers(generate_and_sort);
    for (run_len = N / WORKERS; run_len < N; run_len *= 2) {
        run_workers(merge_share);
        unsigned long *t = src;
        src = dst;
        dst = t;
    }
    for (int k = 0; k < WORKERS; k++)
        if (mins[k] < min)
            min = mins[k];
    if (run_workers(check_share))
        return 1;
    for (int k = 0; k < WORKERS; k++) {
        sum += sums[k];
        xor ^= xors[k];
    }
    if (sum)
        return 2;
    if (xor)
        return 3;
    if (src[0] != min)
        return 4;
    return 0;
}
