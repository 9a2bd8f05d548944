/* core/engine/loader.c: load one table (source read to target load, in parts, validated) and run post-load steps */
#include "loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copydesc.h"
#include "job.h"
#include "log.h"
#include "source.h"
#include "util.h"
#include "banned.h"

#define PROGRESS_EVERY_MS 250
/* the most rows gathered into one write to the target */
#define COPY_CHUNK (64 * 1024)

enum { SOURCE, TARGET };
static const char *const side_names[] = {"source", "target"};

struct load_ctx {
	const struct load_table *t;
	const struct load_hooks *h;
	struct source *src; /* owned */
	struct target *tgt; /* owned */
	const struct target_ops *tops;
	struct target_load *tl; /* owned: the target's side of this load */
	struct source_read rd;  /* what the source reads */
	enum load_way way;
	bool stream_sum;      /* the checksum is the rows' hashes (rowhash.h) summed on both sides by ferry */
	bool part_load;       /* one part of a table loaded in parts, on a thread */
	bool kept;            /* the load committed: its connections may serve the next table */
	bool reused[2];       /* [SOURCE], [TARGET]: the connection served an earlier table */
	int streams;          /* parts copied at once into the empty table (see split_wanted), or 1 */
	char *part;           /* owned or NULL: the condition selecting this connection pair's part */
	bool parts_committed; /* the other parts committed: a failure must empty the table */
	long long parts_rows; /* with stream_sum: the rows and hash sum the other parts' reads summed */
	unsigned long long parts_sum;
	bool started;         /* rows are flowing from the source to the target */
	bool commit_in_copy;  /* nothing runs between the rows' end and the commits: each side
				 commits with its rows (see direct_start) */
};

/*
 * A connection to one side: the session's when it has one to the same
 * database, a new one otherwise (*reused tells which). The session lets go
 * of it until give_back. A kept connection is not asked whether it still
 * answers: the first statement on it tells (again), which saves a round trip.
 */
static struct target *take_target(const struct load_table *t, bool *reused, struct err *e)
{
	struct load_session *s = t->session;
	*reused = false;
	if (s && s->dst) {
		struct target *c = s->dst;
		bool same = json_equal(s->key[TARGET], t->job->target.obj);
		s->dst = NULL;
		if (same && c->ops->idle(c)) {
			*reused = true;
			return c;
		}
		target_close(c);
	}
	return target_open(t->job, e);
}

static struct source *take_source(const struct load_table *t, bool *reused, struct err *e)
{
	struct load_session *s = t->session;
	*reused = false;
	if (s && s->src) {
		struct source *c = s->src;
		bool same = json_equal(s->key[SOURCE], t->job->source.obj);
		s->src = NULL;
		if (same && c->ops->idle(c)) {
			*reused = true;
			return c;
		}
		source_close(c);
	}
	return source_open(t->job, e);
}

/* Keep an idle connection in the session for the next table, or close it. */
static void give_back_target(const struct load_table *t, struct target *c)
{
	struct load_session *s = t->session;
	if (!c)
		return;
	if (!s || !c->ops->idle(c)) {
		target_close(c);
		return;
	}
	target_close(s->dst);
	json_decref(s->key[TARGET]);
	s->dst = c;
	s->key[TARGET] = json_incref(t->job->target.obj);
}

static void give_back_source(const struct load_table *t, struct source *c)
{
	struct load_session *s = t->session;
	if (!c)
		return;
	if (!s || !c->ops->idle(c)) {
		source_close(c);
		return;
	}
	source_close(s->src);
	json_decref(s->key[SOURCE]);
	s->src = c;
	s->key[SOURCE] = json_incref(t->job->source.obj);
}

static void hook_connections(struct load_ctx *x)
{
	if (x->h->connections)
		x->h->connections(x->h->arg, x->src, x->tgt);
}

/* The target's side of the load on x->tgt (again, after a reconnect). */
static void open_target_load(struct load_ctx *x)
{
	if (x->tl)
		x->tops->load_close(x->tl);
	x->tl = x->tops->load_open(x->tgt, x->t, x->h, x->way, x->part_load, x->stream_sum);
}

/*
 * The first statement on a kept connection failed because the connection
 * is gone (the server restarted, or closed it): nothing ran, so connect
 * again and let the caller try once more. False (e set) otherwise.
 */
