/* libFuzzer target for lib/kube/json.c: kube_json_load must accept exactly what jansson's
 * json_loadb accepts, build equal values and stop at the same offset in prefix mode; the
 * first input byte picks the flags. Any disagreement traps. (Also built from
 * tests/fuzz/corpus/fuzz_kube_json seeds by hack/fuzz.sh.) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0] & (KUBE_JSON_PREFIX | KUBE_JSON_REJECT_DUPLICATES);
    size_t jflags = ((flags & KUBE_JSON_PREFIX) ? JSON_DISABLE_EOF_CHECK : 0) |
                    ((flags & KUBE_JSON_REJECT_DUPLICATES) ? JSON_REJECT_DUPLICATES : 0);
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    json_error_t jerr;
    json_t *want = json_loadb(s, len, jflags, &jerr);
    json_t *got = NULL;
    size_t used = 0;
    enum fs_err rc = kube_json_load(s, len, flags, &got, &used);
    /* jansson's reader drops a NUL byte that follows a number ("[9\0,0]" loads as [9,0]), a
     * quirk of its character buffer; such input is only run (no crash, no leak), not compared */
    if (memchr(s, '\0', len)) {
        json_decref(want);
        json_decref(got);
        return 0;
    }
    if ((want != NULL) != (rc == FS_OK))
        __builtin_trap();
    if (want) {
        if (!json_equal(want, got))
            __builtin_trap();
        if ((flags & KUBE_JSON_PREFIX) && used != (size_t)jerr.position)
            __builtin_trap();
        /* text this library wrote reads back the same in trusted mode */
        char *text = json_dumps(got, JSON_COMPACT);
        json_t *again = NULL;
        if (text && (kube_json_load(text, strlen(text), KUBE_JSON_TRUSTED, &again, NULL) != FS_OK ||
                     !json_equal(want, again)))
            __builtin_trap();
        free(text);
        json_decref(again);
    }
    json_decref(want);
    json_decref(got);
    return 0;
}
