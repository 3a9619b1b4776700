/* Unit tests for lib/kube/watch: line framing across every chunk boundary, the line bound,
 * event decoding and its refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/watch.h"

struct collected {
    char lines[64][512];
    size_t n;
    size_t stop_after; /* 0 = never */
};

static int collect(void *arg, const char *line, size_t len)
{
    struct collected *c = arg;
    assert_true(c->n < 64);
    assert_true(len < 512);
    assert_int_equal(strlen(line), len); /* NUL-terminated at len */
    memcpy(c->lines[c->n], line, len + 1);
    c->n++;
    return c->stop_after && c->n == c->stop_after;
}

static const char *const STREAM =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"10\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\"},\"data\":{\"k\":\"v\\n\"}}}\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"12\"}}}\r\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"13\"}}}\n";

static void check_lines(const struct collected *c)
{
    assert_int_equal(c->n, 4);
    assert_non_null(strstr(c->lines[0], "\"ADDED\""));
    assert_non_null(strstr(c->lines[1], "\"v\\n\""));
    assert_string_equal(c->lines[2] + strlen(c->lines[2]) - 1, "\r"); /* '\r' is kept */
    assert_non_null(strstr(c->lines[3], "\"DELETED\""));
    for (size_t i = 0; i < c->n; i++) {
        struct kube_event ev;
        assert_int_equal(kube_event_parse(c->lines[i], strlen(c->lines[i]), &ev), FS_OK);
        kube_event_release(&ev);
    }
}

static void test_every_two_chunk_split(void **state)
{
    (void)state;
    size_t len = strlen(STREAM);
    for (size_t cut = 0; cut <= len; cut++) {
        struct kube_linebuf lb;
        struct collected c = {.n = 0};
        kube_linebuf_init(&lb, 1024);
        assert_int_equal(kube_linebuf_feed(&lb, STREAM, cut, collect, &c, NULL), FS_OK);
        assert_int_equal(kube_linebuf_feed(&lb, STREAM + cut, len - cut, collect, &c, NULL), FS_OK);
        assert_int_equal(kube_linebuf_pending(&lb), 0);
        check_lines(&c);
        kube_linebuf_release(&lb);
    }
}

static void test_random_chunks_and_single_bytes(void **state)
{
    (void)state;
    size_t len = strlen(STREAM);
    unsigned seed = 12345;
    for (int round = 0; round < 500; round++) {
        struct kube_linebuf lb;
        struct collected c = {.n = 0};
        kube_linebuf_init(&lb, 1024);
        size_t pos = 0;
        while (pos < len) {
            size_t n = round == 0 ? 1 : 1 + (size_t)rand_r(&seed) % 40;
            if (n > len - pos)
                n = len - pos;
            assert_int_equal(kube_linebuf_feed(&lb, STREAM + pos, n, collect, &c, NULL), FS_OK);
            pos += n;
        }
        check_lines(&c);
        kube_linebuf_release(&lb);
    }
}

