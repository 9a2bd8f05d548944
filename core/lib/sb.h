/* core/lib/sb.h: growable string buffer */
#ifndef FERRY_SB_H
#define FERRY_SB_H

#include <stddef.h>

/*
 * A string buffer. Invariant: buf is never NULL after sb_init and is always
 * NUL-terminated; len excludes the terminator.
 */
struct sb {
	char *buf; /* owned */
	size_t len;
	size_t alloc;
};

void sb_init(struct sb *sb);
void sb_release(struct sb *sb);
void sb_reset(struct sb *sb);
void sb_add(struct sb *sb, const char *s, size_t n);
void sb_adds(struct sb *sb, const char *s);
void sb_addc(struct sb *sb, char c);
void sb_addf(struct sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the buffer to the caller (who frees it) and reset sb to empty. */
char *sb_detach(struct sb *sb);

#endif
