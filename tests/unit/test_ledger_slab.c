/* Unit tests for lib/ledger/slab: slots are 64-byte aligned, zeroed, apart from each other
 * across chunks of every size (the 2 MiB ones included), and a freed slot comes back zeroed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ledger/slab.h"

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static void test_slots_aligned_zeroed_apart(void **state)
{
    (void)state;
    struct slab s;
    slab_init(&s, 1000); /* rounded up to 1024 */
    assert_int_equal(s.slot, 1024);
    enum { N = 6000 }; /* ~6 MiB: chunks of 64 KiB doubling up to 2 MiB, then several of those */
    unsigned char **p = calloc(N, sizeof(*p));
    assert_non_null(p);
    for (size_t i = 0; i < N; i++) {
        p[i] = slab_alloc(&s);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 64, 0);
        assert_true(all_zero(p[i], s.slot));
        memset(p[i], (int)(i % 251) + 1, s.slot); /* the whole slot: overlaps would show below */
    }
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(p[i][0], (unsigned char)(i % 251 + 1));
        assert_int_equal(p[i][s.slot - 1], (unsigned char)(i % 251 + 1));
    }
    /* freed slots are given again, zeroed, before new memory */
    slab_free(&s, p[10]);
    slab_free(&s, p[4000]);
    slab_free(&s, NULL);
    unsigned char *a = slab_alloc(&s), *b = slab_alloc(&s);
    assert_true((a == p[10] && b == p[4000]) || (a == p[4000] && b == p[10]));
    assert_true(all_zero(a, s.slot) && all_zero(b, s.slot));
    free(p);
    slab_release(&s);
    assert_null(s.chunks);
}

static void test_slot_larger_than_a_chunk(void **state)
{
    (void)state;
    struct slab s;
    slab_init(&s, 3 << 20); /* 3 MiB: one slot per chunk, chunks grown to fit */
    unsigned char *a = slab_alloc(&s), *b = slab_alloc(&s);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a + s.slot <= b || b + s.slot <= a);
    a[s.slot - 1] = 1;
    b[s.slot - 1] = 2;
    assert_int_equal(a[s.slot - 1], 1);
    slab_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slots_aligned_zeroed_apart),
        cmocka_unit_test(test_slot_larger_than_a_chunk),
    };
    return cmocka_run_group_tests_name("test_ledger_slab", tests, NULL, NULL);
}
