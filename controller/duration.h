/* Go-style durations as the CRDs write them ("90s", "5m", "1h30m", "1.5h", "250ms"): parsing
 * to seconds for spec fields and compact formatting for status ("4m30s"). Sub-second parts
 * are kept when parsing and dropped when formatting (status shows whole seconds). */
#ifndef FS_CONTROLLER_DURATION_H
#define FS_CONTROLLER_DURATION_H

#include <stddef.h>

#include "common/fs_err.h"

#define DURATION_STR_MAX 32

/* Parses s into seconds. FS_EPARSE when it is not a sequence of <number><unit> with units
 * ns, us, ms, s, m, h (no sign: the CRD fields are never negative); FS_ERANGE past 100 years. */
enum fs_err duration_parse(const char *s, double *seconds);

/* Formats whole seconds as "1h2m3s", "4m30s", "45s", "0s"; negative values get a leading '-';
 * non-finite values give "?". buf should hold DURATION_STR_MAX bytes. */
void duration_format(double seconds, char *buf, size_t len);

#endif
