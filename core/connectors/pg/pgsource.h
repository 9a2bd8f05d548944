/* core/connectors/pg/pgsource.h: PostgreSQL as a source (see source.h) */
#ifndef FERRY_PGSOURCE_H
#define FERRY_PGSOURCE_H

#include <libpq-fe.h>

#include "source.h"

/* The connection of a PostgreSQL source, or NULL when s is of another kind. */
PGconn *pg_source_conn(struct source *s);

#endif