static bool reconnect(struct load_ctx *x, int side, struct err *e)
{
	bool lost = side == SOURCE ? x->src->ops->lost(x->src) : x->tops->lost(x->tgt);
	if (!x->reused[side] || !lost)
		return false;
	x->reused[side] = false;
	log_info("run %s table %s: the %s connection kept from the table before was closed; connecting again",
		 x->t->run_id, x->t->dst_label, side_names[side]);
	/* a cancel must not reach a connection being closed: unhook both until the new one is in */
	if (x->h->connections)
		x->h->connections(x->h->arg, NULL, NULL);
	struct err ce;
	err_clear(&ce);
	bool ok;
	if (side == SOURCE) {
		source_close(x->src);
		x->src = source_open(x->t->job, &ce);
		ok = x->src != NULL;
	} else {
		x->tops->load_close(x->tl);
		x->tl = NULL;
		target_close(x->tgt);
		x->tgt = target_open(x->t->job, &ce);
		ok = x->tgt != NULL;
		if (ok)
			open_target_load(x);
	}
	hook_connections(x);
	if (!ok) {
		*e = ce;
		return false;
	}
	err_clear(e);
	return true;
}

/* Read the answer to the source's begin, connecting again once when a kept connection was closed. */
static bool source_begun(struct load_ctx *x, bool sent, struct err *e)
{
	if (sent && x->src->ops->begun(x->src, false, e))
		return true;
	if (!sent)
		err_set(e, 500, "copy_failed", NULL, "source: the connection is closed");
	return reconnect(x, SOURCE, e) && x->src->ops->begin(x->src, x->t->snapshot, NULL) &&
	       x->src->ops->begun(x->src, false, e);
}

/*
 * Open both sides' transactions: the source's in the run's snapshot and the
 * target's with the table prepared for its load mode, the two at once.
 */
static bool begin_load(struct load_ctx *x, struct err *e)
{
	bool sent = x->src->ops->begin(x->src, x->t->snapshot, NULL);
	bool ok = x->tops->prepare(x->tl, &x->streams, e) ||
		  (reconnect(x, TARGET, e) && x->tops->prepare(x->tl, &x->streams, e));
	struct err se;
	err_clear(&se);
	/* always read the source's answer, so that the connection stays usable */
	bool src_ok = source_begun(x, sent, &se);
	if (ok && !src_ok)
		*e = se;
	return ok && src_ok;
}

/* The table's load mode: its copy description's, else (older plans) load.mode. */
static const char *copy_mode(const struct load_table *t)
{
	return t->copy->mode ? t->copy->mode : t->job->load.mode;
}

static enum load_way pick_way(const struct load_table *t)
{
	const char *mode = copy_mode(t);
	bool created = t->copy->created;
	bool whole = !t->copy->window || (!t->copy->window_from && !t->copy->window_to);
	if (t->copy->key)
		return LOAD_MERGE;
	if (!strcmp(mode, "swap"))
		return created ? LOAD_EMPTY : LOAD_SWAP;
	if (!strcmp(mode, "incremental"))
		return whole ? LOAD_EMPTY : LOAD_WINDOW;
	if (created || !strcmp(mode, "replace") || !strcmp(mode, "drop"))
		return LOAD_EMPTY;
	return LOAD_APPEND;
}

/*
 * Whether the table is loaded in parts: the plan marked it big enough, this
 * run created it, this is the task's first attempt (a later one empties the
 * table and loads it in one go), and the rows go straight into it.
 */
static int split_wanted(const struct load_table *t, enum load_way way)
{
	int n = t->copy->split_streams;
	/* a cursor window or a load marker keep the load in one transaction */
	bool whole = !t->copy->window && !t->copy->mark;
	if (!t->copy->split || n < 2 || t->attempt != 1 || way != LOAD_EMPTY || !whole ||
	    !t->copy->created)
		return 1;
	return n;
}

/* Start the rows on both sides of a prepared load: the source's answer is read once the target's is in. */
static bool start_copies(struct load_ctx *x, struct err *e)
{
	bool sent = x->src->ops->stream(x->src, &x->rd);
	bool in = x->tops->rows_begin(x->tl, false, false, e);
	struct err se;
	err_clear(&se);
	bool out = sent ? x->src->ops->begun(x->src, true, &se)
			: err_set(&se, 500, "copy_failed", NULL, "source: the connection is closed");
	if (in && !out) {
		*e = se;
		x->tops->rows_abort(x->tl, "source failed");
	}
	x->started = in && out;
	return x->started;
}

