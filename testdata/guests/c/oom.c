/*
 * oom.c: an ABI v1 reactor (docs/ABI.md) that runs out of memory.
 *
 * Build (a WASI reactor):
 *
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -o oom.wasm oom.c
 *
 * Behaviour, for an event (the payload field of the envelope):
 *
 *   "abort"  (the JSON string, quotes included): mallocs 8 MiB chunks,
 *            writing to each, until malloc returns NULL, then calls abort()
 *            (a trap). The host sees a memory.grow refused at the limit and
 *            reports Runtime.OutOfMemory.
 *   "error"  likewise until malloc returns NULL, then frees every chunk and
 *            returns status 1 with
 *            {"errorMessage":"malloc failed after N MiB","errorType":"OutOfMemoryError"}:
 *            the guest handled it, and the instance stays warm.
 *   anything else: status 0 with the number of invocations this instance
 *            has served, this one included ("1", "2", ...).
 *
 * The 8 MiB chunks leave up to 8 MiB between the last memory that grew and
 * the limit, so only the refused grow tells the host that the limit was hit.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (8u << 20)

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

static uint8_t result_record[12];
static char out[128];
static uint32_t calls = 0;

static uint32_t set_result(uint32_t status, const char *payload, uint32_t len) {
    uint32_t v[3] = {status, (uint32_t)(uintptr_t)payload, len};
    memcpy(result_record, v, sizeof v); /* wasm32 is little-endian */
    return (uint32_t)(uintptr_t)result_record;
}

/* The chunks: at most 4 GiB / 8 MiB of them. */
static void *chunks[512];

/* fill mallocs chunks until malloc fails and returns how many it got. */
static int fill(void) {
    int n = 0;
    while (n < 512) {
        uint8_t *p = malloc(CHUNK);
        if (p == NULL)
            break;
        for (uint32_t i = 0; i < CHUNK; i += 4096)
            p[i] = 1; /* touch every page */
        chunks[n++] = p;
    }
    return n;
}

/* The payload starts at offset 20 + the lengths of six fields. */
static int payload(const uint8_t *env, uint32_t len, const uint8_t **p,
                   uint32_t *n) {
    uint32_t off = 20;
    for (int i = 0; i < 7; i++) {
        uint32_t k;
        if (len - off < 4)
            return -1;
        memcpy(&k, env + off, 4);
        off += 4;
        if (k > len - off)
            return -1;
        *p = env + off;
        *n = k;
        off += k;
    }
    return 0;
}

__attribute__((export_name("wasmlambda_v1_invoke")))
uint32_t wasmlambda_v1_invoke(uint32_t ptr, uint32_t len) {
    const uint8_t *ev;
    uint32_t n;
    calls++;
    if (len < 20 || payload((const uint8_t *)(uintptr_t)ptr, len, &ev, &n)) {
        const char *e = "{\"errorMessage\":\"malformed request envelope\",\"errorType\":\"OOMError\"}";
        return set_result(1, e, (uint32_t)strlen(e));
    }
    if (n == 7 && memcmp(ev, "\"abort\"", 7) == 0) {
        fill();
        abort();
    }
    if (n == 7 && memcmp(ev, "\"error\"", 7) == 0) {
        int got = fill();
        for (int i = 0; i < got; i++)
            free(chunks[i]);
        int k = snprintf(out, sizeof out,
                         "{\"errorMessage\":\"malloc failed after %d MiB\","
                         "\"errorType\":\"OutOfMemoryError\"}",
                         got * (int)(CHUNK >> 20));
        return set_result(1, out, (uint32_t)k);
    }
    int k = snprintf(out, sizeof out, "%u", (unsigned)calls);
    return set_result(0, out, (uint32_t)k);
}
