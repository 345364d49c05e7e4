/* d1core's custom instructions from C: one inline function (or macro) per instruction of
   hw/core/isa.py, constructors of the register operands (signal, vector state, operand
   configuration) and the GEMM and DMA descriptors. docs/isa.md is the reference.

   Every number comes from the Python sources through the build's -D flags (sim/riscv.py,
   verif/scalar/programs isa_defines): D1_OP_<UNIT>, D1_F3_<FN>, D1_VOP_<OP>, D1_VT_<TYPE>,
   D1_FMT_<FORMAT>, D1_ERR_<CODE>, D1_CTR_<COUNTER>, and D1_<LAYOUT>_<FIELD>_SHIFT / _BITS for
   the layouts SIG, VCFG, VSTRIDE, OPCFG, GEMM and DMA. The descriptor structs are checked
   against those offsets at compile time and bit for bit on the ISS (tests/core).

   Instructions (the assembler's names in parentheses, verif/scalar/asm.py):
     d1_mcfg(cfg, sig)            (d1.mcfg)      matrix operand formats, queued in order
     d1_mgemm(desc, sig)          (d1.mgemm)     queue D = A·B (+C) of a d1_gemm_desc
     d1_vsetcfg(cfg)              (d1.vsetcfg)   this thread's VOP type, modifiers, count, signal
     d1_vsetstride(strides)       (d1.vsetstride)
     d1_vsetdc(d, c)              (d1.vsetdc)    VOP destination and third operand
     D1_VOP(op, a, b)             (d1.vop)       queue a VOP (op: D1_VOP_ADD ...)
     D1_VOP_REG(op, a, b)         (d1.vop rd)    a one-line VOP answered in a register
     d1_dma(desc)                 (d1.dma)       queue a DMA descriptor list
     d1_sset(s, v) d1_sadd(s, v)  (d1.sset, d1.sadd)
     d1_swait(s, v)               (d1.swait)     sleep until semaphore s >= v; its value
     d1_sread(s)                  (d1.sread)
     d1_fence()                   (d1.fence)     wait for every command this thread queued
     d1_status(unit)              (d1.status)    error register of unit 0/1/2, read and clear
     d1_rdctr(n)                  (d1.rdctr)     performance counter n
   and in a core of a mesh only (verif/mesh/programs/mesh.h, docs/mesh.md):
     d1_snotify(x, y, sig)        (d1.snotify)   add a signal to core (x, y)'s semaphores;
                                                 its failures in d1_status(D1_STATUS_NETWORK)

   Every instruction is volatile with a memory clobber: the compiler keeps the stores before a
   command before it, and reads results only after the wait that follows. Programs wait (a
   semaphore or d1_fence) before reading a command's results or reusing its operands. */

#ifndef D1CORE_H
#define D1CORE_H

#include <stddef.h>
#include <stdint.h>

#if !defined(D1_OP_MATRIX) || !defined(D1_GEMM_M_SHIFT)
#error "d1core.h needs d1core's build flags: build programs with sim/riscv.py"
#endif

#ifndef D1_STR
#define D1_STR_(x) #x
#define D1_STR(x) D1_STR_(x)
#endif

/* .insn r opcode, funct3, funct7, rd, rs1, rs2 */
#define D1_INSN(op, f3, f7) ".insn r " D1_STR(op) ", " D1_STR(f3) ", " D1_STR(f7) ", "

/* --- register operands ------------------------------------------------------------------- */

