/* core/engine/backfill.h: backfills: a cursor range of a job split into windows, one run each */
#ifndef FERRY_BACKFILL_H
#define FERRY_BACKFILL_H

#include <jansson.h>
#include <stdbool.h>

#include "engine.h"
#include "err.h"
#include "meta.h"

/* The most windows one backfill may have. */
#define BACKFILL_MAX_WINDOWS 10000

/*
 * Validate a backfill request (body borrowed: {"from", "to", "step"}),
 * split [from, to) into windows and store it as running for job_id. Its
 * windows are queued as runs, one after the other, by the scheduler.
 * Returns the backfill document (new reference), or NULL with e filled:
 * 400 naming the field, 409 when the job already has a running backfill.
 */
json_t *backfill_create(struct meta *m, const char *job_id, json_t *body, struct err *e);

/* One backfill document (new reference), or NULL with e filled (404 when unknown). */
json_t *backfill_get(struct meta *m, const char *id, struct err *e);

/* One page of a job's backfills, newest first, as {items, total, limit, offset}. */
json_t *backfill_list(struct meta *m, const char *job_id, long limit, long offset,
		      struct err *e);

/*
 * Stop queuing windows of a running backfill and cancel its active window's
 * run through the engine. The backfill as it is now, or NULL with e filled:
 * 404 when unknown, 409 when it has already finished.
 */
json_t *backfill_cancel(struct meta *m, struct engine *en, const char *id, struct err *e);

#endif
