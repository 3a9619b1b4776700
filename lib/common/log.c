/* Structured log records to stderr. A record is written with a single fputs so that
 * lines from several threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level g_level = LOG_INFO;
static enum log_format g_format = LOG_LOGFMT;

static const char *level_name[] = {"error", "warn", "info", "debug", "trace"};

void log_setup(enum log_level level, enum log_format format)
{
    g_level = level;
    g_format = format;
}

int log_enabled(enum log_level level)
{
    return level <= g_level;
}

/* Appends s quoted and escaped for logfmt or JSON (both use backslash escapes). */
static size_t append_quoted(char *buf, size_t pos, size_t cap, const char *s)
{
    if (pos < cap)
        buf[pos] = '"';
    pos++;
    for (; *s; s++) {
        char esc = 0;
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            esc = (char)c;
        else if (c == '\n')
            esc = 'n';
        else if (c == '\t')
            esc = 't';
        else if (c < 0x20)
            c = ' ';
        if (esc) {
            if (pos + 1 < cap) {
                buf[pos] = '\\';
                buf[pos + 1] = esc;
            }
            pos += 2;
        } else {
            if (pos < cap)
                buf[pos] = (char)c;
            pos++;
        }
    }
    if (pos < cap)
        buf[pos] = '"';
    return pos + 1;
}

static size_t append_raw(char *buf, size_t pos, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (pos < cap)
        memcpy(buf + pos, s, pos + n < cap ? n : cap - pos);
    return pos + n;
}

void log_kv(enum log_level level, const char *msg, const char *const *kv)
{
    if (!log_enabled(level))
        return;
    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);

    char buf[4096];
    size_t cap = sizeof(buf) - 2, pos = 0;
    int json = g_format == LOG_JSON;
    pos = append_raw(buf, pos, cap, json ? "{\"time\":" : "time=");
    pos = append_quoted(buf, pos, cap, ts);
    pos = append_raw(buf, pos, cap, json ? ",\"level\":" : " level=");
    pos = append_quoted(buf, pos, cap, level_name[level]);
    pos = append_raw(buf, pos, cap, json ? ",\"msg\":" : " msg=");
    pos = append_quoted(buf, pos, cap, msg);
    for (const char *const *p = kv; p && p[0] && p[1]; p += 2) {
        if (json) {
            pos = append_raw(buf, pos, cap, ",");
            pos = append_quoted(buf, pos, cap, p[0]);
            pos = append_raw(buf, pos, cap, ":");
        } else {
            pos = append_raw(buf, pos, cap, " ");
            pos = append_raw(buf, pos, cap, p[0]);
            pos = append_raw(buf, pos, cap, "=");
        }
        pos = append_quoted(buf, pos, cap, p[1]);
    }
    if (json)
        pos = append_raw(buf, pos, cap, "}");
    if (pos > cap)
        pos = cap;
    buf[pos++] = '\n';
    buf[pos] = '\0';
    fputs(buf, stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_kv(level, msg, NULL);
}
