/* Reader of time series in CSV: a timestamp column and a value column (or a column
 * chosen by name), optional header, double-quoted fields, empty/NA values as gaps.
 * Regular timestamps with holes get NaN rows so that index = time step. Bounded:
 * lines up to CSV_MAX_LINE bytes, at most CSV_MAX_ROWS rows; errors name the line. */
#ifndef FC_CSV_H
#define FC_CSV_H

#include <stddef.h>

#include "common/fs_err.h"

#define CSV_MAX_LINE 65536
#define CSV_MAX_ROWS 10000000
#define CSV_MAX_FIELDS 256

struct csv_series {
    size_t n;
    double *t;          /* seconds since the epoch, or NULL when there is no time column */
    double *v;          /* values; NaN = missing */
    double step_s;      /* the regular step found (0 when none) */
    size_t filled;      /* NaN rows inserted for missing timestamps */
    char column[64];    /* name (or 1-based number) of the value column used */
};

struct csv_error {
    size_t line;        /* 1-based, 0 when not about a line */
    char msg[160];
};

/* column: a header name or a 1-based number; NULL picks the first numeric column
 * that is not the time column. The series is owned by the caller (csv_series_release). */
enum fs_err csv_series_parse(const char *buf, size_t len, const char *column, struct csv_series *out,
                             struct csv_error *err);
void csv_series_release(struct csv_series *s);

/* Parses "2014-02-14 14:30:00", "2014-02-14T14:30:00Z", "2014-02-14" or epoch seconds
 * into *t (UTC seconds). Returns 0 on success. */
int csv_parse_time(const char *s, double *t);

#endif