static void test_line_bound_and_truncation(void **state)
{
    (void)state;
    struct kube_linebuf lb;
    struct collected c = {.n = 0};
    kube_linebuf_init(&lb, 16);
    /* exactly the bound is fine; one byte more is an error, whatever the chunking */
    assert_int_equal(kube_linebuf_feed(&lb, "0123456789abcdef\n", 17, collect, &c, NULL), FS_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(kube_linebuf_feed(&lb, "0123456789", 10, collect, &c, NULL), FS_OK);
    assert_int_equal(kube_linebuf_feed(&lb, "abcdefg", 7, collect, &c, NULL), FS_ERANGE);
    assert_int_equal(kube_linebuf_pending(&lb), 0);
    /* an unfinished line is visible as pending (a truncated stream) */
    assert_int_equal(kube_linebuf_feed(&lb, "{\"type\":", 8, collect, &c, NULL), FS_OK);
    assert_int_equal(kube_linebuf_pending(&lb), 8);
    kube_linebuf_release(&lb);
}

static void test_stop_from_callback(void **state)
{
    (void)state;
    struct kube_linebuf lb;
    struct collected c = {.n = 0, .stop_after = 2};
    int stopped = 0;
    kube_linebuf_init(&lb, 1024);
    assert_int_equal(kube_linebuf_feed(&lb, STREAM, strlen(STREAM), collect, &c, &stopped), FS_OK);
    assert_int_equal(stopped, 1);
    assert_int_equal(c.n, 2);
    assert_non_null(strstr(c.lines[1], "\"MODIFIED\"")); /* read whole before the buffer was reused */
    assert_int_equal(kube_linebuf_pending(&lb), 0);       /* the line fn stopped on is consumed */
    kube_linebuf_release(&lb);
}

static void test_event_parse(void **state)
{
    (void)state;
    struct kube_event ev;
    const char *ok = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\","
                     "\"resourceVersion\":\"77\"}}}";
    assert_int_equal(kube_event_parse(ok, strlen(ok), &ev), FS_OK);
    assert_int_equal(ev.type, KUBE_EVENT_MODIFIED);
    assert_string_equal(ev.resource_version, "77");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev.object, "metadata"), "name")), "p");
    kube_event_release(&ev);

    const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
                       "\"reason\":\"Expired\",\"message\":\"too old resource version: 1 (2)\"}}";
    assert_int_equal(kube_event_parse(gone, strlen(gone), &ev), FS_OK);
    assert_int_equal(ev.type, KUBE_EVENT_ERROR);
    assert_int_equal(ev.error_code, 410);
    kube_event_release(&ev);

    const char *bad[] = {
        "not json",
        "{\"type\":\"ADDED\"}",
        "{\"type\":\"SOMETHING\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}",
        "{\"type\":\"ADDED\",\"object\":[]}",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}",           /* no rv */
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}", /* no name */
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}",
        "{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{}}",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (kube_event_parse(bad[i], strlen(bad[i]), &ev) != FS_EPARSE)
            fail_msg("accepted: %s", bad[i]);
    }
    assert_string_equal(kube_event_type_name(KUBE_EVENT_BOOKMARK), "BOOKMARK");
}

/* The usual {"type":..,"object":..} line hands out the object's text as received (what the
 * informer caches); any other shape still parses, without the text. */
static void test_event_raw_object_text(void **state)
{
    (void)state;
    struct kube_event ev;
    const char *obj = "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"},"
                      "\"data\":{\"k\":\"\\u003cv\\u003e \\\"q\\\"\"}}";
    char line[512];
    snprintf(line, sizeof(line), "{\"type\":\"ADDED\",\"object\":%s}\r", obj);
    assert_int_equal(kube_event_parse(line, strlen(line), &ev), FS_OK);
    assert_int_equal(ev.type, KUBE_EVENT_ADDED);
    assert_non_null(ev.raw);
    assert_int_equal(ev.raw_len, strlen(obj));
    assert_memory_equal(ev.raw, obj, strlen(obj));
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev.object, "data"), "k")),
                        "<v> \"q\"");
    kube_event_release(&ev);

    snprintf(line, sizeof(line), "{\"object\":%s,\"type\":\"DELETED\"}", obj);
    assert_int_equal(kube_event_parse(line, strlen(line), &ev), FS_OK);
    assert_int_equal(ev.type, KUBE_EVENT_DELETED);
    assert_null(ev.raw);
    assert_string_equal(ev.resource_version, "5");
    kube_event_release(&ev);

    /* spaces as another writer might put them: the full reader takes it */
    snprintf(line, sizeof(line), "{ \"type\" : \"MODIFIED\", \"object\" : %s }", obj);
    assert_int_equal(kube_event_parse(line, strlen(line), &ev), FS_OK);
    assert_int_equal(ev.type, KUBE_EVENT_MODIFIED);
    kube_event_release(&ev);

    /* the quick path refuses what the full reader refuses: trailing bytes, a duplicate key
     * inside the object, a third top-level member, a broken object */
    const char *bad[] = {
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}x",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"name\":\"b\",\"resourceVersion\":\"1\"}}}",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}},\"type\":\"X\"}",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}}",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"\xc3\",\"resourceVersion\":\"1\"}}}",
        "{\"type\":\"AD\\u0044ED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}},\"type\":\"X\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (kube_event_parse(bad[i], strlen(bad[i]), &ev) != FS_EPARSE)
            fail_msg("accepted: %s", bad[i]);
        assert_null(ev.object);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_two_chunk_split),
        cmocka_unit_test(test_random_chunks_and_single_bytes),
        cmocka_unit_test(test_line_bound_and_truncation),
        cmocka_unit_test(test_stop_from_callback),
        cmocka_unit_test(test_event_parse),
        cmocka_unit_test(test_event_raw_object_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
