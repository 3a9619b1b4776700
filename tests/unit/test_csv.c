/* Unit tests for lib/forecast/csv: the series a user gets from the CSV shapes the CLI
 * accepts, and the line-numbered errors for the ones it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "forecast/csv.h"

static enum fs_err parse(const char *text, const char *column, struct csv_series *s, struct csv_error *err)
{
    return csv_series_parse(text, strlen(text), column, s, err);
}

static void test_header_timestamp_and_value(void **state)
{
    (void)state;
    struct csv_series s;
    struct csv_error err;
    const char *t = "timestamp,value\r\n2014-04-10 00:00:00,1.5\r\n2014-04-10 00:05:00,2\r\n"
                    "2014-04-10 00:10:00,NA\r\n2014-04-10 00:15:00,\r\n";
    assert_int_equal(parse(t, NULL, &s, &err), FS_OK);
    assert_int_equal((int)s.n, 4);
    assert_true(s.v[0] == 1.5 && s.v[1] == 2 && isnan(s.v[2]) && isnan(s.v[3]));
    assert_non_null(s.t);
    assert_true(s.t[1] - s.t[0] == 300);
    assert_true(s.t[0] == 1397088000.0); /* 2014-04-10T00:00:00Z */
    assert_string_equal(s.column, "value");
    csv_series_release(&s);
}

static void test_missing_timestamps_become_gaps(void **state)
{
    (void)state;
    struct csv_series s;
    const char *t = "time,cpu,mem\n2024-01-01T00:00:00Z,1,10\n2024-01-01T00:05:00Z,2,20\n"
                    "2024-01-01T00:20:00Z,5,50\n2024-01-01T00:25:00Z,6,60\n";
    assert_int_equal(parse(t, "mem", &s, NULL), FS_OK);
    assert_int_equal((int)s.n, 6);
    assert_int_equal((int)s.filled, 2);
    assert_true(s.v[1] == 20 && isnan(s.v[2]) && isnan(s.v[3]) && s.v[4] == 50);
    assert_true(s.step_s == 300);
    csv_series_release(&s);
    /* by column number */
    assert_int_equal(parse(t, "2", &s, NULL), FS_OK);
    assert_true(s.v[0] == 1);
    csv_series_release(&s);
}

/* a hole of 4e22 steps (found by fuzzing: it overflowed a size_t) is refused, not filled */
static void test_absurd_gap_is_refused(void **state)
{
    (void)state;
    struct csv_series s;
    assert_int_equal(parse("3,\n4,\n5,\n4e22,\n", NULL, &s, NULL), FS_ERANGE);
    assert_int_equal(parse("1,1\n2,2\n3,3\n4e22,4\n", "2", &s, NULL), FS_ERANGE);
}

static void test_headerless_and_quoted(void **state)
{
    (void)state;
    struct csv_series s;
    assert_int_equal(parse("3\n4\n5\n", NULL, &s, NULL), FS_OK);
    assert_int_equal((int)s.n, 3);
    assert_null(s.t);
    assert_true(s.v[2] == 5);
    csv_series_release(&s);
    assert_int_equal(parse("\"id\",\"v\"\n\"a\",\"1\"\n\"b\",\"2\"\n", "v", &s, NULL), FS_OK);
    assert_int_equal((int)s.n, 2);
    assert_true(s.v[1] == 2);
    csv_series_release(&s);
    /* comments and blank lines are skipped */
    assert_int_equal(parse("# a comment\n\nvalue\n1\n\n2\n", NULL, &s, NULL), FS_OK);
    assert_int_equal((int)s.n, 2);
    csv_series_release(&s);
}

static void test_errors_name_the_line(void **state)
{
    (void)state;
    struct csv_series s;
    struct csv_error err;
    assert_int_equal(parse("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,x1\n", NULL, &s, &err),
                     FS_EPARSE);
    assert_int_equal((int)err.line, 3);
    assert_non_null(strstr(err.msg, "not a number"));
    assert_int_equal(parse("a,b\n1,2\n3\n", NULL, &s, &err), FS_EPARSE);
    assert_int_equal((int)err.line, 3);
    assert_non_null(strstr(err.msg, "wrong number of fields"));
    assert_int_equal(parse("v\n\"1\n", NULL, &s, &err), FS_EPARSE);
    assert_int_equal((int)err.line, 2);
    assert_int_equal(parse("timestamp,value\n2024-13-01 00:00:00,1\n", NULL, &s, &err), FS_EPARSE);
    assert_int_equal((int)err.line, 2);
    assert_int_equal(parse("a,b\n1,2\n", "nope", &s, &err), FS_EINVAL);
    assert_int_equal(parse("", NULL, &s, &err), FS_EDATA);
    assert_int_equal(parse("value\n", NULL, &s, &err), FS_EDATA);
    assert_int_equal(parse("t,v\n2024-01-01,1\n2023-01-01,2\n", NULL, &s, &err), FS_EPARSE);
    assert_non_null(strstr(err.msg, "increase"));
    assert_int_equal(parse("v\n1e999\n", NULL, &s, &err), FS_EPARSE);
    static const char nul[] = "v\n1\0\n";
    assert_int_equal(csv_series_parse(nul, sizeof(nul) - 1, NULL, &s, &err), FS_EPARSE);
    assert_int_equal((int)err.line, 2);
}

static void test_time_formats(void **state)
{
    (void)state;
    double t;
    assert_int_equal(csv_parse_time("1970-01-02", &t), 0);
    assert_true(t == 86400);
    assert_int_equal(csv_parse_time("1970-01-01T00:01:30.5Z", &t), 0);
    assert_true(t == 90.5);
    assert_int_not_equal(csv_parse_time("1970-01-01 25:00", &t), 0);
    assert_int_not_equal(csv_parse_time("yesterday", &t), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_timestamp_and_value),
        cmocka_unit_test(test_missing_timestamps_become_gaps),
        cmocka_unit_test(test_absurd_gap_is_refused),
        cmocka_unit_test(test_headerless_and_quoted),
        cmocka_unit_test(test_errors_name_the_line),
        cmocka_unit_test(test_time_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