/*
 * Start a load that empties the table, in one message a side: the target
 * begins, empties the table and takes rows, and the source opens the
 * snapshot's transaction with its read, both at once. With commit_in_copy
 * each side commits as soon as its rows end well: the commit costs no
 * round trip of its own. A kept connection that turns out closed is
 * replaced and sent its message again.
 */
static bool direct_start(struct load_ctx *x, struct err *e)
{
	x->rd.last = x->commit_in_copy;
	bool sent = x->src->ops->begin(x->src, x->t->snapshot, &x->rd);
	bool in = x->tops->rows_begin(x->tl, true, x->commit_in_copy, e);
	if (!in && reconnect(x, TARGET, e))
		in = x->tops->rows_begin(x->tl, true, x->commit_in_copy, e);
	struct err se;
	err_clear(&se);
	/* always read the source's answer, so that what it says is known */
	bool out = sent ? x->src->ops->begun(x->src, true, &se)
			: err_set(&se, 500, "copy_failed", NULL, "source: the connection is closed");
	if (!out && reconnect(x, SOURCE, &se))
		out = x->src->ops->begin(x->src, x->t->snapshot, &x->rd) &&
		      x->src->ops->begun(x->src, true, &se);
	if (in && !out) {
		*e = se;
		x->tops->rows_abort(x->tl, "source failed");
	}
	/* when only the source started, its connection streams on: it is closed, never kept */
	x->started = in && out;
	return x->started;
}

/*
 * Stream rows from the source into the target. A source may hand over a
 * row at a time (PostgreSQL's COPY sends a message a row): rows are
 * gathered into writes of up to COPY_CHUNK bytes (the stream need not
 * break at rows), so the target handles one message for many rows.
 */
static bool stream(struct load_ctx *x, struct load_result *r, struct err *e)
{
	if (!x->started && !start_copies(x, e))
		return false;
	const struct target_ops *to = x->tops;
	long long msgs = 0, bytes = 0;
	int64_t last = now_ms();
	const char *buf = NULL;
	char *chunk = xmalloc(COPY_CHUNK);
	size_t fill = 0;
	int n;
	bool ok = true;
	struct err se;
	err_clear(&se);
	long long reads = 0;
	int nrows = 0;
	while (ok && (n = x->src->ops->read(x->src, &buf, &nrows, &se)) > 0) {
		bool big = (size_t)n > COPY_CHUNK / 2; /* goes on its own, after what is gathered */
		if (fill && (big || fill + (size_t)n > COPY_CHUNK)) {
			ok = to->rows_write(x->tl, chunk, fill, e);
			fill = 0;
		}
		if (ok && big) {
			ok = to->rows_write(x->tl, buf, (size_t)n, e);
		} else if (ok) {
			memcpy(chunk + fill, buf, (size_t)n);
			fill += (size_t)n;
		}
		msgs += nrows;
		bytes += n;
		/* a row a read is looked at every 256; a chunk of rows each time */
		if (ok && (nrows > 1 || (++reads & 255) == 0) && now_ms() - last >= PROGRESS_EVERY_MS) {
			last = now_ms();
			/* notice an error the target sent mid-stream without waiting for the end */
			to->rows_poll(x->tl);
			if (x->h->progress && !x->h->progress(x->h->arg, msgs, bytes)) {
				to->rows_abort(x->tl, "load stopped");
				free(chunk);
				return err_set(e, 499, "cancelled", NULL, "cancelled");
			}
		}
	}
	if (ok && fill)
		ok = to->rows_write(x->tl, chunk, fill, e);
	free(chunk);
	if (!ok)
		return false;
	r->bytes = bytes;
	if (n < 0 || !x->src->ops->read_end(x->src, &se)) {
		*e = se;
		to->rows_abort(x->tl, "source failed");
		return false;
	}
	char *note = x->src->ops->read_note ? x->src->ops->read_note(x->src) : NULL;
	if (note && x->h->step)
		x->h->step(x->h->arg, "values", "%s", note);
	free(note);
	return to->rows_end(x->tl, &r->rows, e);
}

