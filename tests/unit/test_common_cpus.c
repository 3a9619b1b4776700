/* Unit tests for lib/common/cpus: a cgroup v2 cpu.max limit bounds the CPUs (rounded up),
 * "max" and an absent or malformed file do not, and the answer is at least 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/cpus.h"

static unsigned with_cpu_max(const char *content, unsigned cpus)
{
    char path[] = "/tmp/foresight-cpumax-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    unsigned got = fs_usable_cpus_from(path, cpus);
    unlink(path);
    return got;
}

static void test_limit_bounds_cpus(void **state)
{
    (void)state;
    assert_int_equal(with_cpu_max("200000 100000\n", 8), 2);
    assert_int_equal(with_cpu_max("150000 100000\n", 8), 2); /* 1.5 CPUs keep 2 threads busy */
    assert_int_equal(with_cpu_max("50000 100000\n", 8), 1);
    assert_int_equal(with_cpu_max("800000 100000\n", 4), 4); /* more quota than CPUs */
}

static void test_no_limit(void **state)
{
    (void)state;
    assert_int_equal(with_cpu_max("max 100000\n", 6), 6);
    assert_int_equal(with_cpu_max("garbage\n", 6), 6);
    assert_int_equal(with_cpu_max("0 100000\n", 6), 6);
    assert_int_equal(fs_usable_cpus_from("/nonexistent/cpu.max", 3), 3);
    assert_int_equal(fs_usable_cpus_from("/nonexistent/cpu.max", 0), 1);
    assert_true(fs_usable_cpus() >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_bounds_cpus),
        cmocka_unit_test(test_no_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
