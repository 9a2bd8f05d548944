/* core/engine/loader.h: load one table from its source into its target, through both connectors' ops */
#ifndef FERRY_LOADER_H
#define FERRY_LOADER_H

#include <stdbool.h>

#include "err.h"
#include "job.h"
#include "target.h"

/*
 * Load one table: take (or open) a connection to each side, open the
 * source's read in the run's snapshot and the target's load the way the
 * table's mode asks, stream the rows across (in parts on several connection
 * pairs for a big table this run created), merge or swap them in, carry
 * sequences over, validate, commit. On failure everything on the target is
 * rolled back; false with e filled (the database's message, without
 * passwords).
 */
bool target_load(const struct load_table *t, const struct load_hooks *h, struct load_result *r,
		 struct err *e);

/*
 * Run one post-load statement (an index, a constraint, an object) on the
 * target, on the session's connection (NULL: a new one), kept there again
 * after. False with e filled when it fails.
 */
bool target_step(const struct job *job, const char *sql, const struct load_hooks *h,
		 struct load_session *session, struct err *e);

#endif