/*
 * Split loads. A big table that this run created, and that is still empty,
 * is copied by several connection pairs at once, each reading its own part
 * of the source's table (a range the source connector chose, in the run's
 * snapshot) and appending to the table in its own target transaction.
 * Part 0 runs on the load's own connections, the others on threads of
 * their own. The other parts commit once every part has streamed all its
 * rows; part 0 commits last, with the load's sequences and validation.
 * Should anything fail after the others committed, the table is emptied
 * again, so that it never holds a part of its rows; a later attempt loads
 * it in one go.
 */

/* The cancel handles of one part's connections, NULL while it has none open. */
struct part_cancel {
	const struct source_ops *sops;
	const struct target_ops *tops;
	void *src, *dst;
};

/* What the parts of one split load share. */
struct split {
	pthread_mutex_t lock;
	bool stop;             /* a part failed or the load was stopped: every part ends */
	bool stopped;          /* the load's own hook stopped it */
	long long rows, bytes; /* streamed so far by the parts on threads */
	const struct load_hooks *outer; /* the load's own hooks */
	struct part_cancel *cancels; /* one per part, part 0 first; under lock */
	int ncancels;
};

/* One part on a thread of its own. */
struct part {
	struct split *sp;
	struct load_ctx x; /* its own connections and range; the rest borrowed from the load's */
	struct load_hooks hooks;
	struct load_result r;
	long long seen_rows, seen_bytes; /* what it reported last */
	bool ok;
	struct err e;
	int index; /* its place among the split's parts (1: the first on a thread) */
	pthread_t thread;
};

/* A part's progress: add it to the split's and go on unless the split stops. */
static bool part_progress(void *arg, long long rows, long long bytes)
{
	struct part *pt = arg;
	pthread_mutex_lock(&pt->sp->lock);
	pt->sp->rows += rows - pt->seen_rows;
	pt->sp->bytes += bytes - pt->seen_bytes;
	bool go = !pt->sp->stop;
	pthread_mutex_unlock(&pt->sp->lock);
	pt->seen_rows = rows;
	pt->seen_bytes = bytes;
	return go;
}

/* Part 0's progress: the load's hook sees the sum of the parts. */
static bool first_part_progress(void *arg, long long rows, long long bytes)
{
	struct split *sp = arg;
	pthread_mutex_lock(&sp->lock);
	bool go = !sp->stop;
	long long all_rows = rows + sp->rows, all_bytes = bytes + sp->bytes;
	pthread_mutex_unlock(&sp->lock);
	if (go && sp->outer->progress && !sp->outer->progress(sp->outer->arg, all_rows, all_bytes)) {
		pthread_mutex_lock(&sp->lock);
		sp->stopped = true;
		pthread_mutex_unlock(&sp->lock);
		go = false;
	}
	return go;
}

/*
 * Every part ends: each stops at its next progress, and what a part waits
 * for on a server (a slow read, a lock) is cancelled now, so that a failed
 * part or a cancel of the load does not wait for the slowest part.
 */
static void split_stop(struct split *sp)
{
	pthread_mutex_lock(&sp->lock);
	bool first = !sp->stop;
	sp->stop = true;
	for (int i = 0; first && i < sp->ncancels; i++) {
		struct part_cancel *c = &sp->cancels[i];
		if (c->src)
			c->sops->cancel(c->src);
		if (c->dst)
			c->tops->cancel(c->dst);
	}
	pthread_mutex_unlock(&sp->lock);
}

/*
 * True (e set) once the split stopped: a part that has not started reading
 * does not start (a cancel reaches only a statement under way).
 */
static bool split_stopped(struct split *sp, struct err *e)
{
	pthread_mutex_lock(&sp->lock);
	bool stop = sp->stop;
	pthread_mutex_unlock(&sp->lock);
	if (stop)
		err_set(e, 499, "cancelled", NULL, "another part of the table stopped");
	return stop;
}

/*
 * Hook part i's connections to the split's cancel (src and dst both open),
 * or unhook them (both NULL) before they close. A part hooked after the
 * split stopped is cancelled at once.
 */
