/* core/meta/embedpg.c: a private PostgreSQL server for ferryd's own metadata */
#include "embedpg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define EMBED_USER "postgres"
#define EMBED_DB "ferry"

struct embedpg {
	char bindir[PATH_MAX];
	char pgdata[PATH_MAX + 8];
	char sockdir[PATH_MAX + 8];
	char logfile[PATH_MAX + 16];
	char *dsn; /* owned */
	bool started_here;
	uid_t uid; /* user the server runs as */
	gid_t gid;
	bool drop_privileges;
};

bool embedpg_bindir(char *out, size_t n)
{
	FILE *p = popen("pg_config --bindir 2>/dev/null", "r");
	if (p) {
		char buf[PATH_MAX] = "";
		if (fgets(buf, sizeof(buf), p)) {
			buf[strcspn(buf, "\n")] = '\0';
			char probe[PATH_MAX + 16];
			snprintf(probe, sizeof(probe), "%s/initdb", buf);
			if (access(probe, X_OK) == 0) {
				pclose(p);
				str_copy(out, n, buf);
				return true;
			}
		}
		pclose(p);
	}
	DIR *d = opendir("/usr/lib/postgresql");
	int best = 0;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		int v = atoi(de->d_name);
		char probe[PATH_MAX];
		snprintf(probe, sizeof(probe), "/usr/lib/postgresql/%s/bin/initdb", de->d_name);
		if (v > best && access(probe, X_OK) == 0) {
			best = v;
			snprintf(out, n, "/usr/lib/postgresql/%d/bin", v);
		}
	}
	if (d)
		closedir(d);
	return best > 0;
}

