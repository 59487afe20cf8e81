/*
 * work.c: CPU-bound workloads for measuring what deadline enforcement costs
 * compiled code (bench_fuel_test.go). An ABI v1 reactor.
 *
 * The event is a JSON string "OP N", and the response the JSON number the
 * work computes, so that none of it can be optimised away:
 *
 *   "loop N"    a loop of N iterations whose body is only its own counter:
 *               the tightest loop there is, four instructions
 *   "fib N"     the N-th Fibonacci number, by naive recursion
 *   "sha256 N"  SHA-256 of a 64 KiB buffer, N times over (each round hashes
 *               the previous digest and the buffer); the first word of it
 *   "sort N"    qsort of N pseudo-random 32-bit integers (N <= 1 << 20);
 *               their checksum after sorting
 *
 * Anything else gives status 1.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *request_buf = NULL;
static uint32_t request_cap = 0;

__attribute__((export_name("wasmlambda_v1_alloc")))
uint32_t wasmlambda_v1_alloc(uint32_t size) {
    if (size <= request_cap)
        return (uint32_t)(uintptr_t)request_buf;
    uint8_t *p = realloc(request_buf, size);
    if (p == NULL)
        return 0;
    request_buf = p;
    request_cap = size;
    return (uint32_t)(uintptr_t)p;
}

static uint32_t read_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint32_t result_record[3];
static char out[32];

static uint32_t result(uint32_t status, const char *payload, uint32_t len) {
    result_record[0] = status;
    result_record[1] = (uint32_t)(uintptr_t)payload;
    result_record[2] = len;
    return (uint32_t)(uintptr_t)result_record;
}

static uint32_t fail(void) {
    static const char msg[] = "{\"errorMessage\":\"bad event\",\"errorType\":\"WorkError\"}";
    return result(1, msg, sizeof msg - 1);
}

/* ---- the workloads ------------------------------------------------------ */

__attribute__((noinline)) static uint32_t spin(uint32_t n) {
    uint32_t i = n;
#pragma clang loop unroll(disable)
    while (i != 0) {
        i--;
        /* An empty asm that may change i: the compiler can neither fold
         * the loop nor unroll it. */
        __asm__ volatile("" : "+r"(i));
    }
    return n - i;
}

__attribute__((noinline)) static uint64_t fib(uint32_t n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static const uint32_t k256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))

static void sha256_block(uint32_t h[8], const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5],
             g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
                      ((e & f) ^ (~e & g)) + k256[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
                      ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d;
    h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

/* sha256 hashes len bytes (a multiple of 64, padding left out: the cost is
 * the blocks) into h. */
static void sha256(uint32_t h[8], const uint8_t *p, uint32_t len) {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                   0xa54ff53a, 0x510e527f, 0x9b05688c,
                                   0x1f83d9ab, 0x5be0cd19};
    memcpy(h, iv, sizeof iv);
    for (uint32_t off = 0; off < len; off += 64)
        sha256_block(h, p + off);
}

static uint8_t hash_buf[64 << 10];

static uint32_t sha256_rounds(uint32_t n) {
    uint32_t h[8] = {0};
    for (uint32_t i = 0; i < sizeof hash_buf; i++)
        hash_buf[i] = (uint8_t)(i * 131);
    for (uint32_t r = 0; r < n; r++) {
        memcpy(hash_buf, h, sizeof h);
        sha256(h, hash_buf, sizeof hash_buf);
    }
    return h[0];
}

static uint32_t sort_buf[1 << 20];

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint32_t sort(uint32_t n) {
    uint32_t x = 2463534242u;
    for (uint32_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32 */
        sort_buf[i] = x;
    }
    qsort(sort_buf, n, sizeof sort_buf[0], cmp_u32);
    uint32_t sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum = sum * 31 + sort_buf[i];
    return sum;
}

/* ---- invoke --------------------------------------------------------------- */

static int has_prefix(const uint8_t *p, uint32_t len, const char *s) {
    size_t n = strlen(s);
    return len >= n && memcmp(p, s, n) == 0;
}

__attribute__((export_name("wasmlambda_v1_invoke")))
uint32_t wasmlambda_v1_invoke(uint32_t ptr, uint32_t len) {
    const uint8_t *env = (const uint8_t *)(uintptr_t)ptr;
    if (len < 20 || read_u32(env) != 1)
        return fail();
    /* Skip the six fields before the payload. */
    uint32_t off = 20;
    for (int i = 0; i < 7; i++) {
        if (len - off < 4 || read_u32(env + off) > len - off - 4)
            return fail();
        if (i == 6)
            break;
        off += 4 + read_u32(env + off);
    }
    const uint8_t *p = env + off + 4;
    uint32_t n = read_u32(env + off);
    if (n < 2 || p[0] != '"')
        return fail();
    p++, n--;

    static const char *ops[] = {"loop ", "fib ", "sha256 ", "sort "};
    int op = -1;
    for (int i = 0; i < 4; i++) {
        if (has_prefix(p, n, ops[i])) {
            op = i;
            p += strlen(ops[i]), n -= strlen(ops[i]);
            break;
        }
    }
    uint32_t arg = 0;
    for (; n > 0 && *p >= '0' && *p <= '9'; p++, n--)
        arg = arg * 10 + (*p - '0');
    if (op < 0 || n != 1 || *p != '"')
        return fail();

    uint64_t v = 0;
    switch (op) {
    case 0:
        v = spin(arg);
        break;
    case 1:
        v = fib(arg);
        break;
    case 2:
        v = sha256_rounds(arg);
        break;
    case 3:
        if (arg > sizeof sort_buf / sizeof sort_buf[0])
            return fail();
        v = sort(arg);
        break;
    }
    /* The number, as text. */
    char *end = out + sizeof out, *q = end;
    do {
        *--q = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return result(0, q, (uint32_t)(end - q));
}
