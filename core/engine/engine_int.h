/* core/engine/engine_int.h: what the files of the run engine share (engine.c, runplan.c, claims.c, outcomes.c, recovery.c) */
#ifndef FERRY_ENGINE_INT_H
#define FERRY_ENGINE_INT_H

#include "engine.h"

#include <pthread.h>
#include <stdint.h>

#include "target.h"
#include "planner.h"
#include "source.h"

#define HEARTBEAT_S 5
#define SHUTDOWN_REASON "interrupted: ferryd shut down"
#define AFTER_LABEL "(after)"
/* The table label of the steps that create the source's other objects. */
#define OBJECTS_LABEL "(objects)"

/* A table being loaded by one of this process's workers. */
struct active {
	long long task_id;
	char run_id[37];
	char label[300];
	void *src_cancel;     /* owned: the source connector's (src_ops) */
	const struct source_ops *src_ops;
	void *dst_cancel;     /* owned: the target connector's (dst_ops) */
	const struct target_ops *dst_ops;
	bool stop;
	struct engine *en;
	struct active *next;
};

/* A run this process planned: it holds the source snapshot open. */
struct run_ctx {
	char run_id[37];
	struct source *snap; /* owned: holds the run's consistent point (see hold_point) */
	uint64_t gen; /* moves whenever this process has changed the run or one of its tasks */
	int changing; /* changes of the run or its tasks under way (the final one included) */
	struct run_ctx *next;
};

struct engine {
	struct meta *meta;
	char instance[37];
	int nworkers;
	pthread_t *threads; /* owned */
	pthread_t housekeeper;
	pthread_mutex_t lock; /* guards everything below and the lists */
	pthread_cond_t wake; /* the workers': work may be waiting */
	pthread_cond_t tick; /* the housekeeper's: woken only to stop */
	pthread_mutex_t claim_lock; /* serialises task claims, so load.parallel holds */
	bool stopping;
	bool runs_waiting;       /* a run may have been queued since the last look */
	int64_t runs_checked_ms; /* when a worker last looked for queued runs */
	struct active *active;
	struct run_ctx *runs;
	/*
	 * The tasks a worker holds, from its claim to the round trip that
	 * stores its outcome: at most two a worker (the next one is claimed in
	 * that round trip).
	 */
	long long *hand; /* owned: 2 * nworkers */
	int nhand;
	unsigned restarts_seen; /* meta_restarts() when lost bookkeeping was last looked for */
	/*
	 * Never held across a query, so that a request thread may ask about the
	 * runs at any time: changing the list of runs takes lock, then gen_lock;
	 * reading it takes either. Guards each run's gen and changing, gen_seq,
	 * claiming and the watcher.
	 */
	pthread_mutex_t gen_lock;
	/* one consistent point is made at a time: tables failing together need one new one */
	pthread_mutex_t snap_lock;
	uint64_t gen_seq;
	int claiming; /* task claims under way: they may change any run's tasks */
	void (*watch)(void *arg);
	void *watch_arg;
};

/* A claimed task as read back from the metadata database. */
struct task {
	long long id;
	char run_id[37];
	struct qualname src, dst;
	char src_label[300], dst_label[300];
	struct job *job; /* owned */
	char snapshot[128];
	bool step;    /* a post-load step rather than a table copy */
	json_t *copy; /* owned: copy description (copy tasks) */
	char step_kind[32];
	char step_name[128];
	char *step_sql; /* owned */
	int attempts;   /* this one included */
	bool more;      /* when it was claimed, another claim might have found a task too */
	/*
	 * A task that loaded holds its outcome back (held) when hold is set,
	 * so that it goes to the metadata database in one round trip with the
	 * run's close check and the next claim (settle).
	 */
	bool hold;
	struct outcome *held; /* owned */
};

/*
 * A task's outcome and the event that tells it, as the parameters of
 * task_finish.sql. State, level, kind and table are borrowed: literals, or
 * texts of the task, which outlives its outcome.
 */
struct outcome {
	char id[32], rows[32], bytes[32];
	char *validation; /* owned */
	char *error;      /* owned; NULL for none */
	char msg[2048];
	const char *params[11];
};


/* claims.c */
void active_add(struct engine *en, struct active *a);
void active_remove(struct engine *en, struct active *a);
bool claim_end(struct engine *en, struct meta_rows *res, struct task *t);
void claim_start(struct engine *en);
bool claim_task(struct engine *en, struct task *t);
void hand_drop(struct engine *en, long long id);
void hook_connections(void *arg, struct source *src, struct target *dst);
bool hook_progress(void *arg, long long rows, long long bytes);
void hook_step(void *arg, const char *kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool in_hand(struct engine *en, long long id);

/* engine.c */
void claim_begin(struct engine *en);
void claim_done(struct engine *en, const char *run_id);
void fail_run(struct engine *en, const char *run_id, struct source *snap, const char *msg);
void finish_if_done(struct engine *en, const char *run_id);
void hold_snapshot(struct engine *en, const char *run_id, struct source *snap);
void outcome_free(struct outcome *o);
void run_changed(struct engine *en, const char *run_id, int delta);
void run_closed(struct engine *en, const char *run_id, struct meta_rows *res);
struct meta_rows *run_exec(struct engine *en, const char *run_id, const char *sql, int n, const char *const *params, struct err *e);
struct run_ctx *run_find(struct engine *en, const char *run_id);
void task_release(struct task *t);

/* outcomes.c */
bool settle(struct engine *en, struct task *t, bool claim, struct task *next);
void *worker_main(void *arg);

/* recovery.c */
void *housekeeper_main(void *arg);
void recover_lost(struct engine *en);

/* runplan.c */
struct source *open_snapshot(struct engine *en, const char *run_id, const struct job *job, char *snap_id, size_t n, struct err *e);
bool plan_next_run(struct engine *en);
bool runs_look_due(const struct engine *en, int64_t now);

#endif
