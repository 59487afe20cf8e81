/*
 * echo.c: the C reference guest for wasmlambda guest ABI v1 (docs/ABI.md).
 *
 * It shows that the ABI is not tied to Go: any language that can export two
 * functions and its linear memory can be a wasmlambda function. It is kept
 * plain on purpose, as a model to port to other languages.
 *
 * Build (a WASI reactor: the module exports _initialize, not _start):
 *
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -o echo.wasm echo.c
 *
 * Behaviour, for an event (the payload field of the envelope):
 *
 *   "fail"    (the JSON string, quotes included): status 1 with
 *             {"errorMessage":"failure requested","errorType":"EchoError"}
 *   "whoami"  (likewise): status 0 with a JSON object built from the envelope
 *             {"requestId":..., "functionName":..., "functionVersion":...,
 *              "invokedFunctionArn":..., "memoryMB":N, "deadlineMs":N,
 *              "calls":N}
 *             where calls counts the invocations this instance has served,
 *             this one included: it proves the instance stays warm.
 *   anything else: status 0 with the payload unchanged.
 *
 * Each invocation also prints "c guest: N bytes" (N = payload length) and a
 * newline on standard output, so that the host's log capture can be tested.
 *
 * An envelope whose version is not 1, or that is malformed, gets status 1
 * with an error object, as the ABI asks.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * Little-endian helpers. wasm32 is little-endian, so a memcpy would do, but
 * reading byte by byte shows the wire format plainly.
 * ------------------------------------------------------------------------- */

static uint32_t read_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t read_u64(const uint8_t *p) {
    return (uint64_t)read_u32(p) | (uint64_t)read_u32(p + 4) << 32;
}

static void write_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ---------------------------------------------------------------------------
 * wasmlambda_v1_alloc: the request buffer.
 *
 * The host asks for a buffer when the next envelope does not fit in the one it
 * already has, and writes every envelope into the buffer it got last. The
 * buffer must stay valid until the next call to alloc, so it is simply kept
 * in a global and grown with realloc.
 * ------------------------------------------------------------------------- */

static uint8_t *request_buf = NULL;
static uint32_t request_cap = 0;

__attribute__((export_name("wasmlambda_v1_alloc")))
uint32_t wasmlambda_v1_alloc(uint32_t size) {
    if (size == 0)
        size = 1; /* realloc(p, 0) may free p; always hand out a real buffer */
    if (size <= request_cap)
        return (uint32_t)(uintptr_t)request_buf;
    uint8_t *p = realloc(request_buf, size);
    if (p == NULL)
        return 0; /* out of memory: the ABI says return 0 */
    request_buf = p;
    request_cap = size;
    return (uint32_t)(uintptr_t)p;
}

/* ---------------------------------------------------------------------------
 * The result record and the response buffer.
 *
 * Both must stay valid until the next call into the guest, which globals do.
 * ------------------------------------------------------------------------- */

enum { STATUS_OK = 0, STATUS_ERROR = 1, STATUS_FATAL = 2 };

static uint8_t result_record[12]; /* status, payload address, payload length */

static uint32_t set_result(uint32_t status, const void *payload, uint32_t len) {
    write_u32(result_record + 0, status);
    write_u32(result_record + 4, (uint32_t)(uintptr_t)payload);
    write_u32(result_record + 8, len);
    return (uint32_t)(uintptr_t)result_record;
}

/* A growable byte buffer for building responses; reused across calls. */
static char *out_buf = NULL;
static size_t out_len = 0;
static size_t out_cap = 0;
static int out_failed = 0; /* set when realloc fails */

static void out_reset(void) {
    out_len = 0;
    out_failed = 0;
}

static void out_append(const char *s, size_t n) {
    if (out_failed)
        return;
    if (out_len + n > out_cap) {
        size_t cap = out_cap ? out_cap : 256;
        while (cap < out_len + n)
            cap *= 2;
        char *p = realloc(out_buf, cap);
        if (p == NULL) {
            out_failed = 1;
            return;
        }
        out_buf = p;
        out_cap = cap;
    }
    memcpy(out_buf + out_len, s, n);
    out_len += n;
}

static void out_str(const char *s) { out_append(s, strlen(s)); }

/*
 * out_json_string appends s as a JSON string. The host fills these fields
 * with plain ASCII (request IDs, names, ARNs), so escaping stays simple: '"'
 * and '\\' are backslash-escaped and control characters become \u00XX. Other
 * bytes, including UTF-8 sequences, are copied as they are.
 */
static void out_json_string(const uint8_t *s, uint32_t n) {
    out_append("\"", 1);
    for (uint32_t i = 0; i < n; i++) {
        char c = (char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', c};
            out_append(esc, 2);
        } else if (s[i] < 0x20) {
            char esc[7];
            snprintf(esc, sizeof esc, "\\u%04x", s[i]);
            out_append(esc, 6);
        } else {
            out_append(&c, 1);
        }
    }
    out_append("\"", 1);
}

/* error_result returns a status-1 record whose payload is an error object.
 * message and type are literals from this file: they need no escaping. */
