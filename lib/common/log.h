/* Structured logging for the daemons: one line per record, logfmt (level=info msg="..." k=v)
 * or JSON, to stderr. Quiet by default (info and above); -v raises the level to debug. */
#ifndef FS_LOG_H
#define FS_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3, LOG_TRACE = 4 };
enum log_format { LOG_LOGFMT = 0, LOG_JSON = 1 };

void log_setup(enum log_level level, enum log_format format);
int log_enabled(enum log_level level);

/* kv is a NULL-terminated list of key, value string pairs, may be NULL. */
void log_kv(enum log_level level, const char *msg, const char *const *kv);

/* printf-style message with no extra keys. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
