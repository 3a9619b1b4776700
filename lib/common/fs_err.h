/* The library's one error type, in the manner of curl's CURLcode: every fallible
 * function in lib/ returns an enum fs_err, and fs_strerror() names it. */
#ifndef FS_ERR_H
#define FS_ERR_H

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

#endif