static uint32_t error_result(const char *message, const char *type) {
    out_reset();
    out_str("{\"errorMessage\":\"");
    out_str(message);
    out_str("\",\"errorType\":\"");
    out_str(type);
    out_str("\"}");
    if (out_failed) /* no memory even for this: give up on the instance */
        return set_result(STATUS_FATAL, NULL, 0);
    return set_result(STATUS_ERROR, out_buf, (uint32_t)out_len);
}

/* ---------------------------------------------------------------------------
 * The request envelope.
 * ------------------------------------------------------------------------- */

/* A field: a pointer into the envelope and a length. */
struct field {
    const uint8_t *data;
    uint32_t len;
};

struct request {
    uint32_t version;
    uint32_t flags;
    int64_t deadline_ms; /* milliseconds since the Unix epoch */
    uint32_t memory_mb;
    struct field request_id;
    struct field function_name;
    struct field function_version;
    struct field invoked_function_arn;
    struct field client_context; /* JSON, or empty */
    struct field identity;       /* JSON, or empty */
    struct field payload;        /* the event; always last */
};

/* read_field reads one u32-length-prefixed field at *off, checking that it
 * lies inside the envelope. Returns 0 on success, -1 if it overruns. */
static int read_field(const uint8_t *env, uint32_t env_len, uint32_t *off,
                      struct field *f) {
    if (env_len - *off < 4)
        return -1;
    uint32_t n = read_u32(env + *off);
    *off += 4;
    if (n > env_len - *off)
        return -1;
    f->data = env + *off;
    f->len = n;
    *off += n;
    return 0;
}

/* decode_request fills r from the envelope. Returns 0 on success, -1 if the
 * envelope is malformed. The version is decoded but checked by the caller. */
static int decode_request(const uint8_t *env, uint32_t env_len,
                          struct request *r) {
    if (env_len < 20)
        return -1;
    r->version = read_u32(env + 0);
    r->flags = read_u32(env + 4);
    r->deadline_ms = (int64_t)read_u64(env + 8);
    r->memory_mb = read_u32(env + 16);
    if (r->version != 1)
        return 0; /* the rest may be laid out differently */

    uint32_t off = 20;
    if (read_field(env, env_len, &off, &r->request_id) ||
        read_field(env, env_len, &off, &r->function_name) ||
        read_field(env, env_len, &off, &r->function_version) ||
        read_field(env, env_len, &off, &r->invoked_function_arn) ||
        read_field(env, env_len, &off, &r->client_context) ||
        read_field(env, env_len, &off, &r->identity) ||
        read_field(env, env_len, &off, &r->payload))
        return -1;
    return 0;
}

static int field_equals(struct field f, const char *s) {
    size_t n = strlen(s);
    return f.len == n && memcmp(f.data, s, n) == 0;
}

/* ---------------------------------------------------------------------------
 * wasmlambda_v1_invoke: one invocation.
 * ------------------------------------------------------------------------- */

/* Warm state: globals survive from one invocation to the next. */
static uint64_t calls = 0;

__attribute__((export_name("wasmlambda_v1_invoke")))
uint32_t wasmlambda_v1_invoke(uint32_t ptr, uint32_t len) {
    const uint8_t *env = (const uint8_t *)(uintptr_t)ptr;
    struct request r;

    calls++;

    if (decode_request(env, len, &r) != 0)
        return error_result("malformed request envelope", "EchoError");
    if (r.version != 1)
        return error_result("unsupported ABI version", "EchoError");

    /* Standard output is a pipe to the host's log, not a terminal, so stdio
     * buffers it; a reactor never exits, so flush after every invocation. */
    printf("c guest: %u bytes\n", (unsigned)r.payload.len);
    fflush(stdout);

    if (field_equals(r.payload, "\"fail\""))
        return error_result("failure requested", "EchoError");

    if (field_equals(r.payload, "\"whoami\"")) {
        char num[32];
        out_reset();
        out_str("{\"requestId\":");
        out_json_string(r.request_id.data, r.request_id.len);
        out_str(",\"functionName\":");
        out_json_string(r.function_name.data, r.function_name.len);
        out_str(",\"functionVersion\":");
        out_json_string(r.function_version.data, r.function_version.len);
        out_str(",\"invokedFunctionArn\":");
        out_json_string(r.invoked_function_arn.data,
                        r.invoked_function_arn.len);
        snprintf(num, sizeof num, ",\"memoryMB\":%u", (unsigned)r.memory_mb);
        out_str(num);
        snprintf(num, sizeof num, ",\"deadlineMs\":%lld",
                 (long long)r.deadline_ms);
        out_str(num);
        snprintf(num, sizeof num, ",\"calls\":%llu}",
                 (unsigned long long)calls);
        out_str(num);
        if (out_failed)
            return error_result("out of memory", "EchoError");
        return set_result(STATUS_OK, out_buf, (uint32_t)out_len);
    }

    /* Echo. The payload lies inside the request buffer, which stays valid
     * until the next alloc call, and the host copies it out before then. */
    return set_result(STATUS_OK, r.payload.data, r.payload.len);
}
