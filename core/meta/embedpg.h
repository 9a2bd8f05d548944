/* core/meta/embedpg.h: a private PostgreSQL server for ferryd's own metadata */
#ifndef FERRY_EMBEDPG_H
#define FERRY_EMBEDPG_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct embedpg;

/*
 * Initialise (first time) and start a PostgreSQL cluster in data_dir/pg,
 * listening only on a unix socket in data_dir/run. When ferryd runs as
 * root, the server runs as the unprivileged user "postgres". Reuses a
 * server that is already running on that directory. Returns NULL with e
 * filled (the reason, and where its log is) on failure.
 */
struct embedpg *embedpg_start(const char *data_dir, struct err *e);
/*
 * The folder of the PostgreSQL programs (initdb, pg_ctl, pg_dump):
 * pg_config --bindir, else the newest Debian install. False when none is found.
 */
bool embedpg_bindir(char *out, size_t n);
/* The libpq connection string of the metadata database (borrowed). */
const char *embedpg_dsn(const struct embedpg *pg);
/* Stop the server if this process started it, and free pg. */
void embedpg_stop(struct embedpg *pg);

#endif