static void part_hook(struct split *sp, int i, struct source *src, struct target *dst)
{
	struct part_cancel c = {0};
	if (src && dst) {
		c = (struct part_cancel){src->ops, dst->ops, src->ops->cancel_new(src), dst->ops->cancel_new(dst)};
	}
	pthread_mutex_lock(&sp->lock);
	struct part_cancel old = sp->cancels[i];
	sp->cancels[i] = c;
	if (sp->stop) {
		if (c.src)
			c.sops->cancel(c.src);
		if (c.dst)
			c.tops->cancel(c.dst);
	}
	pthread_mutex_unlock(&sp->lock);
	if (old.src)
		old.sops->cancel_free(old.src);
	if (old.dst)
		old.tops->cancel_free(old.dst);
}

/* A part on its thread: connect, open both transactions, stream its range. */
static void *part_main(void *arg)
{
	struct part *pt = arg;
	struct load_ctx *x = &pt->x;
	int one = 1;
	x->src = source_open(x->t->job, &pt->e);
	x->tgt = x->src ? target_open(x->t->job, &pt->e) : NULL;
	if (x->tgt) {
		part_hook(pt->sp, pt->index, x->src, x->tgt);
		open_target_load(x);
	}
	pt->ok = x->tl && x->src->ops->begin(x->src, x->t->snapshot, NULL) &&
		 x->src->ops->begun(x->src, false, &pt->e) && x->tops->prepare(x->tl, &one, &pt->e) &&
		 !split_stopped(pt->sp, &pt->e) && stream(x, &pt->r, &pt->e);
	if (x->src && !pt->ok && !pt->e.msg[0])
		err_set(&pt->e, 500, "copy_failed", NULL, "source: the connection is closed");
	if (!pt->ok)
		split_stop(pt->sp);
	return NULL;
}

/*
 * Commit (or, when !ok, roll back) each part; false with e filled when a
 * commit fails. *committed tells whether any part committed.
 */
static bool parts_end(struct part *parts, int n, bool ok, bool *committed, struct err *e)
{
	*committed = false;
	for (int i = 0; i < n; i++) {
		struct load_ctx *px = &parts[i].x;
		if (ok && !px->tops->commit(px->tl, e))
			ok = false;
		else if (ok)
			*committed = true;
		if (px->tl)
			px->tops->load_close(px->tl);
		source_close(px->src);
		target_close(px->tgt);
		free(px->part);
	}
	return ok;
}

/*
 * Stream the table's rows in x->streams parts at once: part 0 here, the
 * others on threads, which commit when every part has streamed. r gets the
 * sums.
 */
static bool split_stream(struct load_ctx *x, struct load_result *r, struct err *e)
{
	char **conds = xcalloc((size_t)x->streams, sizeof(*conds));
	int n = x->src->ops->split(x->src, x->t->copy->split_relation, x->streams, conds, e);
	if (n < 1) {
		free(conds);
		return false;
	}
	if (n == 1) { /* the source reads it whole after all */
		free(conds[0]);
		free(conds);
		x->streams = 1;
		return stream(x, r, e);
	}
	int others = n - 1;
	struct split sp = {.outer = x->h, .ncancels = n};
	sp.cancels = xcalloc((size_t)n, sizeof(*sp.cancels));
	pthread_mutex_init(&sp.lock, NULL);
	part_hook(&sp, 0, x->src, x->tgt);
	struct part *parts = xcalloc((size_t)others, sizeof(*parts));
	int started = 0;
	for (int i = 0; i < others; i++) {
		struct part *pt = &parts[i];
		pt->sp = &sp;
		pt->index = i + 1;
		pt->x = *x;
		pt->x.src = NULL;
		pt->x.tgt = NULL;
		pt->x.tl = NULL;
		pt->x.started = false;
		pt->x.part_load = true;
		pt->x.part = conds[i + 1];
		conds[i + 1] = NULL;
		pt->x.rd.part = pt->x.part;
		pt->hooks = (struct load_hooks){NULL, part_progress, NULL, pt};
		pt->x.h = &pt->hooks;
		err_clear(&pt->e);
		if (pthread_create(&pt->thread, NULL, part_main, pt) != 0) {
			free(pt->x.part);
			pt->x.part = NULL;
			break;
		}
		started++;
	}
	struct load_hooks first = {NULL, first_part_progress, NULL, &sp};
	const struct load_hooks *own = x->h;
	x->h = &first;
	x->part = conds[0];
	conds[0] = NULL;
	x->rd.part = x->part;
	for (int i = 0; i < n; i++)
		free(conds[i]);
	free(conds);
	bool ok = started == others;
	if (!ok)
		err_set(e, 500, "internal", NULL, "could not start a thread for a part of the table");
	ok = ok && stream(x, r, e);
	x->h = own;
	pthread_mutex_lock(&sp.lock);
	/* part 0 ended because another part failed: that part's error tells what happened */
	bool others_first = !ok && sp.stop && !sp.stopped;
	pthread_mutex_unlock(&sp.lock);
	if (!ok)
		split_stop(&sp);
	for (int i = 0; i < started; i++) {
		pthread_join(parts[i].thread, NULL);
		if ((ok || others_first) && !parts[i].ok) {
			*e = parts[i].e;
			ok = others_first = false;
		}
		r->rows += parts[i].r.rows;
		r->bytes += parts[i].r.bytes;
		if (x->stream_sum && parts[i].ok) {
			long long rows = 0;
			unsigned long long sum = 0;
			parts[i].x.src->ops->checksum(parts[i].x.src, &rows, &sum);
			x->parts_rows += rows;
			x->parts_sum += sum;
		}
	}
	/* no cancel may reach a connection that closes, or part 0's as it goes on */
	for (int i = 0; i < n; i++)
		part_hook(&sp, i, NULL, NULL);
	ok = parts_end(parts, started, ok, &x->parts_committed, e);
	if (ok)
		r->parts = started + 1;
	free(parts);
	free(sp.cancels);
	pthread_mutex_destroy(&sp.lock);
	return ok;
}

