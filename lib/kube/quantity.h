/* Kubernetes resource quantities ("100m", "1.5Gi", "2e3", "0.1", "1000000n"), parsed and
 * formatted exactly as k8s.io/apimachinery/pkg/api/resource does: values are exact decimals
 * (mantissa * 10^exp10); parsing rounds up (away from zero) below 1n, caps BinarySI at
 * 2^63-1; formatting is the canonical form (largest suffix, no fractional digits).
 * Like upstream, an input already in a form its fast path keeps ("+1", "2E3") is echoed back
 * by format. Deviation: more than 36 significant digits is FS_ERANGE (upstream has big
 * decimals); inputs longer than 31 bytes are not echoed, only formatted canonically.
 * Owner: issue 3 (lib/kube). Users: controller, extender, forecast, ledger. */
#ifndef KUBE_QUANTITY_H
#define KUBE_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

#include "common/fs_err.h"

enum kube_qformat {
    KUBE_Q_DECIMAL_SI,       /* k, M, G, m, u, n, ... */
    KUBE_Q_BINARY_SI,        /* Ki, Mi, Gi, ... */
    KUBE_Q_DECIMAL_EXPONENT, /* 1e3, 2E-3 */
};

struct kube_quantity {
    __int128 mant;           /* value = mant * 10^exp10, exactly */
    int32_t exp10;
    enum kube_qformat format;
    char orig[32];           /* the input when upstream's String() would return it, else "" */
};

#define KUBE_QUANTITY_STR_MAX 64 /* enough for any formatted quantity, with the NUL */

/* Parses s (len bytes, no NUL needed). FS_EPARSE for a malformed number or unknown suffix,
 * FS_ERANGE when it is too large to hold exactly. */
enum fs_err kube_quantity_parse(const char *s, size_t len, struct kube_quantity *q);
/* Canonical string into buf; FS_ERANGE if len is too small. */
enum fs_err kube_quantity_format(const struct kube_quantity *q, char *buf, size_t len);

/* The value scaled to 10^scale units, rounded up away from zero (Value(): scale 0,
 * MilliValue(): scale -3). FS_ERANGE if it does not fit int64. */
enum fs_err kube_quantity_scaled(const struct kube_quantity *q, int scale, int64_t *out);
static inline enum fs_err kube_quantity_milli(const struct kube_quantity *q, int64_t *out)
{
    return kube_quantity_scaled(q, -3, out);
}
static inline enum fs_err kube_quantity_value(const struct kube_quantity *q, int64_t *out)
{
    return kube_quantity_scaled(q, 0, out);
}
/* The value as a double (approximate, for forecasting). */
double kube_quantity_to_double(const struct kube_quantity *q);
/* -1, 0, 1. */
int kube_quantity_cmp(const struct kube_quantity *a, const struct kube_quantity *b);
/* *out = a + b, keeping a's format. FS_ERANGE on overflow. */
enum fs_err kube_quantity_add(const struct kube_quantity *a, const struct kube_quantity *b,
                              struct kube_quantity *out);

/* Shortcuts for JSON strings: "250m" -> 250 millicores; "1Gi" -> 1073741824 bytes. */
enum fs_err kube_parse_milli(const char *s, int64_t *milli);
enum fs_err kube_parse_bytes(const char *s, int64_t *bytes);
/* Canonical strings: milli 1500 -> "1500m", 2000 -> "2"; bytes 1073741824 -> "1Gi",
 * 1000 -> "1k"... (bytes use BinarySI when exact, as a memory request would). */
enum fs_err kube_format_milli(int64_t milli, char *buf, size_t len);
enum fs_err kube_format_bytes(int64_t bytes, char *buf, size_t len);

#endif
