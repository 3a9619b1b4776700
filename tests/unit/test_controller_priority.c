/* Unit tests for controller/priority (class bands, earliest deadline first, load) and
 * controller/duration (the Go durations of the CRDs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "../../controller/duration.c"
#include "../../controller/priority.c"

#define NOW 1800000000LL

static double score(enum sla_class c, int has_deadline, int64_t in_s, double remaining, double load)
{
    struct priority_input in = {c, has_deadline, NOW + in_s, NOW, remaining, load};
    struct priority_result r;
    assert_int_equal(priority_compute(&in, &r), FS_OK);
    assert_true(isfinite(r.score));
    return r.score;
}

static void test_class_band_dominates(void **state)
{
    (void)state;
    /* a critical task with no deadline outranks a high one about to miss its deadline */
    assert_true(score(SLA_CRITICAL, 0, 0, 60, 0) > score(SLA_HIGH, 1, -3600, 600, 0.9));
    assert_true(score(SLA_HIGH, 0, 0, 60, 0) > score(SLA_NORMAL, 1, 10, 600, 0));
    assert_true(score(SLA_LOW, 0, 0, 60, 0) > score(SLA_BATCH, 1, -100000, 600, 0.9));
    assert_true(score(SLA_BATCH, 0, 0, 60, 0) >= 0);
    assert_true(score(SLA_CRITICAL, 1, -1000000000, 60, 0.95) < SLA_NCLASS * PRIORITY_BAND);
}

static void test_earliest_deadline_first_within_a_class(void **state)
{
    (void)state;
    double s10m = score(SLA_NORMAL, 1, 600 + 300, 300, 0);
    double s1h = score(SLA_NORMAL, 1, 3600 + 300, 300, 0);
    double s1d = score(SLA_NORMAL, 1, 86400 + 300, 300, 0);
    double s30d = score(SLA_NORMAL, 1, 30 * 86400, 300, 0);
    double none = score(SLA_NORMAL, 0, 0, 300, 0);
    assert_true(s10m > s1h);
    assert_true(s1h > s1d);
    assert_true(s1d > s30d);
    assert_true(s30d > none);
    /* already late: later misses rank higher, and any late task is above any on-time one */
    double late1m = score(SLA_NORMAL, 1, 0, 60, 0);
    double late1h = score(SLA_NORMAL, 1, 0, 3600, 0);
    double ontime = score(SLA_NORMAL, 1, 301, 300, 0);
    assert_true(late1h > late1m);
    assert_true(late1m > ontime);
}

/* deadline in 1 h, 10 min of work, load 0.5: the queue adds 10 min, slack is 40 min, and the
 * urgency is 199998 * 3600 / (3600 + 2400) inside the normal band (400000). */
static void test_load_shrinks_slack(void **state)
{
    (void)state;
    struct priority_input in = {SLA_NORMAL, 1, NOW + 3600, NOW, 600, 0.5};
    struct priority_result r;
    assert_int_equal(priority_compute(&in, &r), FS_OK);
    assert_true(fabs(r.wait_s - 600) < 1e-9);
    assert_true(fabs(r.slack_s - 2400) < 1e-9);
    assert_true(fabs(r.score - (400000 + 199998.0 * 3600 / 6000)) < 1e-6);
    assert_int_equal(r.value, 519998);
    assert_string_equal(r.reason, "class=normal slack=40m wait=10m load=0.50");

    in.load = 0;
    struct priority_result idle;
    assert_int_equal(priority_compute(&in, &idle), FS_OK);
    assert_true(r.score > idle.score);
    /* load beyond saturation is taken at 0.95: finite wait of 19 service times */
    in.load = 7.5;
    assert_int_equal(priority_compute(&in, &r), FS_OK);
    assert_true(fabs(r.wait_s - 600 * 19) < 1e-6);
    /* load does not move a task without a deadline */
    assert_true(score(SLA_LOW, 0, 0, 600, 0) == score(SLA_LOW, 0, 0, 600, 0.9));
}

