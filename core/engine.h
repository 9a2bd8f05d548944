/* core/engine.h: the run engine: worker threads that plan runs and load their tables */
#ifndef FERRY_ENGINE_H
#define FERRY_ENGINE_H

#include <stdbool.h>

#include "err.h"
#include "meta.h"

struct engine;

/*
 * Register this process in the metadata database and start `workers`
 * worker threads plus a housekeeping thread (heartbeat, closing runs of
 * processes that died). Returns NULL with e filled on failure.
 */
struct engine *engine_start(struct meta *m, int workers, struct err *e);

/* Wake idle workers: a run was queued. */
void engine_wake(struct engine *en);

/*
 * Cancel a queued or running run: queued tables are cancelled, running
 * copies are stopped (PQcancel) and rolled back, loaded tables stay loaded.
 * 404 for an unknown run, 409 when it has already finished.
 */
bool engine_cancel_run(struct engine *en, const char *run_id, struct err *e);

/*
 * Stop: cancel the copies this process runs, mark their tables and runs as
 * interrupted, wait for the workers and free everything.
 */
void engine_stop(struct engine *en);

/* Number of worker threads. */
int engine_workers(const struct engine *en);

#endif
