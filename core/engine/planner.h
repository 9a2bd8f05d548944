/* core/engine/planner.h: turn a job and the live source into a run's plan: tables, target DDL, copy statements, post-load steps */
#ifndef FERRY_PLANNER_H
#define FERRY_PLANNER_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"
#include "job.h"
#include "model.h"
#include "source.h"
#include "strategy.h"
#include "target.h"

struct plan_table {
	struct src_table st;    /* labels, filter and estimates */
	struct tdef def;        /* valid when !*error */
	char error[1024];       /* why this table cannot be loaded, or "" */
	char parent_label[300]; /* the partitioned table a partition belongs to, or "" */
	int parent;             /* index of that table in the plan, or -1 */
	bool leaf;              /* holds rows: gets a copy task */
	char target_relkind;    /* the target table's relkind now, 0 when it does not exist */
	bool create;            /* this run creates the target table */
	bool binary;            /* source and target column types agree */
	long long target_rows;  /* rows the existing target holds (-1 unknown, and for a run: see plan_ctx) */
	int task_seq;           /* its copy task's seq in the run, once stored (0: none) */
	char mode[16];          /* its load mode: the table's own, else load.mode */
	json_t *load;           /* owned: how it loads (see strategy_resolve), merged into its copy description */
	bool made;              /* plan_create_targets created it */
};

struct plan {
	struct plan_table *t; /* owned */
	int n;
	json_t *types; /* owned: user types the created tables need (see tdef_types) */
	bool mark;     /* the target has _ferry.loads, where each load records that it committed */
	struct objects *objects; /* owned or NULL: the schemas' other objects, when the job asks for all */
	json_t *warnings; /* owned or NULL: what the source connector says will not carry over (strings) */
	json_t *point_info; /* owned or NULL: what the run's consistent point is (a binary log position) */
};

/* Add an empty table to the plan (no parent, target rows unknown); for source connectors. */
struct plan_table *plan_add(struct plan *p);
/* The job's options for table t: those of its tree's top table. */
const struct job_table *plan_options(const struct job *job, const struct plan *p, const struct plan_table *t);

/*
 * Resolve the job against the source (src: inside the run's snapshot
 * transaction) and, when dst is not NULL, the target: selected tables,
 * partitions under their parents, columns after transformations, whether
 * each target exists, whether the copy can be binary, how each table loads
 * (ctx: the job's high-water marks and the run's params, may be NULL; a
 * backfill run keeps only the incremental tables) and, when the job's
 * "objects" is "all", the other objects of the selected schemas (read with
 * pg_dump in ctx->snapshot; see objects_read). The plan's targets are made
 * with dst->ops->create. Problems of one
 * table are kept in its `error`; returns false (e filled) only when the
 * plan as a whole cannot be made.
 */
bool plan_build(struct source *src, struct target *dst, const struct job *job, json_t *requested,
		const struct plan_ctx *ctx, struct plan *p, struct err *e);
void plan_release(struct plan *p);

/*
 * The copy description of one table, stored with its task: the source
 * SELECT (and "source", the plain COPY source, when the table can be read
 * as it is), the target column list, the COPY format, the sequences to
 * carry over and, when the job's load.split_bytes has the table loaded in
 * parts, "split": {"relation", "filtered", "streams"}. New reference.
 */
json_t *plan_copy_spec(struct source *src, struct target *dst, const struct job *job, const struct plan *p,
		       const struct plan_table *t);

#endif