#define D1_FIELD(layout, name, value) \
    (((unsigned long)(value) & ((1ul << D1_##layout##_##name##_BITS) - 1)) \
     << D1_##layout##_##name##_SHIFT)

/* A completion signal: add amount to semaphore sem. 0 is "no signal". */
static inline unsigned long d1_signal(unsigned sem, unsigned amount)
{
    return D1_FIELD(SIG, SEM, sem) | D1_FIELD(SIG, ENABLE, 1) | D1_FIELD(SIG, AMOUNT, amount);
}

/* The MCFG value: formats (D1_FMT_BF16, D1_FMT_CFP8_143, D1_FMT_CFP8_152) and CFP8 biases. */
static inline unsigned long d1_operands(unsigned a_fmt, unsigned a_bias, unsigned b_fmt,
                                        unsigned b_bias)
{
    return D1_FIELD(OPCFG, A_FMT, a_fmt) | D1_FIELD(OPCFG, A_BIAS, a_bias)
           | D1_FIELD(OPCFG, B_FMT, b_fmt) | D1_FIELD(OPCFG, B_BIAS, b_bias);
}

/* The VSETCFG value with every field. */
static inline unsigned long d1_vconfig_full(unsigned vtype, unsigned fmt, unsigned bias,
                                            unsigned rnd, unsigned imm, unsigned count,
                                            unsigned long signal)
{
    return D1_FIELD(VCFG, VTYPE, vtype) | D1_FIELD(VCFG, FMT, fmt) | D1_FIELD(VCFG, BIAS, bias)
           | D1_FIELD(VCFG, RND, rnd) | D1_FIELD(VCFG, IMM, imm)
           | D1_FIELD(VCFG, COUNT, count) | D1_FIELD(VCFG, SIGNAL, signal);
}

/* The VSETCFG value for a plain operation: type, lines per VOP, signal per VOP. */
static inline unsigned long d1_vconfig(unsigned vtype, unsigned count, unsigned long signal)
{
    return d1_vconfig_full(vtype, 0, 0, 0, 0, count, signal);
}

/* The VSETSTRIDE value: signed byte strides, multiples of 64. */
static inline unsigned long d1_vstrides(long a, long b, long c, long d)
{
    return D1_FIELD(VSTRIDE, A, a) | D1_FIELD(VSTRIDE, B, b) | D1_FIELD(VSTRIDE, C, c)
           | D1_FIELD(VSTRIDE, D, d);
}

/* A scratchpad address as a descriptor field. */
#define D1_ADDR(p) ((uint32_t)(unsigned long)(p))

/* --- descriptors ------------------------------------------------------------------------- */

/* GemmDescriptor: D = A·B (+ C). a holds Aᵀ row-major (k rows of m elements, stride lda), b
   holds B row-major (k rows of n elements, stride ldb), c and d FP32 row-major (m rows of n,
   strides ldc, ldd). Addresses and strides are multiples of 64. */
typedef struct __attribute__((aligned(64))) {
    uint32_t a, b, c, d;
    uint32_t lda, ldb, ldc, ldd;
    uint16_t m, n, k;
    uint16_t load_c : 1;
    uint16_t reserved0 : 15;
    uint32_t reserved[6];
} d1_gemm_desc;

/* DmaDescriptor: rows × elems elements of 8 << elem_bytes bytes (codes 0, 1, 2: 8, 16, 64),
   element e of row r read at src + r·src_stride + e·src_elem_stride, written at
   dst + r·dst_stride + e·size; next: the next descriptor (0 ends the list); mcast (a core of a
   mesh): a multicast push to the rectangle (rect_x, rect_y)..(dst_x, dst_y) (mesh.h). */
typedef struct __attribute__((aligned(64))) {
    uint32_t src, dst, src_stride, dst_stride, src_elem_stride, next;
    uint16_t rows, elems;
    uint32_t elem_bytes : 2;
    uint32_t local : 1;
    uint32_t dst_x : 4;
    uint32_t dst_y : 4;
    uint32_t signal : 21;
    uint32_t mcast : 1;
    uint32_t rect_x : 4;
    uint32_t rect_y : 4;
    uint32_t reserved_bits : 23;
    uint32_t reserved[7];
} d1_dma_desc;

#define D1_CHECK_BYTE(T, field, LAYOUT, NAME) \
    _Static_assert(offsetof(T, field) * 8 == D1_##LAYOUT##_##NAME##_SHIFT \
                   && sizeof(((T *)0)->field) * 8 == D1_##LAYOUT##_##NAME##_BITS, \
                   #T "." #field " is not where hw/core/isa.py puts it")
_Static_assert(sizeof(d1_gemm_desc) == D1_DESCRIPTOR_BYTES, "d1_gemm_desc is one line");
_Static_assert(sizeof(d1_dma_desc) == D1_DESCRIPTOR_BYTES, "d1_dma_desc is one line");
D1_CHECK_BYTE(d1_gemm_desc, a, GEMM, A);
D1_CHECK_BYTE(d1_gemm_desc, b, GEMM, B);
D1_CHECK_BYTE(d1_gemm_desc, c, GEMM, C);
D1_CHECK_BYTE(d1_gemm_desc, d, GEMM, D);
D1_CHECK_BYTE(d1_gemm_desc, lda, GEMM, LDA);
D1_CHECK_BYTE(d1_gemm_desc, ldb, GEMM, LDB);
D1_CHECK_BYTE(d1_gemm_desc, ldc, GEMM, LDC);
D1_CHECK_BYTE(d1_gemm_desc, ldd, GEMM, LDD);
D1_CHECK_BYTE(d1_gemm_desc, m, GEMM, M);
D1_CHECK_BYTE(d1_gemm_desc, n, GEMM, N);
D1_CHECK_BYTE(d1_gemm_desc, k, GEMM, K);
_Static_assert(D1_GEMM_LOAD_C_SHIFT == D1_GEMM_K_SHIFT + 16 && D1_GEMM_LOAD_C_BITS == 1,
               "load_c is the bit after k");
D1_CHECK_BYTE(d1_dma_desc, src, DMA, SRC);
D1_CHECK_BYTE(d1_dma_desc, dst, DMA, DST);
D1_CHECK_BYTE(d1_dma_desc, src_stride, DMA, SRC_STRIDE);
D1_CHECK_BYTE(d1_dma_desc, dst_stride, DMA, DST_STRIDE);
D1_CHECK_BYTE(d1_dma_desc, src_elem_stride, DMA, SRC_ELEM_STRIDE);
D1_CHECK_BYTE(d1_dma_desc, next, DMA, NEXT);
D1_CHECK_BYTE(d1_dma_desc, rows, DMA, ROWS);
D1_CHECK_BYTE(d1_dma_desc, elems, DMA, ELEMS);
_Static_assert(D1_DMA_ELEM_BYTES_SHIFT == D1_DMA_ELEMS_SHIFT + 16
               && D1_DMA_LOCAL_SHIFT == D1_DMA_ELEM_BYTES_SHIFT + D1_DMA_ELEM_BYTES_BITS
               && D1_DMA_DST_X_SHIFT == D1_DMA_LOCAL_SHIFT + 1
               && D1_DMA_DST_Y_SHIFT == D1_DMA_DST_X_SHIFT + D1_DMA_DST_X_BITS
               && D1_DMA_SIGNAL_SHIFT == D1_DMA_DST_Y_SHIFT + D1_DMA_DST_Y_BITS
               && D1_DMA_SIGNAL_BITS == 21 && D1_DMA_DST_X_BITS == 4
               && D1_DMA_DST_Y_BITS == 4 && D1_DMA_ELEM_BYTES_BITS == 2,
               "the DMA descriptor's bit fields follow hw/core/isa.py");
_Static_assert(D1_DMA_MCAST_SHIFT == D1_DMA_SIGNAL_SHIFT + D1_DMA_SIGNAL_BITS
               && D1_DMA_MCAST_SHIFT % 32 == 0
               && D1_DMA_RECT_X_SHIFT == D1_DMA_MCAST_SHIFT + 1
               && D1_DMA_RECT_Y_SHIFT == D1_DMA_RECT_X_SHIFT + D1_DMA_RECT_X_BITS
               && D1_DMA_RESERVED_SHIFT == D1_DMA_RECT_Y_SHIFT + D1_DMA_RECT_Y_BITS
               && D1_DMA_MCAST_BITS == 1 && D1_DMA_RECT_X_BITS == 4 && D1_DMA_RECT_Y_BITS == 4,
               "the DMA descriptor's multicast fields follow hw/core/isa.py");

static inline void d1__zero_line(void *p)
{
    volatile uint64_t *w = p;
    for (int i = 0; i < D1_DESCRIPTOR_BYTES / 8; i++)
        w[i] = 0;
}

/* Fill *g (reserved bits cleared). */
static inline void d1_gemm_fill(d1_gemm_desc *g, const void *a, const void *b, const void *c,
                                void *d, uint32_t lda, uint32_t ldb, uint32_t ldc, uint32_t ldd,
                                unsigned m, unsigned n, unsigned k, int load_c)
{
    d1__zero_line(g);
    g->a = D1_ADDR(a);
    g->b = D1_ADDR(b);
    g->c = D1_ADDR(c);
    g->d = D1_ADDR(d);
    g->lda = lda;
    g->ldb = ldb;
    g->ldc = ldc;
    g->ldd = ldd;
    g->m = m;
    g->n = n;
    g->k = k;
    g->load_c = load_c != 0;
}

/* Fill *t as a local transfer (reserved bits cleared, next = 0: use d1_dma_link to chain). */
static inline void d1_dma_fill(d1_dma_desc *t, const void *src, void *dst, uint32_t src_stride,
                               uint32_t dst_stride, uint32_t src_elem_stride, unsigned rows,
                               unsigned elems, unsigned elem_bytes_code, unsigned long signal)
{
    d1__zero_line(t);
    t->src = D1_ADDR(src);
    t->dst = D1_ADDR(dst);
    t->src_stride = src_stride;
    t->dst_stride = dst_stride;
    t->src_elem_stride = src_elem_stride;
    t->rows = rows;
    t->elems = elems;
    t->elem_bytes = elem_bytes_code;
    t->local = 1;
    t->signal = signal;
}

static inline void d1_dma_link(d1_dma_desc *t, const d1_dma_desc *next)
{
    t->next = D1_ADDR(next);
}

/* --- instructions ------------------------------------------------------------------------ */

static inline void d1_mcfg(unsigned long cfg, unsigned long signal)
{
    __asm__ volatile(D1_INSN(D1_OP_MATRIX, D1_F3_MCFG, 0) "x0, %0, %1"
                     : : "r"(cfg), "r"(signal) : "memory");
}

static inline void d1_mgemm(const d1_gemm_desc *g, unsigned long signal)
{
    __asm__ volatile(D1_INSN(D1_OP_MATRIX, D1_F3_MGEMM, 0) "x0, %0, %1"
                     : : "r"(g), "r"(signal) : "memory");
}

static inline void d1_vsetcfg(unsigned long cfg)
{
    __asm__ volatile(D1_INSN(D1_OP_VECTOR, D1_F3_VSETCFG, 0) "x0, %0, x0"
                     : : "r"(cfg) : "memory");
}

static inline void d1_vsetstride(unsigned long strides)
{
    __asm__ volatile(D1_INSN(D1_OP_VECTOR, D1_F3_VSETSTRIDE, 0) "x0, %0, x0"
                     : : "r"(strides) : "memory");
}

static inline void d1_vsetdc(void *d, const void *c)
{
    __asm__ volatile(D1_INSN(D1_OP_VECTOR, D1_F3_VSETDC, 0) "x0, %0, %1"
                     : : "r"(d), "r"(c) : "memory");
}

/* op must be a constant (D1_VOP_<OP>): it is the instruction's funct7. */
#define D1_VOP(op, a, b) \
    __asm__ volatile(".insn r " D1_STR(D1_OP_VECTOR) ", " D1_STR(D1_F3_VOP) ", %0, x0, %1, %2" \
                     : : "i"(op), "r"(a), "r"(b) : "memory")

#define D1_VOP_REG(op, a, b) __extension__({ \
    unsigned long d1__r; \
    __asm__ volatile(".insn r " D1_STR(D1_OP_VECTOR) ", " D1_STR(D1_F3_VOP) ", %1, %0, %2, %3" \
                     : "=r"(d1__r) : "i"(op), "r"(a), "r"(b) : "memory"); \
    d1__r; })

static inline void d1_dma(const d1_dma_desc *t)
{
    __asm__ volatile(D1_INSN(D1_OP_DMA, D1_F3_DMA, 0) "x0, %0, x0" : : "r"(t) : "memory");
}

static inline void d1_sset(unsigned long sem, unsigned long value)
{
    __asm__ volatile(D1_INSN(D1_OP_SYNC, D1_F3_SSET, 0) "x0, %0, %1"
                     : : "r"(sem), "r"(value) : "memory");
}

static inline void d1_sadd(unsigned long sem, unsigned long value)
{
    __asm__ volatile(D1_INSN(D1_OP_SYNC, D1_F3_SADD, 0) "x0, %0, %1"
                     : : "r"(sem), "r"(value) : "memory");
}

static inline unsigned long d1_swait(unsigned long sem, unsigned long value)
{
    unsigned long r;
    __asm__ volatile(D1_INSN(D1_OP_SYNC, D1_F3_SWAIT, 0) "%0, %1, %2"
                     : "=r"(r) : "r"(sem), "r"(value) : "memory");
    return r;
}

static inline unsigned long d1_sread(unsigned long sem)
{
    unsigned long r;
    __asm__ volatile(D1_INSN(D1_OP_SYNC, D1_F3_SREAD, 0) "%0, %1, x0"
                     : "=r"(r) : "r"(sem) : "memory");
    return r;
}

static inline void d1_fence(void)
{
    __asm__ volatile(D1_INSN(D1_OP_SYNC, D1_F3_FENCE, 0) "x0, x0, x0" : : : "memory");
}

/* Unit 0 matrix, 1 vector, 2 DMA: code | address << 32 of the first refusal since the last
   read (0: none), then cleared. */
static inline unsigned long d1_status(unsigned long unit)
{
    unsigned long r;
    __asm__ volatile(D1_INSN(D1_OP_SYNC, D1_F3_STATUS, 0) "%0, %1, x0"
                     : "=r"(r) : "r"(unit) : "memory");
    return r;
}

static inline unsigned long d1_rdctr(unsigned long counter)
{
    unsigned long r;
    __asm__ volatile(D1_INSN(D1_OP_SYNC, D1_F3_RDCTR, 0) "%0, %1, x0"
                     : "=r"(r) : "r"(counter) : "memory");
    return r;
}

#endif
