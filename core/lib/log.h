/* core/lib/log.h: leveled log lines on stderr */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Parse "debug", "info", "warn", "error"; false when unknown. */
bool log_level_parse(const char *s, enum log_level *out);
void log_set_level(enum log_level lv);
/*
 * Write one line "time level message". Callers pass text that is already
 * free of secrets (DSNs go through dsn_redact first).
 */
void log_msg(enum log_level lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
