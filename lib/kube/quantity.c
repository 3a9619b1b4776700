/* Kubernetes quantities, following k8s.io/apimachinery/pkg/api/resource (quantity.go,
 * suffix.go, amount.go) rule for rule: parse sign, digits, fraction and suffix; round up to
 * 1n; cap BinarySI at 2^63-1; format in canonical form. Exact: __int128 mantissa, base-10 exponent. */
#include "kube/quantity.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MANT_DIGITS_MAX 36   /* leaves room to multiply by 100 while formatting */
#define EXP10_LIMIT 100000   /* exponents beyond this are refused as out of range */

static const __int128 I128_MAX = (__int128)(((unsigned __int128)1 << 127) - 1);

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 10^n for 0 <= n <= 38, or 0 when it does not fit. */
static __int128 pow10_i128(int n)
{
    if (n < 0 || n > 38)
        return 0;
    __int128 p = 1;
    for (int i = 0; i < n; i++)
        p *= 10;
    return p;
}

/* Splits s as parseQuantityString does. Returns 0 on success. */
struct qparts {
    int negative;
    const char *num;
    size_t num_len;
    const char *denom;
    size_t denom_len;
    const char *suffix;
    size_t suffix_len;
};

static int split_quantity(const char *s, size_t len, struct qparts *p)
{
    size_t pos = 0;
    memset(p, 0, sizeof(*p));
    if (pos < len && (s[0] == '-' || s[0] == '+')) {
        p->negative = s[0] == '-';
        pos++;
    }
    while (pos < len && s[pos] == '0')
        pos++;
    if (pos >= len)
        return 0; /* all zeros: the value is 0 */
    size_t start = pos;
    while (pos < len && is_digit(s[pos]))
        pos++;
    p->num = s + start;
    p->num_len = pos - start;
    if (pos < len && s[pos] == '.') {
        pos++;
        start = pos;
        while (pos < len && is_digit(s[pos]))
            pos++;
        p->denom = s + start;
        p->denom_len = pos - start; /* upstream accepts "1.G" */
    }
    size_t suffix_start = pos;
    while (pos < len && strchr("eEinumkKMGTP", s[pos]) && s[pos] != '\0')
        pos++;
    if (pos < len && (s[pos] == '-' || s[pos] == '+'))
        pos++;
    while (pos < len && is_digit(s[pos]))
        pos++;
    if (pos < len)
        return -1; /* stray character after the suffix */
    p->suffix = s + suffix_start;
    p->suffix_len = len - suffix_start;
    return 0;
}

/* suffix -> base (2 or 10), exponent, format; -1 if unknown. */
static int interpret_suffix(const char *sfx, size_t n, int *base, long *exponent,
                            enum kube_qformat *fmt)
{
    static const struct { const char *s; int base; int exp; enum kube_qformat fmt; } table[] = {
        {"", 10, 0, KUBE_Q_DECIMAL_SI},   {"n", 10, -9, KUBE_Q_DECIMAL_SI},
        {"u", 10, -6, KUBE_Q_DECIMAL_SI}, {"m", 10, -3, KUBE_Q_DECIMAL_SI},
        {"k", 10, 3, KUBE_Q_DECIMAL_SI},  {"M", 10, 6, KUBE_Q_DECIMAL_SI},
        {"G", 10, 9, KUBE_Q_DECIMAL_SI},  {"T", 10, 12, KUBE_Q_DECIMAL_SI},
        {"P", 10, 15, KUBE_Q_DECIMAL_SI}, {"E", 10, 18, KUBE_Q_DECIMAL_SI},
        {"Ki", 2, 10, KUBE_Q_BINARY_SI},  {"Mi", 2, 20, KUBE_Q_BINARY_SI},
        {"Gi", 2, 30, KUBE_Q_BINARY_SI},  {"Ti", 2, 40, KUBE_Q_BINARY_SI},
        {"Pi", 2, 50, KUBE_Q_BINARY_SI},  {"Ei", 2, 60, KUBE_Q_BINARY_SI},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strlen(table[i].s) == n && (n == 0 || memcmp(table[i].s, sfx, n) == 0)) {
            *base = table[i].base;
            *exponent = table[i].exp;
            *fmt = table[i].fmt;
            return 0;
        }
    }
    if (n > 1 && (sfx[0] == 'e' || sfx[0] == 'E')) {
        /* strconv.ParseInt: optional sign, then at least one digit, nothing else */
        size_t i = 1;
        int neg = 0;
        if (sfx[i] == '+' || sfx[i] == '-') {
            neg = sfx[i] == '-';
            i++;
        }
        if (i >= n)
            return -1;
        long v = 0;
        for (; i < n; i++) {
            if (!is_digit(sfx[i]))
                return -1;
            if (v < EXP10_LIMIT * 10L)
                v = v * 10 + (sfx[i] - '0');
        }
        *base = 10;
        *exponent = neg ? -v : v;
        *fmt = KUBE_Q_DECIMAL_EXPONENT;
        return 0;
    }
    return -1;
}

