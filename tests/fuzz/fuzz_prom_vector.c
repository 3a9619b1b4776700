/* libFuzzer target for the Prometheus query answer parser (lib/prom/prom.c): any input must
 * give either points whose values are finite and whose key labels are all set, or an error
 * with a message and no points; never a crash, a leak or a sanitizer report. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "prom/prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"namespace", "pod", "container"};
    /* the first byte picks how many key labels are asked for (1 to 3) */
    size_t n_keys = size ? 1 + data[0] % 3 : 2;
    struct prom_vector v;
    char err[200] = "";
    enum fs_err rc = prom_vector_parse((const char *)data, size, keys, n_keys, &v, err, sizeof(err));
    if (rc == FS_OK) {
        for (size_t i = 0; i < v.n; i++) {
            if (!isfinite(v.p[i].value))
                abort();
            for (size_t k = 0; k < n_keys; k++)
                if (!v.p[i].key[k])
                    abort();
        }
        prom_vector_release(&v);
    } else if (!err[0] || v.n || v.p) {
        abort();
    }
    return 0;
}
