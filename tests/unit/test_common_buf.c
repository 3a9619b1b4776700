/* Unit tests for lib/common/buf: growth from the first capacity by doubling, the bound
 * exactly at and one past max, zero-length appends, reset and consume keeping the
 * allocation, release, and a failed allocation leaving the buffer as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"

/* Under ASan a request too large to satisfy must come back as NULL (as glibc's does), not
 * abort the test: that is how the failed allocation is provoked below. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static void test_init_allocates_nothing(void **state)
{
    (void)state;
    struct fs_buf b;
    fs_buf_init(&b, 100, 0);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 100);
    assert_int_equal(b.first_cap, FS_BUF_FIRST_CAP_DEFAULT);
    fs_buf_release(&b);
}

static void test_growth_doubles_and_keeps_bytes(void **state)
{
    (void)state;
    struct fs_buf b;
    char chunk[100], want[1000];
    fs_buf_init(&b, 1u << 20, 64);
    for (size_t i = 0; i < 10; i++) {
        memset(chunk, 'a' + (int)i, sizeof(chunk));
        memcpy(want + i * sizeof(chunk), chunk, sizeof(chunk));
        assert_int_equal(fs_buf_append(&b, chunk, sizeof(chunk)), FS_OK);
        size_t need = (i + 1) * sizeof(chunk) + 1;
        /* the smallest power-of-two multiple of first_cap that holds the bytes and '\0' */
        size_t cap = 64;
        while (cap < need)
            cap *= 2;
        assert_int_equal(b.cap, cap);
    }
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    assert_int_equal(b.data[b.len], '\0');
    fs_buf_release(&b);
}

static void test_first_append_allocates_first_cap(void **state)
{
    (void)state;
    struct fs_buf b;
    fs_buf_init(&b, 1u << 20, 16384);
    assert_int_equal(fs_buf_append(&b, "x", 1), FS_OK);
    assert_int_equal(b.cap, 16384);
    /* exactly filling it (bytes + '\0') does not reallocate */
    char *before = b.data;
    char fill[16382];
    memset(fill, 'y', sizeof(fill));
    assert_int_equal(fs_buf_append(&b, fill, sizeof(fill)), FS_OK);
    assert_int_equal(b.len, 16383);
    assert_int_equal(b.cap, 16384);
    assert_ptr_equal(b.data, before);
    /* one more byte needs room for the '\0' too: doubled */
    assert_int_equal(fs_buf_append(&b, "z", 1), FS_OK);
    assert_int_equal(b.cap, 32768);
    assert_string_equal(b.data + 16383, "z");
    fs_buf_release(&b);
}

static void test_bound_at_and_one_past_max(void **state)
{
    (void)state;
    struct fs_buf b;
    fs_buf_init(&b, 16, 4);
    assert_int_equal(fs_buf_append(&b, "0123456789", 10), FS_OK);
    /* reaching max exactly is allowed; the allocation is capped at max + 1 */
    assert_int_equal(fs_buf_append(&b, "abcdef", 6), FS_OK);
    assert_int_equal(b.len, 16);
    assert_int_equal(b.cap, 17);
    assert_string_equal(b.data, "0123456789abcdef");
    /* one byte past max is refused and changes nothing */
    assert_int_equal(fs_buf_append(&b, "g", 1), FS_ERANGE);
    assert_int_equal(b.len, 16);
    assert_string_equal(b.data, "0123456789abcdef");
    /* a zero-length append at the bound is fine */
    assert_int_equal(fs_buf_append(&b, NULL, 0), FS_OK);
    assert_int_equal(b.len, 16);
    fs_buf_release(&b);

    /* one past max in a single append on an empty buffer: refused, nothing allocated */
    fs_buf_init(&b, 16, 4);
    char big[17];
    memset(big, 'q', sizeof(big));
    assert_int_equal(fs_buf_append(&b, big, sizeof(big)), FS_ERANGE);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(fs_buf_append(&b, big, 16), FS_OK);
    assert_int_equal(b.len, 16);
    fs_buf_release(&b);
}

static void test_zero_length_append_terminates(void **state)
{
    (void)state;
    struct fs_buf b;
    fs_buf_init(&b, 8, 0);
    /* an empty line still yields a NUL-terminated (empty) string to read */
    assert_int_equal(fs_buf_append(&b, NULL, 0), FS_OK);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 9); /* the default first capacity, capped at max + 1 */
    fs_buf_release(&b);
}