/* Divides |m| by 10^n rounding away from zero (n >= 1); the sign of m is kept. */
static __int128 div_pow10_up(__int128 m, int n)
{
    if (m == 0)
        return 0;
    int neg = m < 0;
    __int128 a = neg ? -m : m;
    __int128 d = pow10_i128(n);
    __int128 r;
    if (d == 0) /* 10^n > any mantissa: the quotient rounds up to 1 */
        r = 1;
    else
        r = a / d + (a % d != 0);
    return neg ? -r : r;
}

/* m * 10^n into *out; -1 on overflow. */
static int mul_pow10(__int128 m, int n, __int128 *out)
{
    if (m == 0) {
        *out = 0;
        return 0;
    }
    __int128 r = m;
    for (int i = 0; i < n; i++) {
        if (__builtin_mul_overflow(r, (__int128)10, &r))
            return -1;
    }
    *out = r;
    return 0;
}

/* ParseQuantity's fast path stores the input string and String() returns it unchanged
 * when it is "canonical enough"; this reproduces that decision. */
static int upstream_keeps_string(const struct qparts *p, int base, long exponent,
                                 enum kube_qformat fmt)
{
    size_t num_len = p->num_len ? p->num_len : 1; /* an empty numerator counts as "0" */
    char first = p->num_len ? p->num[0] : '0';
    if (p->num_len == 0 && p->denom_len > 0)
        first = '0';
    if (fmt == KUBE_Q_BINARY_SI || base == 2) {
        if (p->denom_len > 0 || exponent < 0)
            return 0;
        long precision = 15 - (long)num_len - (long)((float)exponent * 3 / 10) - 1;
        if (precision < 0)
            return 0;
        /* value * 2^exponent must fit int64 */
        int64_t v = 0;
        for (size_t i = 0; i < p->num_len; i++)
            v = v * 10 + (p->num[i] - '0');
        if (exponent >= 63 || (v != 0 && v > (INT64_MAX >> exponent)))
            return 0;
        return exponent % 10 == 0 && (v & 7) != 0;
    }
    long precision = 18 - (long)(num_len + p->denom_len);
    if (precision < 0)
        return 0;
    long scale = exponent - (long)p->denom_len;
    if (scale < -9)
        return 0;
    /* shifted = num + denom must not end in "000" nor start with '0' */
    char last[3];
    size_t total = num_len + p->denom_len, k = 0;
    for (size_t i = total >= 3 ? total - 3 : 0; i < total; i++) {
        size_t j = i;
        char c;
        if (p->num_len == 0)
            c = j == 0 ? '0' : p->denom[j - 1];
        else
            c = j < p->num_len ? p->num[j] : p->denom[j - p->num_len];
        last[k++] = c;
    }
    int ends_000 = k == 3 && last[0] == '0' && last[1] == '0' && last[2] == '0';
    return scale % 3 == 0 && !ends_000 && first != '0';
}

enum fs_err kube_quantity_parse(const char *s, size_t len, struct kube_quantity *q)
{
    struct qparts p;
    int base = 10;
    long exponent = 0;
    enum kube_qformat fmt = KUBE_Q_DECIMAL_SI;

    memset(q, 0, sizeof(*q));
    if (!s || len == 0)
        return FS_EPARSE;
    if (len == 1 && s[0] == '0')
        return FS_OK;
    if (split_quantity(s, len, &p) != 0)
        return FS_EPARSE;
    if (interpret_suffix(p.suffix, p.suffix_len, &base, &exponent, &fmt) != 0)
        return FS_EPARSE;
    if (exponent > EXP10_LIMIT || exponent < -EXP10_LIMIT)
        return FS_ERANGE;