/*
 * Set each sequence of the table on the target to the source's current value:
 * those its columns own, found by table and column, and those its defaults
 * call, by name.
 */
static bool carry_sequences(struct load_ctx *x, struct err *e)
{
	for (int i = 0; i < x->t->copy->nseqs; i++) {
		const struct copy_seq *s = &x->t->copy->seqs[i];
		char *sql = xasprintf("SELECT last_value, is_called FROM %s", s->source);
		char *v[2] = {NULL, NULL};
		bool ok = x->src->ops->query(x->src, sql) && x->src->ops->row(x->src, v, 2, e) &&
			  x->tops->set_sequence(x->tl, s, v[0], v[1], e);
		free(sql);
		free(v[0]);
		free(v[1]);
		if (!ok)
			return false;
	}
	return true;
}

static bool validation_outcome(struct load_ctx *x, struct load_result *r, long long src_rows,
			       long long dst_rows, bool same_sum, int64_t t0, struct err *e)
{
	const char *vmode = x->t->job->load.validate;
	bool passed = src_rows == dst_rows && same_sum;
	json_decref(r->validation);
	r->validation = json_pack("{s:s,s:I,s:I}", "state", passed ? "passed" : "failed",
				  "source_rows", (json_int_t)src_rows, "target_rows",
				  (json_int_t)dst_rows);
	if (x->h->step)
		x->h->step(x->h->arg, "validation", "%s validation %s in %lld ms: %lld source rows, %lld target rows",
			   vmode, passed ? "passed" : "failed", (long long)(now_ms() - t0), src_rows,
			   dst_rows);
	if (!passed)
		return err_set(e, 500, "validation_failed", NULL,
			       src_rows != dst_rows
				       ? "validation failed: the source has %lld rows, the target received %lld"
				       : "validation failed: %lld rows on each side, but their checksums differ",
			       src_rows, dst_rows);
	return true;
}

/*
 * Validate a checksum the source's database cannot compute as the target's
 * does: the source connector summed the rows' hashes as they streamed; the
 * target's rows are read back and hashed alike (see rowhash.h).
 */
static bool validate_stream(struct load_ctx *x, struct load_result *r, struct err *e)
{
	int64_t t0 = now_ms();
	long long src_rows = 0, dst_rows = 0;
	unsigned long long src_sum = 0, dst_sum = 0;
	x->src->ops->checksum(x->src, &src_rows, &src_sum);
	src_rows += x->parts_rows;
	src_sum += x->parts_sum;
	if (!x->tops->hash_rows(x->tl, &dst_rows, &dst_sum, e))
		return false;
	return validation_outcome(x, r, src_rows, dst_rows, src_sum == dst_sum, t0, e);
}

