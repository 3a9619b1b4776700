/* Unit tests for lib/kube/json.c (kube_json_load): it must accept exactly what jansson's
 * json_loadb accepts and build equal values, on hand-picked edge cases and on many
 * deterministic mutations of real Kubernetes objects; the prefix mode stops where jansson's
 * JSON_DISABLE_EOF_CHECK stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/internal.h"

/* Loads s with both readers and checks they agree; returns 1 if accepted. */
static int agree(const char *s, size_t len, unsigned flags)
{
    size_t jflags = (flags & KUBE_JSON_REJECT_DUPLICATES) ? JSON_REJECT_DUPLICATES : 0;
    if (flags & KUBE_JSON_PREFIX)
        jflags |= JSON_DISABLE_EOF_CHECK;
    json_error_t jerr;
    json_t *want = json_loadb(s, len, jflags, &jerr);
    json_t *got = NULL;
    size_t used = 0;
    enum fs_err rc = kube_json_load(s, len, flags, &got, &used);
    if ((want != NULL) != (rc == FS_OK)) {
        print_error("disagree on %.*s: jansson %s (%s), kube %s\n", (int)(len > 200 ? 200 : len), s,
                    want ? "accepts" : "refuses", want ? "" : jerr.text, fs_strerror(rc));
        fail();
    }
    if (!want) {
        assert_int_equal(rc, FS_EPARSE);
        assert_null(got);
        return 0;
    }
    assert_true(json_equal(want, got));
    if (flags & KUBE_JSON_PREFIX)
        assert_int_equal(used, (size_t)jerr.position);
    else
        assert_int_equal(used, len);
    /* what we wrote ourselves reads back the same without the UTF-8 check */
    char *text = json_dumps(got, JSON_COMPACT);
    json_t *again = NULL;
    assert_non_null(text);
    assert_int_equal(kube_json_load(text, strlen(text), KUBE_JSON_TRUSTED, &again, NULL), FS_OK);
    assert_true(json_equal(want, again));
    free(text);
    json_decref(again);
    json_decref(want);
    json_decref(got);
    return 1;
}

static int agree_str(const char *s, unsigned flags)
{
    return agree(s, strlen(s), flags);
}

static const char *const VALID[] = {
    "{}",
    "[]",
    " \t\r\n{ \"a\" : [ 1 , -2 , 3.5 , -0 , -0.0 , 1e3 , 2E-2 , 4.5e+1 ] } \n",
    "{\"s\":\"plain\",\"e\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\",\"u\":\"\\u00e9\\u20AC\\ud83d\\ude00\"}",
    "{\"raw\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
    "{\"t\":true,\"f\":false,\"n\":null,\"nested\":{\"a\":{\"b\":[[],{},[{}]]}}}",
    "[9223372036854775807,-9223372036854775808,0,1e-400,123456789.125]",
    "{\"\":\"empty key\",\"k\\u0041\":\"escaped key\"}",
    "{\"dup\":1,\"dup\":2}",
    "{\"metadata\":{\"name\":\"bench-000001\",\"namespace\":\"foresight-bench-kube\",\"uid\":\"a8\","
    "\"resourceVersion\":\"272\",\"labels\":{\"app\":\"bench\"},\"managedFields\":[{\"manager\":\"x\","
    "\"fieldsV1\":{\"f:data\":{\".\":{},\"f:config.yaml\":{}}}}]},\"data\":{\"config.yaml\":"
    "\"replicas: 3\\nimage: example/app:1.2.3\\n\",\"html\":\"\\u003cb\\u003e\\u0026\"}}",
};

static const char *const INVALID[] = {
    "",
    "   ",
    "\"top-level string\"",
    "42",
    "true",
    "{",
    "{\"a\":1,}",
    "[1,]",
    "[01]",
    "[1.]",
    "[.5]",
    "[+1]",
    "[-]",
    "[1e]",
    "[1e+]",
    "[NaN]",
    "[Infinity]",
    "[tru]",
    "[nul]",
    "{\"a\" 1}",
    "{a:1}",
    "{\"a\":1}}",
    "{\"a\":1} x",
    "[\"unterminated]",
    "[\"ctl \x01\"]",
    "[\"tab \t\"]",
    "[\"\\x\"]",
    "[\"\\u12\"]",
    "[\"\\u12g4\"]",
    "[\"\\ud800\"]",
    "[\"\\ud800\\u0041\"]",
    "[\"\\udc00\"]",
    "[\"\\u0000\"]",
    "[\"\xc0\x80\"]",
    "[\"\xe0\x80\x80\"]",
    "[\"\xed\xa0\x80\"]",
    "[\"\xf5\x80\x80\x80\"]",
    "[\"\xf4\x90\x80\x80\"]",
    "[\"\xc3\"]",
    "[\"\x80\"]",
    "[9223372036854775808]",
    "[-9223372036854775809]",
    "[1e400]",
    "[-1e400]",
    "{\"a\":1,\"b\":2,\"a\":3}", /* with KUBE_JSON_REJECT_DUPLICATES only */
};

