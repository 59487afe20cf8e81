/*
 * readfile.c: a WASI command (compatibility mode, docs/ABI.md) that reads a
 * file by the path it is given, relative to its working directory unless
 * the path is absolute.
 *
 * Build:
 *
 *   clang --target=wasm32-wasi -O2 -o readfile.wasm readfile.c
 *
 * Behaviour: standard input is the path, as a JSON string ("data.txt",
 * quotes included; no escapes). It prints {"cwd":CWD,"data":TEXT} on
 * standard output, CWD from getcwd and TEXT the file's first 4 KiB (with '"',
 * '\\' and control characters dropped, to keep the JSON valid), and exits 0.
 * A file it cannot open prints
 * {"errorMessage":"open PATH: ERROR","errorType":"OpenError"} and exits 1.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    char in[512], path[512], cwd[512], data[4096];
    size_t n = fread(in, 1, sizeof in - 1, stdin);
    in[n] = 0;
    char *p = strchr(in, '"');
    char *q = p ? strchr(p + 1, '"') : NULL;
    if (q == NULL) {
        fputs("{\"errorMessage\":\"want a JSON string\",\"errorType\":\"OpenError\"}", stdout);
        return 1;
    }
    *q = 0;
    strcpy(path, p + 1);
    if (getcwd(cwd, sizeof cwd) == NULL)
        strcpy(cwd, "?");

    FILE *f = fopen(path, "r");
    if (f == NULL) {
        printf("{\"errorMessage\":\"open %s: %s\",\"errorType\":\"OpenError\"}",
               path, strerror(errno));
        return 1;
    }
    size_t k = fread(data, 1, sizeof data - 1, f);
    fclose(f);
    size_t j = 0;
    for (size_t i = 0; i < k; i++)
        if (data[i] != '"' && data[i] != '\\' && (unsigned char)data[i] >= 0x20)
            data[j++] = data[i];
    data[j] = 0;
    printf("{\"cwd\":\"%s\",\"data\":\"%s\"}", cwd, data);
    return 0;
}