static void test_bad_input_is_refused(void **state)
{
    (void)state;
    struct priority_result r;
    struct priority_input in = {SLA_NORMAL, 1, NOW, NOW, NAN, 0};
    assert_int_equal(priority_compute(&in, &r), FS_EINVAL);
    assert_string_equal(r.reason, "remaining duration must be finite and not negative");
    in.remaining_s = 10;
    in.load = -1;
    assert_int_equal(priority_compute(&in, &r), FS_EINVAL);
    assert_string_equal(r.reason, "cluster load must be finite and not negative");
    in.load = INFINITY;
    assert_int_equal(priority_compute(&in, &r), FS_EINVAL);
    in.load = 0;
    in.cls = (enum sla_class)9;
    assert_int_equal(priority_compute(&in, &r), FS_EINVAL);
}

static int key_cmp(const void *a, const void *b)
{
    return priority_key_cmp(a, b);
}

static void test_admission_order_is_total(void **state)
{
    (void)state;
    struct priority_key k[] = {
        {100, INT64_MAX, 5, "e"},
        {300, INT64_MAX, 9, "a"},
        {100, 2000, 9, "d"},
        {100, 1000, 9, "c"},
        {100, INT64_MAX, 5, "b"},
        {100, INT64_MAX, 1, "f"},
    };
    qsort(k, 6, sizeof(k[0]), key_cmp);
    const char *want[] = {"a", "c", "d", "f", "b", "e"};
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(k[i].name, want[i]);
}

static void test_class_names(void **state)
{
    (void)state;
    enum sla_class c;
    for (int i = 0; i < SLA_NCLASS; i++) {
        assert_int_equal(sla_class_parse(sla_class_name((enum sla_class)i), &c), FS_OK);
        assert_int_equal(c, i);
    }
    assert_int_equal(sla_class_parse("urgent", &c), FS_EINVAL);
    assert_int_equal(sla_class_parse(NULL, &c), FS_EINVAL);
}

static void test_duration_parse(void **state)
{
    (void)state;
    struct { const char *s; double want; } ok[] = {
        {"90s", 90}, {"5m", 300}, {"1h30m", 5400}, {"1.5h", 5400}, {"250ms", 0.25},
        {"0s", 0}, {"2h45m30s", 9930}, {"100us", 1e-4}, {"7ns", 7e-9},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        double v = -1;
        assert_int_equal(duration_parse(ok[i].s, &v), FS_OK);
        assert_true(fabs(v - ok[i].want) < 1e-12);
    }
    const char *bad[] = {"", "5", "m", "1x", "-5s", "1e3s", "0x10s", ".5s", "5.s", "1..5s",
                         "5 s", "5s ", "1h-3m"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        double v = -1;
        assert_int_equal(duration_parse(bad[i], &v), FS_EPARSE);
        assert_true(v == -1);
    }
    double v;
    assert_int_equal(duration_parse(NULL, &v), FS_EPARSE);
    assert_int_equal(duration_parse("1000000h", &v), FS_ERANGE);
}

static void test_duration_format(void **state)
{
    (void)state;
    struct { double s; const char *want; } cases[] = {
        {270, "4m30s"}, {0, "0s"}, {0.7, "0s"}, {3600, "1h"}, {3661, "1h1m1s"},
        {-90, "-1m30s"}, {NAN, "?"}, {INFINITY, "?"}, {86400 * 2 + 60, "48h1m"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[DURATION_STR_MAX];
        duration_format(cases[i].s, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].want);
    }
    char tiny[4];
    duration_format(3661, tiny, sizeof(tiny));
    assert_true(strlen(tiny) < sizeof(tiny));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_class_band_dominates),
        cmocka_unit_test(test_earliest_deadline_first_within_a_class),
        cmocka_unit_test(test_load_shrinks_slack),
        cmocka_unit_test(test_bad_input_is_refused),
        cmocka_unit_test(test_admission_order_is_total),
        cmocka_unit_test(test_class_names),
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_duration_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