static void test_edge_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(VALID) / sizeof(VALID[0]); i++)
        assert_int_equal(agree_str(VALID[i], 0), 1);
    for (size_t i = 0; i + 1 < sizeof(INVALID) / sizeof(INVALID[0]); i++)
        assert_int_equal(agree_str(INVALID[i], 0), 0);
    const char *dup = INVALID[sizeof(INVALID) / sizeof(INVALID[0]) - 1];
    assert_int_equal(agree_str(dup, 0), 1);
    assert_int_equal(agree_str(dup, KUBE_JSON_REJECT_DUPLICATES), 0);
    /* an embedded NUL byte is refused, as a control character or a stray token */
    assert_int_equal(agree("[\"a\0b\"]", 7, 0), 0);
    assert_int_equal(agree("[1,\0]", 5, 0), 0);
}

static void test_depth_limit(void **state)
{
    (void)state;
    /* jansson counts every value, scalars too, up to 2048 */
    for (int depth = 2046; depth <= 2050; depth++) {
        size_t n = (size_t)depth * 2 + 1;
        char *s = malloc(n + 1);
        assert_non_null(s);
        memset(s, '[', (size_t)depth);
        s[depth] = '1';
        memset(s + depth + 1, ']', (size_t)depth);
        s[n] = '\0';
        agree(s, n, 0);
        free(s);
    }
}

static void test_prefix_stops_after_the_value(void **state)
{
    (void)state;
    assert_int_equal(agree_str("{\"a\":[1,2]}  ,{\"b\":2}]", KUBE_JSON_PREFIX), 1);
    assert_int_equal(agree_str("  [1] trailing", KUBE_JSON_PREFIX), 1);
    json_t *v = NULL;
    size_t used = 0;
    const char *s = "{\"a\":1},{\"b\":2}";
    assert_int_equal(kube_json_load(s, strlen(s), KUBE_JSON_PREFIX, &v, &used), FS_OK);
    assert_int_equal(used, 7);
    json_decref(v);
    assert_int_equal(kube_json_load(s + used + 1, strlen(s) - used - 1, KUBE_JSON_PREFIX, &v, &used),
                     FS_OK);
    assert_int_equal(json_integer_value(json_object_get(v, "b")), 2);
    json_decref(v);
    /* without the prefix flag the same text is refused */
    assert_int_equal(kube_json_load(s, strlen(s), 0, &v, NULL), FS_EPARSE);
    assert_null(v);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Mutations of valid documents (flips, inserted JSON punctuation, deletions, truncations):
 * the two readers must agree on every one. */
static void test_mutations_agree_with_jansson(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]\",:\\u0123456789abcdefABCDEF.eE+-tnrfl \t\n\x80\xc3\xe2\xf0\xbf";
    char buf[1024];
    int accepted = 0, refused = 0;
    for (int i = 0; i < 20000; i++) {
        const char *seed = VALID[next_rand() % (sizeof(VALID) / sizeof(VALID[0]))];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        int edits = 1 + (int)(next_rand() % 3);
        for (int e = 0; e < edits && len > 0; e++) {
            size_t at = next_rand() % len;
            switch (next_rand() % 4) {
            case 0: buf[at] = alphabet[next_rand() % (sizeof(alphabet) - 1)]; break;
            case 1:
                if (len + 1 < sizeof(buf)) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = alphabet[next_rand() % (sizeof(alphabet) - 1)];
                    len++;
                }
                break;
            case 2:
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
                break;
            case 3: len = at; break;
            }
        }
        unsigned flags = (unsigned)(next_rand() % 2 ? KUBE_JSON_REJECT_DUPLICATES : 0) |
                         (unsigned)(next_rand() % 4 == 0 ? KUBE_JSON_PREFIX : 0);
        if (agree(buf, len, flags))
            accepted++;
        else
            refused++;
    }
    /* both outcomes were exercised many times */
    assert_true(accepted > 1000);
    assert_true(refused > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_prefix_stops_after_the_value),
        cmocka_unit_test(test_mutations_agree_with_jansson),
    };
    return cmocka_run_group_tests_name("test_kube_json", tests, NULL, NULL);
}
