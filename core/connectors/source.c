/* core/connectors/source.c: which connector reads a job's source */
#include "source.h"

#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "job.h"
#include "banned.h"

const struct source_ops *source_kind(const struct job *job, struct err *e)
{
	const char *dsn = job->source.dsn;
	const char *kind = dsn ? dsn_kind(dsn) : NULL;
	if (kind && !strcmp(kind, "mysql"))
		return &mysql_source_ops;
	if (kind)
		return &pg_source_ops;
	err_set(e, 400, "invalid_field", "source.dsn",
		"the source's connection string is of a kind ferry does not read");
	return NULL;
}

struct source *source_open(const struct job *job, struct err *e)
{
	const struct source_ops *ops = source_kind(job, e);
	return ops ? ops->open(job, e) : NULL;
}

void source_close(struct source *s)
{
	if (s)
		s->ops->close(s);
}
