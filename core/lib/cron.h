/* core/lib/cron.h: job schedules: cron expressions, @aliases and @every intervals, in UTC */
#ifndef FERRY_CRON_H
#define FERRY_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum cron_kind {
	CRON_FIELDS, /* five cron fields, or an alias of them such as @daily */
	CRON_ONCE,   /* @once: one run soon after the job is stored, none after */
	CRON_EVERY,  /* @every <n>s|m|h: slots every `every` seconds since the epoch */
};

/*
 * A parsed schedule. For CRON_FIELDS, bit v of a field is set when value v
 * matches: minute 0-59, hour 0-23, dom 1-31, month 1-12, dow 0-6 (Sunday 0).
 * dom_any and dow_any are true when the field was written starting with
 * "*": as in Vixie cron, a day matches when both fields match if either of
 * them is unrestricted, and when one of them matches otherwise.
 */
struct cron {
	enum cron_kind kind;
	uint64_t minute;
	uint32_t hour;
	uint32_t dom;
	uint16_t month;
	uint8_t dow;
	bool dom_any;
	bool dow_any;
	long every; /* seconds, for CRON_EVERY */
};

/*
 * Parse a schedule: "@once", "@hourly", "@daily" (or "@midnight"),
 * "@weekly", "@monthly", "@yearly" (or "@annually"), "@every <n>s|m|h", or
 * five fields "minute hour day-of-month month day-of-week" with lists,
 * ranges, steps and month and weekday names (day-of-week 7 is Sunday too).
 * False when expr is not a schedule, with a message naming what is wrong
 * written to why (n bytes, may be 0).
 */
bool cron_parse(const char *expr, struct cron *out, char *why, size_t n);

/*
 * The first slot strictly after `after`, in *next. False when there is
 * none: @once has no recurring slot (its one run is placed by the caller),
 * and a date that never comes (February 30) has none within 30 years.
 */
bool cron_next(const struct cron *c, time_t after, time_t *next);

#endif