static void test_reset_keeps_capacity(void **state)
{
    (void)state;
    struct fs_buf b;
    fs_buf_init(&b, 1000, 8);
    assert_int_equal(fs_buf_append(&b, "hello, world", 12), FS_OK);
    char *data = b.data;
    size_t cap = b.cap;
    fs_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    /* after a reset the whole bound is available again */
    char fill[1000];
    memset(fill, 'f', sizeof(fill));
    assert_int_equal(fs_buf_append(&b, fill, sizeof(fill)), FS_OK);
    assert_int_equal(b.len, 1000);
    fs_buf_release(&b);
}

static void test_consume_drops_a_prefix(void **state)
{
    (void)state;
    struct fs_buf b;
    fs_buf_init(&b, 64, 0);
    assert_int_equal(fs_buf_append(&b, "{\"a\":1},{\"b\":2", 14), FS_OK);
    size_t cap = b.cap;
    fs_buf_consume(&b, 8);
    assert_int_equal(b.len, 6);
    assert_string_equal(b.data, "{\"b\":2");
    assert_int_equal(b.cap, cap);
    fs_buf_consume(&b, 0);
    assert_string_equal(b.data, "{\"b\":2");
    assert_int_equal(fs_buf_append(&b, "}", 1), FS_OK);
    assert_string_equal(b.data, "{\"b\":2}");
    fs_buf_consume(&b, b.len);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    fs_buf_release(&b);
}

static void test_reserve_then_append_does_not_move(void **state)
{
    (void)state;
    struct fs_buf b;
    fs_buf_init(&b, 1u << 16, 16);
    assert_int_equal(fs_buf_reserve(&b, 5000), FS_OK);
    assert_true(b.cap >= 5001);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    char *data = b.data;
    char fill[1000];
    memset(fill, 'r', sizeof(fill));
    for (int i = 0; i < 5; i++)
        assert_int_equal(fs_buf_append(&b, fill, sizeof(fill)), FS_OK);
    assert_ptr_equal(b.data, data);
    assert_int_equal(fs_buf_reserve(&b, (1u << 16) - 5000 + 1), FS_ERANGE);
    assert_int_equal(b.len, 5000);
    fs_buf_release(&b);
}

static void test_release_empties_and_allows_reuse(void **state)
{
    (void)state;
    struct fs_buf b;
    fs_buf_init(&b, 32, 0);
    assert_int_equal(fs_buf_append(&b, "abc", 3), FS_OK);
    fs_buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 32);
    fs_buf_release(&b); /* twice is harmless */
    assert_int_equal(fs_buf_append(&b, "de", 2), FS_OK);
    assert_string_equal(b.data, "de");
    fs_buf_release(&b);
}

static void test_failed_allocation_leaves_bytes(void **state)
{
    (void)state;
    struct fs_buf b;
    /* no allocator gives more than PTRDIFF_MAX bytes: the growth to that size fails */
    fs_buf_init(&b, SIZE_MAX, 0);
    assert_int_equal(b.max, SIZE_MAX - 1);
    assert_int_equal(fs_buf_append(&b, "abc", 3), FS_OK);
    char *data = b.data;
    size_t cap = b.cap;
    assert_int_equal(fs_buf_reserve(&b, (size_t)PTRDIFF_MAX + 1), FS_ENOMEM);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    assert_int_equal(fs_buf_append(&b, "d", 1), FS_OK);
    assert_string_equal(b.data, "abcd");
    fs_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_allocates_nothing),
        cmocka_unit_test(test_growth_doubles_and_keeps_bytes),
        cmocka_unit_test(test_first_append_allocates_first_cap),
        cmocka_unit_test(test_bound_at_and_one_past_max),
        cmocka_unit_test(test_zero_length_append_terminates),
        cmocka_unit_test(test_reset_keeps_capacity),
        cmocka_unit_test(test_consume_drops_a_prefix),
        cmocka_unit_test(test_reserve_then_append_does_not_move),
        cmocka_unit_test(test_release_empties_and_allows_reuse),
        cmocka_unit_test(test_failed_allocation_leaves_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
