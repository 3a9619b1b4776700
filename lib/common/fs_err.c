/* Names for enum fs_err. */
#include "fs_err.h"

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