    /* trailing zeros of the fraction carry no value */
    size_t denom_len = p.denom_len;
    while (denom_len > 0 && p.denom[denom_len - 1] == '0')
        denom_len--;
    /* leading zeros of the fraction when the integer part is empty */
    __int128 mant = 0;
    size_t digits = 0;
    for (size_t i = 0; i < p.num_len + denom_len; i++) {
        char c = i < p.num_len ? p.num[i] : p.denom[i - p.num_len];
        if (digits == 0 && c == '0')
            continue;
        if (++digits > MANT_DIGITS_MAX)
            return FS_ERANGE;
        mant = mant * 10 + (c - '0');
    }
    int32_t exp10 = -(int32_t)denom_len;
    if (base == 10) {
        exp10 += (int32_t)exponent;
    } else {
        for (long i = 0; i < exponent; i++) {
            if (__builtin_mul_overflow(mant, (__int128)2, &mant))
                return FS_ERANGE;
        }
    }
    if (p.negative)
        mant = -mant;
    /* round up (away from zero) to the nano scale */
    if (exp10 < -9) {
        mant = div_pow10_up(mant, -9 - exp10);
        exp10 = -9;
    }
    if (fmt == KUBE_Q_BINARY_SI && mant != 0) {
        /* cap at 2^63-1, and show values in (0, 1) as DecimalSI */
        __int128 cap = (__int128)INT64_MAX;
        __int128 abs = mant < 0 ? -mant : mant;
        int over;
        if (exp10 >= 0) {
            __int128 v;
            over = mul_pow10(abs, exp10, &v) != 0 || v > cap;
        } else {
            __int128 ip = abs / (pow10_i128(-exp10) ? pow10_i128(-exp10) : I128_MAX);
            over = ip > cap || (ip == cap && abs % pow10_i128(-exp10) != 0);
        }
        if (over && mant > 0) {
            mant = cap;
            exp10 = 0;
        }
        /* upstream only caps positive values (it compares the magnitude, then restores
         * the sign), so a large negative BinarySI is capped to -(2^63-1) as well */
        if (over && mant < 0) {
            mant = -cap;
            exp10 = 0;
        }
        if (!p.negative && exp10 < 0 && abs < pow10_i128(-exp10))
            fmt = KUBE_Q_DECIMAL_SI;
        if (p.negative && exp10 < 0 && abs < pow10_i128(-exp10))
            fmt = KUBE_Q_DECIMAL_SI;
    }
    q->mant = mant;
    q->exp10 = exp10;
    q->format = fmt;
    if (upstream_keeps_string(&p, base, exponent, fmt) && len < sizeof(q->orig)) {
        memcpy(q->orig, s, len);
        q->orig[len] = '\0';
    }
    return FS_OK;
}

