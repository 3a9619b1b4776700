/* The library's one error type, in the manner of curl's CURLcode: every fallible
 * function in lib/ returns an enum fs_err, and fs_strerror() names it. */
#ifndef FS_ERR_H
#define FS_ERR_H

#include <stddef.h>

enum fs_err {
    FS_OK = 0,
    FS_ENOMEM,    /* allocation failed */
    FS_EIO,       /* file or socket error */
    FS_EHTTP,     /* the server answered with a non-success status */
    FS_EGONE,     /* 410 Gone: a resourceVersion is too old */
    FS_ECONFLICT, /* 409 Conflict */
    FS_ENOTFOUND, /* 404 Not Found */
    FS_EPARSE,    /* malformed input (JSON, YAML, CSV, quantity) */
    FS_EINVAL,    /* an argument or configuration is invalid */
    FS_ETIMEOUT,  /* a deadline passed */
    FS_ERANGE,    /* a value is out of the representable or allowed range */
    FS_EDATA,     /* data too short or degenerate for the requested operation */
};

const char *fs_strerror(enum fs_err rc);

/* Writes a message for the caller into err (when err and errlen are given) and returns rc:
 * `return fs_say(err, errlen, FS_EINVAL, "step %u too small", s);` */
enum fs_err fs_say(char *err, size_t errlen, enum fs_err rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
