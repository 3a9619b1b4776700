/* libFuzzer target for the CSV series reader (lib/forecast/csv.c): any input must give
 * either a series whose values are finite or NaN and whose timestamps increase, or an
 * error with a message; never a crash, a leak or a sanitizer report. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "forecast/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct csv_series s;
    struct csv_error err;
    /* the first byte picks a column selection so that both code paths get exercised */
    const char *column = NULL;
    if (size > 0 && data[0] == '#')
        column = "value";
    else if (size > 0 && data[0] == '2')
        column = "2";
    enum fs_err rc = csv_series_parse((const char *)data, size, column, &s, &err);
    if (rc == FS_OK) {
        for (size_t i = 0; i < s.n; i++) {
            if (isinf(s.v[i]))
                abort();
            if (s.t && i > 0 && !(s.t[i] > s.t[i - 1]))
                abort();
        }
        csv_series_release(&s);
    } else if (err.msg[0] == 0) {
        abort();
    }
    return 0;
}
