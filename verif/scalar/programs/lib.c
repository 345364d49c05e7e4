/* The C library functions GCC may call even in freestanding code (structure copies, loops it
   recognises as clears or copies). The optimize attribute keeps GCC from recognising the loops
   below as memset/memcpy and turning them back into calls to themselves. */

#include <stddef.h>

void *memset(void *dst, int c, size_t n)
    __attribute__((optimize("no-tree-loop-distribute-patterns")));
void *memcpy(void *dst, const void *src, size_t n)
    __attribute__((optimize("no-tree-loop-distribute-patterns")));
void *memmove(void *dst, const void *src, size_t n)
    __attribute__((optimize("no-tree-loop-distribute-patterns")));
int memcmp(const void *a, const void *b, size_t n);

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}