/* Run a PostgreSQL program as the server's user, output appended to the log; exit status or -1. */
static int run_as(struct embedpg *pg, const char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(pg->logfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		if (pg->drop_privileges &&
		    (setgroups(0, NULL) || setgid(pg->gid) || setuid(pg->uid))) {
			perror("ferryd: could not switch to user " EMBED_USER);
			_exit(126);
		}
		execv(argv[0], (char *const *)argv);
		perror("ferryd: exec");
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* True when the server's user can read, write and enter path (checked as that user). */
static bool user_can_reach(struct embedpg *pg, const char *path)
{
	if (!pg->drop_privileges)
		return true;
	pid_t pid = fork();
	if (pid < 0)
		return true;
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(pg->gid) || setuid(pg->uid))
			_exit(1);
		_exit(access(path, R_OK | W_OK | X_OK) == 0 ? 0 : 1);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return true;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool make_dir(struct embedpg *pg, const char *path, mode_t mode, struct err *e)
{
	if (mkdir(path, mode) && errno != EEXIST)
		return err_set(e, 500, "data_dir", NULL, "could not create \"%s\": %s", path,
			       strerror(errno));
	if (pg->drop_privileges && chown(path, pg->uid, pg->gid))
		return err_set(e, 500, "data_dir", NULL, "could not hand \"%s\" to user %s: %s",
			       path, EMBED_USER, strerror(errno));
	chmod(path, mode);
	return true;
}

static bool prepare_dirs(struct embedpg *pg, const char *data_dir, struct err *e)
{
	char real[PATH_MAX];
	if (mkdir(data_dir, 0755) && errno != EEXIST)
		return err_set(e, 500, "data_dir", NULL, "could not create data directory \"%s\": %s",
			       data_dir, strerror(errno));
	if (!realpath(data_dir, real))
		return err_set(e, 500, "data_dir", NULL, "data directory \"%s\": %s", data_dir,
			       strerror(errno));
	if (pg->drop_privileges && chown(real, pg->uid, pg->gid))
		return err_set(e, 500, "data_dir", NULL, "could not hand \"%s\" to user %s: %s",
			       real, EMBED_USER, strerror(errno));
	snprintf(pg->pgdata, sizeof(pg->pgdata), "%s/pg", real);
	snprintf(pg->sockdir, sizeof(pg->sockdir), "%s/run", real);
	snprintf(pg->logfile, sizeof(pg->logfile), "%s/postgres.log", real);
	if (strlen(pg->sockdir) + sizeof("/.s.PGSQL.5432") > 107)
		return err_set(e, 500, "data_dir", NULL,
			       "data directory path \"%s\" is too long for a unix socket; choose a shorter --data-dir",
			       real);
	if (!user_can_reach(pg, real))
		return err_set(e, 500, "data_dir", NULL,
			       "user %s, which runs the embedded PostgreSQL, cannot reach \"%s\" (a parent directory is closed to it); choose another --data-dir",
			       EMBED_USER, real);
	if (!make_dir(pg, pg->sockdir, 0700, e))
		return false;
	int fd = open(pg->logfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0) {
		if (pg->drop_privileges && fchown(fd, pg->uid, pg->gid))
			log_warn("could not hand \"%s\" to user %s", pg->logfile, EMBED_USER);
		close(fd);
	}
	return true;
}

static bool pick_user(struct embedpg *pg, struct err *e)
{
	pg->uid = geteuid();
	pg->gid = getegid();
	if (pg->uid != 0)
		return true;
	struct passwd *pw = getpwnam(EMBED_USER);
	if (!pw)
		return err_set(e, 500, "embedded_db", NULL,
			       "ferryd runs as root and PostgreSQL refuses to; create the user \"%s\" (apt-get install postgresql does) or pass --meta",
			       EMBED_USER);
	pg->uid = pw->pw_uid;
	pg->gid = pw->pw_gid;
	pg->drop_privileges = true;
	return true;
}

static bool init_cluster(struct embedpg *pg, struct err *e)
{
	char version[PATH_MAX + 32];
	snprintf(version, sizeof(version), "%s/PG_VERSION", pg->pgdata);
	if (access(version, F_OK) == 0)
		return true;
	char initdb[PATH_MAX + 32];
	snprintf(initdb, sizeof(initdb), "%s/initdb", pg->bindir);
	log_info("initialising the embedded metadata database in %s", pg->pgdata);
	if (!make_dir(pg, pg->pgdata, 0700, e))
		return false;
	const char *const argv[] = {initdb, "-D", pg->pgdata, "-U", EMBED_USER, "-A", "trust",
			      "-E", "UTF8", "--locale=C", NULL};
	if (run_as(pg, argv) != 0)
		return err_set(e, 500, "embedded_db", NULL,
			       "initdb failed for \"%s\"; see %s", pg->pgdata, pg->logfile);
	return true;
}

static bool ensure_database(struct embedpg *pg, struct err *e)
{
	char *dsn = xasprintf("host=%s port=5432 user=%s dbname=postgres", pg->sockdir, EMBED_USER);
	PGconn *c = db_connect(dsn, "metadata", e);
	free(dsn);
	if (!c)
		return false;
	const char *p[] = {EMBED_DB};
	PGresult *res = db_exec(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, p, e);
	bool ok = res != NULL;
	if (ok && PQntuples(res) == 0)
		ok = db_simple(c, "CREATE DATABASE " EMBED_DB, e);
	PQclear(res);
	PQfinish(c);
	return ok;
}

/* True when a server already answers on the private socket. */
static bool server_answers(struct embedpg *pg)
{
	char *dsn = xasprintf("host=%s port=5432 user=%s dbname=postgres connect_timeout=3",
			      pg->sockdir, EMBED_USER);
	PGPing ping = PQping(dsn);
	free(dsn);
	return ping == PQPING_OK;
}

struct embedpg *embedpg_start(const char *data_dir, struct err *e)
{
	struct embedpg *pg = xcalloc(1, sizeof(*pg));
	if (!embedpg_bindir(pg->bindir, sizeof(pg->bindir))) {
		err_set(e, 500, "embedded_db", NULL,
			"PostgreSQL server binaries not found (install the postgresql package, or pass --meta)");
		goto fail;
	}
	if (!pick_user(pg, e) || !prepare_dirs(pg, data_dir, e) || !init_cluster(pg, e))
		goto fail;
	if (!server_answers(pg)) {
		char pg_ctl[PATH_MAX + 16], opts[PATH_MAX + 64];
		snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", pg->bindir);
		snprintf(opts, sizeof(opts), "-c listen_addresses='' -k %s -p 5432", pg->sockdir);
		const char *const argv[] = {pg_ctl, "-D", pg->pgdata, "-l", pg->logfile, "-w", "-t", "60",
				      "-o", opts, "start", NULL};
		if (run_as(pg, argv) != 0) {
			err_set(e, 500, "embedded_db", NULL,
				"could not start the embedded PostgreSQL; see %s", pg->logfile);
			goto fail;
		}
		pg->started_here = true;
		log_info("embedded metadata database started (socket in %s)", pg->sockdir);
	} else {
		log_info("reusing the embedded metadata database already running in %s", pg->pgdata);
	}
	if (!ensure_database(pg, e))
		goto fail;
	pg->dsn = xasprintf("host=%s port=5432 user=%s dbname=%s", pg->sockdir, EMBED_USER,
			    EMBED_DB);
	return pg;
fail:
	embedpg_stop(pg);
	return NULL;
}

const char *embedpg_dsn(const struct embedpg *pg)
{
	return pg->dsn;
}

void embedpg_stop(struct embedpg *pg)
{
	if (!pg)
		return;
	if (pg->started_here) {
		char pg_ctl[PATH_MAX + 16];
		snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", pg->bindir);
		const char *const argv[] = {pg_ctl, "-D", pg->pgdata, "-m", "fast", "-w", "-t", "30",
				      "stop", NULL};
		if (run_as(pg, argv) != 0)
			log_warn("could not stop the embedded PostgreSQL; see %s", pg->logfile);
		else
			log_info("embedded metadata database stopped");
	}
	free(pg->dsn);
	free(pg);
}
