/* core/lib/rowhash.h: an order-independent checksum of rows in COPY text, equal for equal values whichever database printed them */
#ifndef FERRY_ROWHASH_H
#define FERRY_ROWHASH_H

#include <stddef.h>
#include <stdint.h>

#include "sb.h"

/*
 * How a column's text is brought to one form before it is hashed, so that
 * the source's printing and PostgreSQL's printing of one value agree.
 */
enum rh_kind {
	RH_TEXT,        /* as it is */
	RH_CHAR,        /* char(n): trailing spaces dropped (PostgreSQL pads, MySQL trims) */
	RH_INT,         /* integers: the number (MySQL prints YEAR 0 as 0000) */
	RH_FLOAT4,      /* real: the float it reads as */
	RH_FLOAT8,      /* double precision: the double it reads as */
	RH_TIMESTAMP,   /* timestamp, time, interval: trailing zeros of the fraction dropped */
	RH_TIMESTAMPTZ, /* timestamptz: that, and a +00 offset dropped (both sides print UTC) */
	RH_JSON,        /* jsonb: parsed, keys sorted, printed compact */
};

/* The kind for a PostgreSQL type as the table model names it. */
enum rh_kind rh_kind_of(const char *pgtype);
/* The kind's name for a copy description, and back (RH_TEXT for an unknown one). */
const char *rh_kind_name(enum rh_kind k);
enum rh_kind rh_kind_parse(const char *name);

/*
 * The hash of one row: line[0..len) is its COPY text (fields separated by
 * tabs, \N for NULL, backslash escapes; no newline). kinds[0..n) say how
 * each field is read (a field past n is RH_TEXT). scratch is reused between
 * calls. Rows' hashes are summed (mod 2^64) for the table's checksum.
 */
uint64_t rh_row(const char *line, size_t len, const enum rh_kind *kinds, int n, struct sb *scratch);

#endif