/* Writes the decimal digits of a non-negative v; returns the length. */
static size_t i128_to_str(__int128 v, char *buf)
{
    char tmp[48];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v > 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

static enum fs_err emit(int negative, __int128 abs, const char *suffix, char *buf, size_t len)
{
    char digits[48];
    i128_to_str(abs, digits);
    int n = snprintf(buf, len, "%s%s%s", negative ? "-" : "", digits, suffix);
    if (n < 0 || (size_t)n >= len)
        return FS_ERANGE;
    return FS_OK;
}

enum fs_err kube_quantity_format(const struct kube_quantity *q, char *buf, size_t len)
{
    if (!buf || len == 0)
        return FS_ERANGE;
    if (q->orig[0]) {
        size_t n = strlen(q->orig);
        if (n >= len)
            return FS_ERANGE;
        memcpy(buf, q->orig, n + 1);
        return FS_OK;
    }
    if (q->mant == 0) {
        if (len < 2)
            return FS_ERANGE;
        memcpy(buf, "0", 2);
        return FS_OK;
    }
    int negative = q->mant < 0;
    __int128 abs = negative ? -q->mant : q->mant;
    int32_t exp = q->exp10;
    enum kube_qformat fmt = q->format;

    if (fmt == KUBE_Q_BINARY_SI) {
        /* |q| < 1024 or not an integer: DecimalSI, so nothing is rounded */
        __int128 ival = 0;
        int integral;
        if (exp >= 0) {
            integral = mul_pow10(abs, exp, &ival) == 0;
        } else {
            __int128 d = pow10_i128(-exp);
            integral = d != 0 && abs % d == 0;
            if (integral)
                ival = abs / d;
        }
        if (!integral || ival < 1024) {
            fmt = KUBE_Q_DECIMAL_SI;
        } else {
            static const char *const bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
            int e = 0;
            while (e < 6 && ival % 1024 == 0) {
                ival /= 1024;
                e++;
            }
            return emit(negative, ival, bin[e], buf, len);
        }
    }

    /* decimal: move factors of ten into the exponent, then make it a multiple of 3 */
    while (abs % 10 == 0) {
        abs /= 10;
        exp++;
    }
    while (((exp % 3) + 3) % 3 != 0) {
        if (__builtin_mul_overflow(abs, (__int128)10, &abs))
            return FS_ERANGE;
        exp--;
    }
    if (fmt == KUBE_Q_DECIMAL_EXPONENT) {
        char sfx[16] = "";
        if (exp != 0)
            snprintf(sfx, sizeof(sfx), "e%d", (int)exp);
        return emit(negative, abs, sfx, buf, len);
    }
    /* DecimalSI has suffixes from n (-9) to E (18); past E the digits carry the rest */
    while (exp > 18) {
        if (__builtin_mul_overflow(abs, (__int128)1000, &abs))
            return FS_ERANGE;
        exp -= 3;
    }
    static const char *const dec[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
    if (exp < -9)
        return FS_ERANGE; /* cannot come from parse, which rounds to 1n */
    return emit(negative, abs, dec[(exp + 9) / 3], buf, len);
}

enum fs_err kube_quantity_scaled(const struct kube_quantity *q, int scale, int64_t *out)
{
    long e = (long)q->exp10 - scale;
    __int128 v;
    if (e >= 0) {
        if (e > 40 && q->mant != 0)
            return FS_ERANGE;
        if (mul_pow10(q->mant, (int)e, &v) != 0)
            return FS_ERANGE;
    } else {
        v = div_pow10_up(q->mant, e < -60 ? 60 : (int)-e);
    }
    if (v > INT64_MAX || v < INT64_MIN)
        return FS_ERANGE;
    *out = (int64_t)v;
    return FS_OK;
}

double kube_quantity_to_double(const struct kube_quantity *q)
{
    return (double)q->mant * pow(10.0, (double)q->exp10);
}

/* Aligns a and b to the smaller exponent; -1 if one overflows (then *which says which). */
static int align(const struct kube_quantity *a, const struct kube_quantity *b, __int128 *ma,
                 __int128 *mb, int32_t *exp, int *which)
{
    int32_t e = a->exp10 < b->exp10 ? a->exp10 : b->exp10;
    *exp = e;
    if (mul_pow10(a->mant, a->exp10 - e, ma) != 0) {
        *which = 0;
        return -1;
    }
    if (mul_pow10(b->mant, b->exp10 - e, mb) != 0) {
        *which = 1;
        return -1;
    }
    return 0;
}

int kube_quantity_cmp(const struct kube_quantity *a, const struct kube_quantity *b)
{
    int sa = (a->mant > 0) - (a->mant < 0);
    int sb = (b->mant > 0) - (b->mant < 0);
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (sa == 0)
        return 0;
    __int128 ma, mb;
    int32_t e;
    int which;
    if (align(a, b, &ma, &mb, &e, &which) != 0) {
        /* the one that overflowed has the larger magnitude */
        int bigger_mag = which == 0 ? 1 : -1;
        return sa > 0 ? bigger_mag : -bigger_mag;
    }
    return (ma > mb) - (ma < mb);
}

enum fs_err kube_quantity_add(const struct kube_quantity *a, const struct kube_quantity *b,
                              struct kube_quantity *out)
{
    __int128 ma, mb, sum;
    int32_t e;
    int which;
    if (align(a, b, &ma, &mb, &e, &which) != 0)
        return FS_ERANGE;
    if (__builtin_add_overflow(ma, mb, &sum))
        return FS_ERANGE;
    out->mant = sum;
    out->exp10 = e;
    out->format = a->format;
    out->orig[0] = '\0';
    return FS_OK;
}

enum fs_err kube_parse_milli(const char *s, int64_t *milli)
{
    struct kube_quantity q;
    if (!s)
        return FS_EINVAL;
    enum fs_err rc = kube_quantity_parse(s, strlen(s), &q);
    if (rc != FS_OK)
        return rc;
    return kube_quantity_milli(&q, milli);
}

enum fs_err kube_parse_bytes(const char *s, int64_t *bytes)
{
    struct kube_quantity q;
    if (!s)
        return FS_EINVAL;
    enum fs_err rc = kube_quantity_parse(s, strlen(s), &q);
    if (rc != FS_OK)
        return rc;
    return kube_quantity_value(&q, bytes);
}

enum fs_err kube_format_milli(int64_t milli, char *buf, size_t len)
{
    struct kube_quantity q = {.mant = milli, .exp10 = -3, .format = KUBE_Q_DECIMAL_SI, .orig = ""};
    return kube_quantity_format(&q, buf, len);
}

enum fs_err kube_format_bytes(int64_t bytes, char *buf, size_t len)
{
    struct kube_quantity q = {.mant = bytes, .exp10 = 0, .format = KUBE_Q_BINARY_SI, .orig = ""};
    return kube_quantity_format(&q, buf, len);
}
