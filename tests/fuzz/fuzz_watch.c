/* libFuzzer target for the watch stream parser: the input is split into chunks at offsets
 * taken from its first bytes, framed into lines with a small bound, and every line is
 * decoded as a watch event. Nothing may crash, leak or grow past the bound. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kube/watch.h"

static int on_line(void *arg, const char *line, size_t len)
{
    struct kube_event ev;
    size_t *lines = arg;
    (*lines)++;
    if (kube_event_parse(line, len, &ev) == FS_OK) {
        /* what the informer reads from every event */
        (void)kube_event_type_name(ev.type);
        (void)json_object_get(json_object_get(ev.object, "metadata"), "name");
        kube_event_release(&ev);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t step = 1 + data[0] % 64; /* chunk size */
    struct kube_linebuf lb;
    size_t lines = 0;
    kube_linebuf_init(&lb, 4096);
    const char *p = (const char *)data + 1;
    size_t left = size - 1;
    while (left > 0) {
        size_t n = left < step ? left : step;
        if (kube_linebuf_feed(&lb, p, n, on_line, &lines, NULL) != FS_OK && kube_linebuf_pending(&lb) != 0)
            __builtin_trap(); /* an error must leave the buffer empty */
        if (kube_linebuf_pending(&lb) > 4096)
            __builtin_trap(); /* the bound holds */
        p += n;
        left -= n;
    }
    kube_linebuf_release(&lb);
    return 0;
}
