/* Names for enum fs_err, and fs_say for error messages into a caller's buffer. */
#include "fs_err.h"

#include <stdarg.h>
#include <stdio.h>

const char *fs_strerror(enum fs_err rc)
{
    switch (rc) {
    case FS_OK: return "ok";
    case FS_ENOMEM: return "out of memory";
    case FS_EIO: return "i/o error";
    case FS_EHTTP: return "http error";
    case FS_EGONE: return "resource version expired (410 gone)";
    case FS_ECONFLICT: return "conflict (409)";
    case FS_ENOTFOUND: return "not found (404)";
    case FS_EPARSE: return "parse error";
    case FS_EINVAL: return "invalid argument";
    case FS_ETIMEOUT: return "timed out";
    case FS_ERANGE: return "value out of range";
    case FS_EDATA: return "not enough or degenerate data";
    }
    return "unknown error";
}

enum fs_err fs_say(char *err, size_t errlen, enum fs_err rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}
