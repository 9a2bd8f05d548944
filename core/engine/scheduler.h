/* core/engine/scheduler.h: the thread that starts jobs on their schedules and drives backfills */
#ifndef FERRY_SCHEDULER_H
#define FERRY_SCHEDULER_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "engine.h"
#include "meta.h"

struct scheduler;

/*
 * Start the scheduler thread. About once a second, in one metadata
 * transaction, it locks the jobs that are due (not paused, next_run_at
 * passed; FOR UPDATE SKIP LOCKED, so that several ferryd processes on one
 * metadata database never start a slot twice), queues a run of each
 * (trigger "schedule") or, when the job still has an active run, records a
 * "skipped" run, and moves next_run_at to the first slot after now. It then
 * queues the next window of each running backfill whose job is idle.
 * meta and engine are borrowed and must outlive the scheduler.
 */
struct scheduler *scheduler_start(struct meta *meta, struct engine *engine);

/* Stop the thread (it finishes the pass it is in) and free the scheduler; NULL is fine. */
void scheduler_stop(struct scheduler *s);

/*
 * The next_run_at of a job with schedule (borrowed: null or a valid
 * schedule string) stored at `now`, written to out as an RFC 3339 UTC
 * timestamp; "" when it has none (null, or a date that never comes).
 * @once is due at once.
 */
void sched_first_slot(json_t *schedule, time_t now, char out[32]);

#endif