/* Validate: the same count (and hash) on both sides, computed by both databases at once. */
static bool validate(struct load_ctx *x, struct load_result *r, struct err *e)
{
	bool checksum = !strcmp(x->t->job->load.validate, "checksum");
	if (x->stream_sum)
		return validate_stream(x, r, e);
	char *sq = x->src->ops->validation_sql(x->src, checksum, x->t->copy->select);
	int64_t t0 = now_ms();
	bool sent = x->src->ops->query(x->src, sq);
	bool dsent = x->tops->check_send(x->tl, checksum);
	free(sq);
	char *sv[2] = {NULL, NULL};
	struct err se;
	err_clear(&se);
	/* both answers are read, so that both connections stay usable */
	bool src_ok = sent ? x->src->ops->row(x->src, sv, 2, &se)
			   : err_set(&se, 500, "copy_failed", NULL, "source: the connection is closed");
	long long dst_rows = 0;
	bool same_sum = false;
	(void)dsent; /* check_read reports a query that could not be sent */
	bool dst_ok = x->tops->check_read(x->tl, src_ok ? (sv[1] ? sv[1] : "0") : NULL, &dst_rows,
					  &same_sum, e);
	long long src_rows = atoll(sv[0] ? sv[0] : "0");
	free(sv[0]);
	free(sv[1]);
	if (!src_ok) {
		*e = se;
		return false;
	}
	if (!dst_ok)
		return false;
	return validation_outcome(x, r, src_rows, dst_rows, same_sum, t0, e);
}

/*
 * Validate a merge: the source holds as many rows as were staged, every
 * staged row is on the target exactly as staged, and no flagged row is.
 */
static bool validate_merge(struct load_ctx *x, struct load_result *r, struct err *e)
{
	char *count = x->src->ops->validation_sql(x->src, false, x->t->copy->select);
	int64_t t0 = now_ms();
	char *sv[2] = {NULL, NULL};
	long long staged = 0, found = 0;
	bool ok = x->src->ops->query(x->src, count) && x->src->ops->row(x->src, sv, 2, e) &&
		  x->tops->merge_check(x->tl, &staged, &found, e);
	free(count);
	long long src_rows = atoll(sv[0] ? sv[0] : "0");
	free(sv[0]);
	free(sv[1]);
	if (!ok)
		return false;
	bool passed = src_rows == staged && found == staged;
	json_decref(r->validation);
	r->validation = json_pack("{s:s,s:I,s:I}", "state", passed ? "passed" : "failed",
				  "source_rows", (json_int_t)src_rows, "target_rows", (json_int_t)found);
	if (x->h->step)
		x->h->step(x->h->arg, "validation",
			   "merge validation %s in %lld ms: %lld source rows, %lld of them on the target as read",
			   passed ? "passed" : "failed", (long long)(now_ms() - t0), src_rows, found);
	if (!passed)
		return err_set(e, 500, "validation_failed", NULL,
			       "validation failed: %lld source rows, %lld staged, %lld found on the target as read (or gone, when flagged deleted)",
			       src_rows, staged, found);
	return true;
}

/* The new high-water mark of an incremental table, read in the load's snapshot (NULL: no rows). */
static bool read_mark(struct load_ctx *x, struct load_result *r, struct err *e)
{
	const char *sql = x->t->copy->mark_sql;
	if (!sql || !x->t->copy->track)
		return true;
	char *v = NULL;
	if (!x->src->ops->query(x->src, sql) || !x->src->ops->row(x->src, &v, 1, e))
		return false;
	if (v && *v)
		r->mark = v;
	else
		free(v);
	return true;
}

static void ctx_release(struct load_ctx *x)
{
	if (x->h->connections)
		x->h->connections(x->h->arg, NULL, NULL);
	if (x->tl)
		x->tops->load_close(x->tl);
	if (x->kept) {
		give_back_source(x->t, x->src);
		give_back_target(x->t, x->tgt);
	} else { /* after a failure a side may be in the middle of something: never keep it */
		source_close(x->src);
		target_close(x->tgt);
	}
	free(x->part);
}

