/*
 * cat.c: a WASI command (it exports _start, not the ABI v1 exports), so the
 * host runs it in compatibility mode (docs/ABI.md, "Compatibility mode"):
 * a fresh instance per invocation, the event on standard input, the response
 * on standard output.
 *
 * Build:
 *
 *   clang --target=wasm32-wasi -O2 -o cat.wasm cat.c
 *
 * Behaviour:
 *
 *   - prints the environment variable WASMLAMBDA_REQUEST_ID on standard
 *     error ("cat guest: request <id>"), which the host sends to its log;
 *   - if standard input is exactly "fail" (the JSON string, quotes included),
 *     prints {"errorMessage":"cat failed","errorType":"CatError"} on standard
 *     output and exits with status 3: the host reports a function error of
 *     type CatError;
 *   - otherwise prints {"echo": <stdin>} on standard output, the event
 *     wrapped as it came, and exits 0. An empty standard input becomes
 *     {"echo": null}, so the response is always valid JSON when the event is.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    const char *id = getenv("WASMLAMBDA_REQUEST_ID");
    fprintf(stderr, "cat guest: request %s\n", id ? id : "(none)");

    /* Read all of standard input into a growing buffer. */
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (buf == NULL)
        return 1;
    for (;;) {
        if (len == cap) {
            char *p = realloc(buf, cap * 2);
            if (p == NULL)
                return 1;
            buf = p;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, stdin);
        len += n;
        if (n == 0)
            break; /* end of input or an error: either way, no more bytes */
    }

    if (len == 6 && memcmp(buf, "\"fail\"", 6) == 0) {
        fputs("{\"errorMessage\":\"cat failed\",\"errorType\":\"CatError\"}",
              stdout);
        exit(3); /* exit flushes stdout before proc_exit */
    }

    fputs("{\"echo\": ", stdout);
    if (len == 0)
        fputs("null", stdout);
    else
        fwrite(buf, 1, len, stdout);
    fputs("}", stdout);
    return 0;
}
