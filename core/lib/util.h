/* core/lib/util.h: allocation that aborts on failure, time, UUIDs and small string helpers */
#ifndef FERRY_UTIL_H
#define FERRY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Allocation: abort the process with a message when memory runs out. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Monotonic clock in milliseconds. */
int64_t now_ms(void);

/* Copy src into dst of size n, always NUL-terminated, truncating. */
void str_copy(char *dst, size_t n, const char *src);

/* A new random UUID, lower-case, into out. */
void uuid_new(char out[37]);

/* True when s is a canonical UUID string (36 chars, hex and dashes). */
bool str_is_uuid(const char *s);

#endif
