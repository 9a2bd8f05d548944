/* core/connectors/target.c: which connector writes a job's target, and the connections a worker keeps */
#include "target.h"

#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "job.h"
#include "banned.h"

const struct target_ops *target_kind(const struct job *job, struct err *e)
{
	const char *dsn = job->target.dsn;
	const char *kind = dsn ? dsn_kind(dsn) : NULL;
	if (kind && !strcmp(kind, "postgresql"))
		return &pg_target_ops;
	err_set(e, 400, "invalid_field", "target.dsn",
		"the target's connection string is of a kind ferry does not write");
	return NULL;
}

struct target *target_open(const struct job *job, struct err *e)
{
	const struct target_ops *ops = target_kind(job, e);
	return ops ? ops->open(job, e) : NULL;
}

void target_close(struct target *t)
{
	if (t)
		t->ops->close(t);
}

bool target_exists_error(const struct job *job, const char *code)
{
	struct err e;
	err_clear(&e);
	const struct target_ops *ops = target_kind(job, &e);
	return ops && ops->exists_error && ops->exists_error(code);
}

void load_session_close(struct load_session *s)
{
	source_close(s->src);
	target_close(s->dst);
	s->src = NULL;
	s->dst = NULL;
	for (int i = 0; i < 2; i++) {
		json_decref(s->key[i]);
		s->key[i] = NULL;
	}
}
