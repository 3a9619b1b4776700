/* kube_json_load: jansson's json_loadb with this library's flags and error words, for the
 * hot paths of watches and the informer cache (one place that says how they read JSON). */
#include <jansson.h>

#include "kube/internal.h"

enum fs_err kube_json_load(const char *s, size_t len, unsigned flags, json_t **out, size_t *used)
{
    size_t jflags = 0;
    if (flags & KUBE_JSON_PREFIX)
        jflags |= JSON_DISABLE_EOF_CHECK;
    if (flags & KUBE_JSON_REJECT_DUPLICATES)
        jflags |= JSON_REJECT_DUPLICATES;
    json_error_t jerr;
    *out = json_loadb(s, len, jflags, &jerr);
    if (used)
        *used = jerr.position > 0 ? (size_t)jerr.position : 0;
    if (!*out)
        return json_error_code(&jerr) == json_error_out_of_memory ? FS_ENOMEM : FS_EPARSE;
    return FS_OK;
}
