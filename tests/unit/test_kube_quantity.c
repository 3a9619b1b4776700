/* Unit tests for lib/kube/quantity: every fixture row was produced by upstream
 * k8s.io/apimachinery (hack/bench/kube/quantityfix), so parse, canonical format, Value() and
 * MilliValue() are checked against the real implementation, not against our reading of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "kube/quantity.h"

struct fixture {
    const char *in;
    const char *canonical; /* NULL: upstream refuses the input */
    long long value;
    int value_fits;
    long long milli;
    int milli_fits;
};

static const struct fixture fixtures[] = {
#include "test_kube_quantity_fixtures.inc"
};

static void test_matches_upstream(void **state)
{
    (void)state;
    size_t n = sizeof(fixtures) / sizeof(fixtures[0]);
    assert_true(n > 100);
    for (size_t i = 0; i < n; i++) {
        const struct fixture *f = &fixtures[i];
        struct kube_quantity q;
        enum fs_err rc = kube_quantity_parse(f->in, strlen(f->in), &q);
        if (!f->canonical) {
            if (rc == FS_OK)
                fail_msg("\"%s\" should be refused", f->in);
            continue;
        }
        if (rc != FS_OK)
            fail_msg("\"%s\" refused: %d", f->in, rc);
        char buf[KUBE_QUANTITY_STR_MAX];
        assert_int_equal(kube_quantity_format(&q, buf, sizeof(buf)), FS_OK);
        if (strcmp(buf, f->canonical) != 0)
            fail_msg("\"%s\" formats as \"%s\", upstream \"%s\"", f->in, buf, f->canonical);
        int64_t v = 0, m = 0;
        enum fs_err vrc = kube_quantity_value(&q, &v);
        enum fs_err mrc = kube_quantity_milli(&q, &m);
        if (f->value_fits) {
            if (vrc != FS_OK || v != f->value)
                fail_msg("\"%s\" Value() %lld, upstream %lld", f->in, (long long)v, f->value);
        } else {
            assert_int_equal(vrc, FS_ERANGE);
        }
        if (f->milli_fits) {
            if (mrc != FS_OK || m != f->milli)
                fail_msg("\"%s\" MilliValue() %lld, upstream %lld", f->in, (long long)m, f->milli);
        } else {
            assert_int_equal(mrc, FS_ERANGE);
        }
        /* the canonical string parses back to the same value */
        struct kube_quantity back;
        assert_int_equal(kube_quantity_parse(buf, strlen(buf), &back), FS_OK);
        assert_int_equal(kube_quantity_cmp(&q, &back), 0);
    }
}

static void test_shortcuts(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(kube_parse_milli("250m", &v), FS_OK);
    assert_int_equal(v, 250);
    assert_int_equal(kube_parse_milli("2", &v), FS_OK);
    assert_int_equal(v, 2000);
    assert_int_equal(kube_parse_bytes("1.5Gi", &v), FS_OK);
    assert_int_equal(v, 1610612736);
    assert_int_equal(kube_parse_bytes("128974848", &v), FS_OK);
    assert_int_equal(v, 128974848);
    assert_int_equal(kube_parse_bytes("12kb", &v), FS_EPARSE);
    assert_int_equal(kube_parse_bytes(NULL, &v), FS_EINVAL);

    char buf[KUBE_QUANTITY_STR_MAX];
    assert_int_equal(kube_format_milli(1500, buf, sizeof(buf)), FS_OK);
    assert_string_equal(buf, "1500m");
    assert_int_equal(kube_format_milli(2000, buf, sizeof(buf)), FS_OK);
    assert_string_equal(buf, "2");
    assert_int_equal(kube_format_milli(0, buf, sizeof(buf)), FS_OK);
    assert_string_equal(buf, "0");
    assert_int_equal(kube_format_bytes(1073741824, buf, sizeof(buf)), FS_OK);
    assert_string_equal(buf, "1Gi");
    assert_int_equal(kube_format_bytes(1000, buf, sizeof(buf)), FS_OK);
    assert_string_equal(buf, "1k");
    assert_int_equal(kube_format_bytes(1536 * 1024, buf, sizeof(buf)), FS_OK);
    assert_string_equal(buf, "1536Ki");
    assert_int_equal(kube_format_bytes(1000000001, buf, sizeof(buf)), FS_OK);
    assert_string_equal(buf, "1000000001");
    /* a buffer too small is an error, not a truncated quantity */
    assert_int_equal(kube_format_bytes(1073741824, buf, 3), FS_ERANGE);
}

static void test_cmp_and_add(void **state)
{
    (void)state;
    struct kube_quantity a, b, c;
    assert_int_equal(kube_quantity_parse("1Gi", 3, &a), FS_OK);
    assert_int_equal(kube_quantity_parse("1G", 2, &b), FS_OK);
    assert_int_equal(kube_quantity_cmp(&a, &b), 1);
    assert_int_equal(kube_quantity_cmp(&b, &a), -1);
    assert_int_equal(kube_quantity_parse("1e400", 5, &c), FS_OK);
    assert_int_equal(kube_quantity_cmp(&c, &a), 1);   /* alignment overflows: still ordered */
    assert_int_equal(kube_quantity_parse("-1e400", 6, &c), FS_OK);
    assert_int_equal(kube_quantity_cmp(&c, &a), -1);

    struct kube_quantity sum;
    assert_int_equal(kube_quantity_parse("1500m", 5, &a), FS_OK);
    assert_int_equal(kube_quantity_parse("250m", 4, &b), FS_OK);
    assert_int_equal(kube_quantity_add(&a, &b, &sum), FS_OK);
    char buf[KUBE_QUANTITY_STR_MAX];
    assert_int_equal(kube_quantity_format(&sum, buf, sizeof(buf)), FS_OK);
    assert_string_equal(buf, "1750m");
    assert_true(kube_quantity_to_double(&sum) > 1.7499 && kube_quantity_to_double(&sum) < 1.7501);
    assert_int_equal(kube_quantity_parse("1e400", 5, &a), FS_OK);
    assert_int_equal(kube_quantity_parse("1n", 2, &b), FS_OK);
    assert_int_equal(kube_quantity_add(&a, &b, &sum), FS_ERANGE);
}

static void test_too_many_digits_is_range_error(void **state)
{
    (void)state;
    struct kube_quantity q;
    const char *s = "1234567890123456789012345678901234567890";
    assert_int_equal(kube_quantity_parse(s, strlen(s), &q), FS_ERANGE);
    assert_int_equal(kube_quantity_parse("1e999999999", 11, &q), FS_ERANGE);
    assert_int_equal(kube_quantity_parse("", 0, &q), FS_EPARSE);
    /* not NUL-terminated: only len bytes are read */
    assert_int_equal(kube_quantity_parse("100mXYZ", 4, &q), FS_OK);
    int64_t m;
    assert_int_equal(kube_quantity_milli(&q, &m), FS_OK);
    assert_int_equal(m, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_upstream),
        cmocka_unit_test(test_shortcuts),
        cmocka_unit_test(test_cmp_and_add),
        cmocka_unit_test(test_too_many_digits_is_range_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
