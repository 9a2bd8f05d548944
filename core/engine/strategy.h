/* core/engine/strategy.h: how one table loads: its mode, merge key, cursor window and high-water mark */
#ifndef FERRY_STRATEGY_H
#define FERRY_STRATEGY_H

#include <jansson.h>
#include <stdbool.h>

#include "model.h"
#include "source.h"

/* What a run knows beyond its job when it is planned (both borrowed, may be NULL). */
struct plan_ctx {
	json_t *marks;  /* {"schema.table": {"value": …, "cursor": …}}: the job's high-water marks */
	json_t *params; /* the run's params: {"from", "to"} make it a backfill of that window */
	bool skip_target_rows; /* leave plan_table.target_rows unknown: a run does not use it */
	const char *snapshot;  /* the run's exported source snapshot, or NULL */
};

/* True when the run's params ask for a cursor window (a backfill). */
bool strategy_is_backfill(const struct plan_ctx *ctx);

/*
 * Decide how the table described by def (source label `label`, options
 * `opts` of its job entry, load mode `mode`) loads, reading what it needs of
 * the source (src: inside the run's consistent point). Returns a new
 * JSON object merged into the table's copy description:
 *   mode, key (target columns), window {column, from, to} on the target,
 *   cursor, cursor_type and mark_sql (the source query giving the new
 *   high-water mark) for incremental tables, delete_flag;
 * and narrows def->filter to the cursor window. NULL with why filled when
 * the table cannot load this way.
 */
json_t *strategy_resolve(struct source *src, const char *mode, const struct job_table *opts, const char *label,
			 const struct plan_ctx *ctx, struct tdef *def, char *why,
			 size_t n);

#endif