/* The steps after the rows are in, up to the commit. */
static bool after_rows(struct load_ctx *x, struct load_result *r, struct err *e)
{
	bool checked = strcmp(x->t->job->load.validate, "none") != 0;
	if (!read_mark(x, r, e))
		return false;
	if (x->way == LOAD_MERGE &&
	    (!x->tops->merge(x->tl, r->rows, e) || (checked && !validate_merge(x, r, e))))
		return false;
	if (x->way != LOAD_MERGE && checked && !validate(x, r, e))
		return false;
	if (x->way == LOAD_SWAP && !x->tops->swap_in(x->tl, e))
		return false;
	if (!carry_sequences(x, e))
		return false;
	return !x->t->copy->mark || x->tops->mark_loaded(x->tl, r->rows, e);
}

bool target_load(const struct load_table *t, const struct load_hooks *h, struct load_result *r,
		 struct err *e)
{
	struct load_ctx x = {.t = t, .h = h};
	bool ok = false;
	r->rows = r->bytes = 0;
	r->mark = NULL;
	r->validation = json_pack("{s:s,s:n,s:n}", "state", "skipped", "source_rows", "target_rows");
	x.rd = (struct source_read){
		.select = t->copy->select,
		.plain = t->copy->plain,
		.binary = t->copy->binary,
		.filtered = t->copy->split_filtered,
		.relation = t->copy->relation,
		.conv = t->copy->conv,
		.job = t->job,
	};
	if (!(x.src = take_source(t, &x.reused[SOURCE], e)) ||
	    !(x.tgt = take_target(t, &x.reused[TARGET], e)))
		goto out;
	x.tops = x.tgt->ops;
	/* a source that sums its rows' hashes as they stream validates a checksum so */
	x.stream_sum = x.src->ops->checksum && !strcmp(t->job->load.validate, "checksum") &&
		       t->copy->kinds;
	if (x.stream_sum)
		x.rd.kinds = t->copy->kinds;
	hook_connections(&x);
	x.way = pick_way(t);
	x.streams = split_wanted(t, x.way);
	open_target_load(&x);
	bool checked = strcmp(t->job->load.validate, "none") != 0;
	/* a table emptied and loaded in one go starts in one message a side */
	bool direct = x.way == LOAD_EMPTY && x.streams == 1;
	/*
	 * and when nothing runs between its rows and the commit, commits with
	 * them too: each test below stands for one of the steps that follow
	 * stream() in after_rows (merge and swap are not direct); a new step
	 * needs its own test
	 */
	x.commit_in_copy = direct && !checked && !t->copy->nseqs && !t->copy->mark && !t->copy->track;
	if (!(direct ? direct_start(&x, e) : begin_load(&x, e)) ||
	    !(x.streams > 1 ? split_stream(&x, r, e) : stream(&x, r, e)) || !after_rows(&x, r, e))
		goto out;
	if (x.commit_in_copy) { /* the load got here: both sides committed with their rows */
		x.kept = true;
		ok = true;
		goto out;
	}
	/* the source's read-only transaction ends while the target commits */
	bool src_sent = x.src->ops->end(x.src);
	if (!x.tops->commit(x.tl, e))
		goto out;
	struct err ee;
	err_clear(&ee);
	x.kept = src_sent && x.src->ops->ended(x.src, &ee);
	ok = true;
out:
	if (!ok) {
		free(r->mark);
		r->mark = NULL;
		if (x.tl)
			x.tops->rollback(x.tl, x.parts_committed);
	}
	ctx_release(&x);
	return ok;
}

bool target_step(const struct job *job, const char *sql, const struct load_hooks *h,
		 struct load_session *session, struct err *e)
{
	struct load_table t = {.job = job, .session = session};
	bool reused;
	struct target *tgt = take_target(&t, &reused, e);
	if (!tgt)
		return false;
	if (h->connections)
		h->connections(h->arg, NULL, tgt);
	bool gone = false;
	bool ok = tgt->ops->step(tgt, sql, &gone, e);
	if (!ok && reused && gone) {
		/* the kept connection was closed meanwhile: nothing ran, connect again */
		if (h->connections)
			h->connections(h->arg, NULL, NULL);
		target_close(tgt);
		if (!(tgt = target_open(job, e)))
			return false;
		if (h->connections)
			h->connections(h->arg, NULL, tgt);
		err_clear(e);
		ok = tgt->ops->step(tgt, sql, &gone, e);
	}
	if (h->connections)
		h->connections(h->arg, NULL, NULL);
	/* a statement that left a transaction open (an after step's BEGIN) closes the connection */
	give_back_target(&t, tgt);
	return ok;
}
