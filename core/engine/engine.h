/* core/engine/engine.h: the run engine: worker threads that plan runs and load their tables */
#ifndef FERRY_ENGINE_H
#define FERRY_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

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
 * copies are stopped (each connector cancels its statement) and rolled back,
 * loaded tables stay loaded.
 * 404 for an unknown run, 409 when it has already finished.
 */
bool engine_cancel_run(struct engine *en, const char *run_id, struct err *e);

/*
 * Stop: cancel the copies this process runs, mark their tables and runs as
 * interrupted and wait for the workers. Requests still in flight may call
 * the engine until engine_free.
 */
void engine_stop(struct engine *en);

/* Free a stopped engine, once no request can reach it any more. */
void engine_free(struct engine *en);

/* Number of worker threads. */
int engine_workers(const struct engine *en);

/*
 * True when this process is loading run_id: from the moment it has planned
 * the run until it lets it go, after writing its final state. Then *gen
 * receives the run's generation, a number that moves whenever this process
 * changes the state of one of the run's tasks (a claim, a table or step
 * done, cancelled, skipped or queued again) or writes the run's final
 * state, and *changing whether such a change is under way (either may be
 * NULL). What was read about the run after its generation was g misses
 * none of those changes as long as the generation is still g and no change
 * is under way. Row and byte progress does not move it. Never waits for a
 * query: request threads may call it.
 */
bool engine_owns_run(struct engine *en, const char *run_id, uint64_t *gen, bool *changing);

/*
 * Call fn(arg) when a change that moved a generation is done, from the
 * thread that made it and with no lock of the engine held; fn must be
 * quick and must not call the engine back. One watcher at a time; fn NULL
 * removes it (a call already under way may still finish after that).
 */
void engine_watch(struct engine *en, void (*fn)(void *arg), void *arg);

#endif
