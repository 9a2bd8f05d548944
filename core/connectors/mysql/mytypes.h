/* core/connectors/mysql/mytypes.h: MySQL and MariaDB column types as PostgreSQL types, their defaults, and their values as COPY text */
#ifndef FERRY_MYTYPES_H
#define FERRY_MYTYPES_H

#include <stdbool.h>
#include <stddef.h>

#include "sb.h"

/* One column as information_schema.COLUMNS describes it. */
struct my_column {
	char name[192];
	char data_type[64];     /* DATA_TYPE, lower case: "int", "varchar", "enum", … */
	char column_type[2048]; /* COLUMN_TYPE: "int(10) unsigned", "enum('a','b')", "tinyint(1)" */
	char charset[64];       /* CHARACTER_SET_NAME, or "" */
	char extra[256];        /* EXTRA: "auto_increment", "on update current_timestamp()", … */
	const char *default_value; /* COLUMN_DEFAULT as the server prints it, or NULL (no default) */
	bool nullable;
	bool json;              /* MariaDB: a longtext with CHECK (json_valid(col)); MySQL: DATA_TYPE json */
	bool mariadb;           /* the server is MariaDB (its COLUMN_DEFAULT quotes literals, prints NULL) */
	long long char_length;  /* CHARACTER_MAXIMUM_LENGTH, -1 when NULL */
	int precision, scale;   /* NUMERIC_PRECISION/SCALE, -1 when NULL */
	int datetime_precision; /* DATETIME_PRECISION, -1 when NULL */
};

/*
 * How the connector reads a column and turns its text-protocol value into
 * PostgreSQL COPY text. The select expression is wrapped around the quoted
 * column name by my_select_expr.
 */
enum my_conv {
	MC_TEXT,      /* the value as the server sends it, escaped for COPY */
	MC_BYTEA,     /* raw bytes → \\x… hex */
	MC_BIT,       /* read as BIN(col) zero-padded to its width: the digits as they are */
	MC_BOOL,      /* tinyint(1): 0 → f, 1 → t, anything else is out of range */
	MC_SET,       /* 'a,b' → {a,b} (an array literal, members quoted when needed) */
	MC_DATE,      /* date: a zero date, or one with a zero month or day, is a zero date */
	MC_DATETIME,  /* datetime/timestamp: the same for its date part */
	MC_POINT,     /* read as CONCAT('(',ST_X(col),',',ST_Y(col),')') */
	MC_GEOMETRY,  /* read as ST_AsText(col) */
	MC_ENUM,      /* an enum: '' is MySQL's error value, which no PostgreSQL label holds */
	MC_JSON,      /* jsonb: the escape \u0000 is a NUL character jsonb cannot hold */
};

/* What the job says to do with values PostgreSQL cannot hold. */
struct my_value_rules {
	bool zero_dates_null; /* zero dates become NULL (counted); false: the table fails */
	bool nul_strip;       /* NUL characters are removed from text (counted); false: the table fails */
};

/* What my_encode_value met, counted per table. */
struct my_value_counts {
	long long zero_dates; /* made NULL */
	long long nuls;       /* values that had NUL characters removed */
};

/*
 * The PostgreSQL type for column c of table `table` (unquoted, for enum
 * type names: "<table>_<column>"), written to pgtype (unqualified where it
 * is a created enum: the caller prefixes the schema), with how its values
 * are read in *conv. `enum_type` gets the enum's type name (unqualified,
 * "<table>_<column>", at most 63 bytes) when the column is an enum, else "".
 * `warn` gets a one-line note when the cast may lose something (unsigned
 * bigint to numeric is not lossy; float → real is; geometry to text is;
 * time to time rejects values outside 00:00–24:00; …), else "".
 */
void my_map_type(const struct my_column *c, const char *table, char *pgtype, size_t n,
		 enum my_conv *conv, char *enum_type, size_t en, char *warn, size_t wn);

/*
 * The enum's labels, parsed from COLUMN_TYPE "enum('a','b''c')", as a
 * PostgreSQL list of literals: 'a', 'b''c' appended to out. False when the
 * type is not an enum.
 */
bool my_enum_labels(const char *column_type, struct sb *out);

/*
 * The PostgreSQL DEFAULT expression of column c, whose target type is
 * pgtype, or NULL (no default, or a NULL default). CURRENT_TIMESTAMP (any
 * precision, any spelling: current_timestamp(), now()) → now() for timestamp targets,
 * CURRENT_DATE for date; literals quoted for PostgreSQL ('it''s'), numbers
 * as they are, bit literals b'101' → B'101', tinyint(1) 0/1 → false/true.
 * An expression ferry cannot translate, a zero date, or a value the target
 * cannot hold returns NULL with warn filled.
 * Caller frees.
 */
char *my_default_expr(const struct my_column *c, const char *pgtype, enum my_conv conv,
		      char *warn, size_t wn);

/* The select-list expression reading column `quoted` (backquoted already) for conv. */
void my_select_expr(const char *quoted, enum my_conv conv, int bit_width, struct sb *out);

/* The short name of a conversion ("text", "bytea", …) and back (MC_TEXT for an unknown name). */
const char *my_conv_name(enum my_conv conv);
enum my_conv my_conv_parse(const char *name);

/*
 * Append one value (len bytes; val NULL for SQL NULL) to out in COPY text
 * format, as conv says: \N for NULL; \\ \t \n \r escaped; bytea as \\x
 * and hex digits; zero dates as \N (counted) or a failure; NUL characters
 * stripped (counted) or a failure. Returns false with why (a short
 * reason: "zero date 0000-00-00", "NUL character", "value 2 out of range
 * for boolean (tinyint(1))") when the value cannot be written; out is then
 * unchanged.
 */
bool my_encode_value(struct sb *out, const char *val, size_t len, enum my_conv conv,
		     const struct my_value_rules *rules, struct my_value_counts *counts,
		     char *why, size_t wn);

#endif
