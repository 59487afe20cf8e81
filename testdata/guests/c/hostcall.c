/*
 * hostcall.c: a C guest that calls host functions (docs/ABI.md, "Host
 * functions"): test.echo and test.fail, of the test host module "test", and
 * the built-ins wasmlambda_settings.get and wasmlambda_log.log.
 *
 * Build (a WASI reactor):
 *
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -o hostcall.wasm hostcall.c
 *
 * Behaviour, for an event (the payload field of the envelope):
 *
 *   "setting"  (the JSON string, quotes included): status 0 with the value of
 *              the setting "greeting", or status 1 if it is not set.
 *   "fail..."  (a JSON string starting so): calls test.fail with the event;
 *              the host's error becomes status 1 with
 *              {"errorMessage":<the host's message>,"errorType":"HostError"}.
 *   anything else: calls test.echo with the event and returns its output with
 *              status 0. Its output buffer holds 32 bytes, so a longer output
 *              is fetched with wasmlambda_v1.host_result into a buffer of its
 *              size.
 *
 * Each invocation logs, through wasmlambda_log.log, a warning "c guest
 * called the host" with the attribute bytes=N (N = payload length).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * The imports. Every host function has this one signature: the input, the
 * output buffer and its capacity, and where to write the output's length.
 * It returns 0 for success and 1 for an error, whose message is the output.
 * ------------------------------------------------------------------------- */

#define HOST_FUNCTION(module, name, fn)                                        \
    __attribute__((import_module(module), import_name(name))) uint32_t fn(     \
        const void *in, uint32_t in_len, void *out, uint32_t out_cap,          \
        uint32_t *out_len)

HOST_FUNCTION("test", "echo", test_echo);
HOST_FUNCTION("test", "fail", test_fail);
HOST_FUNCTION("wasmlambda_settings", "get", settings_get);
HOST_FUNCTION("wasmlambda_log", "log", log_record);

/* host_result copies the output a host call held back, for want of room,
 * and returns its length, or -1. */
__attribute__((import_module("wasmlambda_v1"), import_name("host_result")))
int32_t host_result(void *out, uint32_t out_cap);

typedef uint32_t (*host_fn)(const void *, uint32_t, void *, uint32_t,
                            uint32_t *);

/* call_host calls fn with [in, in+in_len). It points *out at the output,
 * which stays valid until the next call, sets *out_len, and returns the
 * status; 2 if the output could not be fetched. */
static uint8_t small_buf[32];
static uint8_t *big_buf = NULL;

static uint32_t call_host(host_fn fn, const void *in, uint32_t in_len,
                          const uint8_t **out, uint32_t *out_len) {
    uint32_t status = fn(in, in_len, small_buf, sizeof small_buf, out_len);
    if (*out_len <= sizeof small_buf) {
        *out = small_buf;
        return status;
    }
    free(big_buf);
    big_buf = malloc(*out_len);
    if (big_buf == NULL ||
        host_result(big_buf, *out_len) != (int32_t)*out_len)
        return 2;
    *out = big_buf;
    return status;
}

/* ---------------------------------------------------------------------------
 * The ABI v1 exports, as in echo.c.
 * ------------------------------------------------------------------------- */

static uint32_t read_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void write_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

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

static uint32_t set_result(uint32_t status, const void *payload, uint32_t len) {
    write_u32(result_record + 0, status);
    write_u32(result_record + 4, (uint32_t)(uintptr_t)payload);
    write_u32(result_record + 8, len);
    return (uint32_t)(uintptr_t)result_record;
}

/* The response buffer for error objects. */
static char out_buf[4096];

/* error_result returns status 1 with an error object whose message is
 * [msg, msg+n), escaped for JSON and cut short to fit. */
static uint32_t error_result(const uint8_t *msg, uint32_t n) {
    size_t len = 0;
    len += (size_t)snprintf(out_buf, sizeof out_buf, "{\"errorMessage\":\"");
    for (uint32_t i = 0; i < n && len + 16 < sizeof out_buf; i++) {
        if (msg[i] == '"' || msg[i] == '\\') {
            out_buf[len++] = '\\';
            out_buf[len++] = (char)msg[i];
        } else if (msg[i] < 0x20) {
            len += (size_t)snprintf(out_buf + len, 7, "\\u%04x", msg[i]);
        } else {
            out_buf[len++] = (char)msg[i];
        }
    }
    len += (size_t)snprintf(out_buf + len, sizeof out_buf - len,
                            "\",\"errorType\":\"HostError\"}");
    return set_result(1, out_buf, (uint32_t)len);
}

/* log_warning logs, through the host, a warning with one attribute. The
 * record is the level (an i32, 4 for warn), the message as a field (a u32
 * length and the bytes), then a key field and a value field per
 * attribute. */
static void log_warning(const char *msg, const char *key, const char *value) {
    uint8_t rec[256];
    uint32_t off = 0, n;
    write_u32(rec + off, 4);
    off += 4;
    const char *fields[3] = {msg, key, value};
    for (int i = 0; i < 3; i++) {
        n = (uint32_t)strlen(fields[i]);
        write_u32(rec + off, n);
        memcpy(rec + off + 4, fields[i], n);
        off += 4 + n;
    }
    const uint8_t *out;
    uint32_t out_len;
    call_host(log_record, rec, off, &out, &out_len);
}

__attribute__((export_name("wasmlambda_v1_invoke")))
uint32_t wasmlambda_v1_invoke(uint32_t ptr, uint32_t len) {
    const uint8_t *env = (const uint8_t *)(uintptr_t)ptr;
    /* Skip the 20-byte header and six fields to reach the payload. (A
     * careful guest checks each length against len, as echo.c does.) */
    uint32_t off = 20;
    for (int i = 0; i < 6; i++)
        off += 4 + read_u32(env + off);
    uint32_t payload_len = read_u32(env + off);
    const uint8_t *payload = env + off + 4;
    (void)len;

    char bytes[16];
    snprintf(bytes, sizeof bytes, "%u", (unsigned)payload_len);
    log_warning("c guest called the host", "bytes", bytes);

    const uint8_t *out;
    uint32_t out_len, status;
    if (payload_len == 9 && memcmp(payload, "\"setting\"", 9) == 0)
        status = call_host(settings_get, "greeting", 8, &out, &out_len);
    else if (payload_len >= 5 && memcmp(payload, "\"fail", 5) == 0)
        status = call_host(test_fail, payload, payload_len, &out, &out_len);
    else
        status = call_host(test_echo, payload, payload_len, &out, &out_len);
    switch (status) {
    case 0:
        return set_result(0, out, out_len);
    case 1:
        return error_result(out, out_len);
    }
    return set_result(2, NULL, 0);
}
