/* Unit tests for lib/common: error names and log line formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/fs_err.h"
#include "common/log.h"

static void test_strerror_names_every_code(void **state)
{
    (void)state;
    for (int rc = FS_OK; rc <= FS_EDATA; rc++)
        assert_string_not_equal(fs_strerror((enum fs_err)rc), "unknown error");
    assert_string_equal(fs_strerror((enum fs_err)999), "unknown error");
}

/* Captures what log_kv writes to stderr. */
static char *capture_log(enum log_format fmt, enum log_level level, const char *msg, const char *const *kv)
{
    static char out[8192];
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    dup2(fileno(tmp), 2);
    log_setup(LOG_INFO, fmt);
    log_kv(level, msg, kv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, sizeof(out) - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    return out;
}

static void test_logfmt_quotes_and_escapes(void **state)
{
    (void)state;
    const char *kv[] = {"node", "n\"1", NULL};
    char *line = capture_log(LOG_LOGFMT, LOG_WARN, "bad\nthing", kv);
    assert_non_null(strstr(line, " level=\"warn\" msg=\"bad\\nthing\" node=\"n\\\"1\"\n"));
}

static void test_json_record(void **state)
{
    (void)state;
    const char *kv[] = {"k", "v", NULL};
    char *line = capture_log(LOG_JSON, LOG_ERROR, "m", kv);
    assert_non_null(strstr(line, "\"level\":\"error\",\"msg\":\"m\",\"k\":\"v\"}\n"));
}

static void test_debug_is_quiet_by_default(void **state)
{
    (void)state;
    char *line = capture_log(LOG_LOGFMT, LOG_DEBUG, "hidden", NULL);
    assert_string_equal(line, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_names_every_code),
        cmocka_unit_test(test_logfmt_quotes_and_escapes),
        cmocka_unit_test(test_json_record),
        cmocka_unit_test(test_debug_is_quiet_by_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
