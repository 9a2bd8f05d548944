/* core/connectors/pg/objects.c: a database's objects beyond its tables, read from pg_dump and created around ferry's own tables */
#include "objects.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "dsn.h"
#include "embedpg.h"
#include "job.h"
#include "log.h"
#include "names.h"
#include "pgtarget.h"
#include "planner.h"
#include "sb.h"
#include "sql.h"
#include "util.h"
#include "banned.h"

extern char **environ;

/* ---- a set of qualified names, each with a text (a reason) or a number ---- */

struct nameset {
	char **keys;  /* owned: "schema\tname", NULL for an empty slot */
	char **texts; /* owned */
	int *nums;
	size_t cap, used;
};

static size_t ns_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static char *ns_key(const char *schema, const char *name)
{
	return xasprintf("%s\t%s", schema, name);
}

static size_t ns_slot(const struct nameset *s, const char *key)
{
	size_t i = ns_hash(key) & (s->cap - 1);
	while (s->keys[i] && strcmp(s->keys[i], key))
		i = (i + 1) & (s->cap - 1);
	return i;
}

/* The entry for schema.name, or -1. */
static long ns_find(const struct nameset *s, const char *schema, const char *name)
{
	if (!s->used)
		return -1;
	char *key = ns_key(schema, name);
	size_t i = ns_slot(s, key);
	free(key);
	return s->keys[i] ? (long)i : -1;
}

/* Add schema.name with text (copied, may be NULL) and num; an existing entry is kept. */
static void ns_add(struct nameset *s, const char *schema, const char *name, const char *text, int num)
{
	if ((s->used + 1) * 2 > s->cap) {
		struct nameset big = {0};
		big.cap = s->cap ? s->cap * 2 : 64;
		big.keys = xcalloc(big.cap, sizeof(char *));
		big.texts = xcalloc(big.cap, sizeof(char *));
		big.nums = xcalloc(big.cap, sizeof(int));
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->keys[i])
				continue;
			size_t j = ns_slot(&big, s->keys[i]);
			big.keys[j] = s->keys[i];
			big.texts[j] = s->texts[i];
			big.nums[j] = s->nums[i];
		}
		big.used = s->used;
		free(s->keys);
		free(s->texts);
		free(s->nums);
		*s = big;
	}
	char *key = ns_key(schema, name);
	size_t i = ns_slot(s, key);
	if (s->keys[i]) {
		free(key);
		return;
	}
	s->keys[i] = key;
	s->texts[i] = text ? xstrdup(text) : NULL;
	s->nums[i] = num;
	s->used++;
}

static void ns_release(struct nameset *s)
{
	for (size_t i = 0; i < s->cap; i++) {
		free(s->keys[i]);
		free(s->texts[i]);
	}
	free(s->keys);
	free(s->texts);
	free(s->nums);
	memset(s, 0, sizeof(*s));
}

/* ---- reading SQL as pg_dump writes it ---- */

static bool ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

static bool ident_char(char c)
{
	return ident_start(c) || isdigit((unsigned char)c) || c == '$';
}

/* Past a dollar quote's opening tag at s ("$$" or "$tag$"), or NULL when s opens none. */
static const char *dollar_tag_end(const char *s)
{
	const char *p = s + 1;
	while (*p && *p != '$' && ident_char(*p))
		p++;
	return *p == '$' && (p == s + 1 || ident_start(s[1])) ? p + 1 : NULL;
}

/*
 * Past the quoted text, comment or dollar-quoted body that starts at s, or
 * s itself when none starts there. escapes: s opens an E'' string, where a
 * backslash escapes the next character.
 */
static const char *skip_quoted(const char *s, bool escapes)
{
	if (*s == '\'' || *s == '"') {
		char q = *s;
		const char *p = s + 1;
		for (; *p; p++) {
			if (escapes && q == '\'' && *p == '\\' && p[1]) {
				p++;
			} else if (*p == q) {
				if (p[1] != q)
					return p + 1;
				p++;
			}
		}
		return p;
	}
	if (s[0] == '-' && s[1] == '-') {
		const char *p = strchr(s, '\n');
		return p ? p + 1 : s + strlen(s);
	}
	if (s[0] == '/' && s[1] == '*') {
		int depth = 1;
		const char *p = s + 2;
		while (*p && depth) {
			if (p[0] == '/' && p[1] == '*')
				depth++, p++;
			else if (p[0] == '*' && p[1] == '/')
				depth--, p++;
			p++;
		}
		return p;
	}
	if (*s == '$') {
		const char *body = dollar_tag_end(s);
		if (!body)
			return s;
		size_t n = (size_t)(body - s);
		const char *p = body;
		while ((p = strchr(p, '$')) && strncmp(p, s, n))
			p++;
		return p ? p + n : s + strlen(s);
	}
	return s;
}

/* Past the word at s (letters, digits, _ and $), and past the string it prefixes when it is E'…'. */
static const char *skip_word(const char *s)
{
	const char *p = s;
	while (ident_char(*p))
		p++;
	if (p == s + 1 && (*s == 'E' || *s == 'e') && *p == '\'')
		return skip_quoted(p, true);
	return p;
}

/* The length of the statement at s, its ';' included (the rest of s when it has none). */
static size_t stmt_len(const char *s)
{
	const char *p = s;
	while (*p) {
		if (ident_char(*p) && *p != '$') {
			p = skip_word(p);
			continue;
		}
		const char *q = skip_quoted(p, false);
		if (q != p) {
			p = q;
			continue;
		}
		if (*p++ == ';')
			break;
	}
	return (size_t)(p - s);
}

/*
 * Read one identifier at *s (after blanks): a quoted one as it reads, a bare
 * one folded to lower case. False when none starts there.
 */
static bool read_ident(const char **s, char *out, size_t n)
{
	const char *p = *s;
	while (isspace((unsigned char)*p))
		p++;
	size_t k = 0;
	if (*p == '"') {
		for (p++; *p; p++) {
			if (*p == '"' && p[1] != '"')
				break;
			if (*p == '"')
				p++;
			if (k + 1 < n)
				out[k++] = *p;
		}
		if (*p != '"')
			return false;
		p++;
	} else if (ident_start(*p)) {
		while (ident_char(*p)) {
			if (k + 1 < n)
				out[k++] = (char)tolower((unsigned char)*p);
			p++;
		}
	} else {
		return false;
	}
	out[k] = '\0';
	*s = p;
	return true;
}

/* Read "a.b" at *s into schema and name (a bare "b" leaves schema empty). */
static bool read_qname(const char **s, struct qualname *q)
{
	char first[128], second[128];
	if (!read_ident(s, first, sizeof(first)))
		return false;
	if (**s == '.') {
		const char *p = *s + 1;
		if (read_ident(&p, second, sizeof(second))) {
			*s = p;
			str_copy(q->schema, sizeof(q->schema), first);
			str_copy(q->name, sizeof(q->name), second);
			return true;
		}
	}
	q->schema[0] = '\0';
	str_copy(q->name, sizeof(q->name), first);
	return true;
}

/* Skip the keyword kw (case-insensitive, whole word) at *s; false when it is not there. */
static bool read_word(const char **s, const char *kw)
{
	const char *p = *s;
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		const char *q = (*p == '-' || *p == '/') ? skip_quoted(p, false) : p;
		if (q == p)
			break;
		p = q;
	}
	size_t n = strlen(kw);
	if (strncasecmp(p, kw, n) || ident_char(p[n]))
		return false;
	*s = p + n;
	return true;
}

/*
 * The relation the statement at sql works on: ALTER TABLE [ONLY] x …,
 * ALTER SEQUENCE s OWNED BY x.col, CREATE [UNIQUE] INDEX i ON [ONLY] x,
 * ALTER INDEX x ATTACH …. False when it is none of these.
 */
static bool stmt_relation(const char *sql, struct qualname *q)
{
	const char *p = sql;
	struct qualname skip;
	if (read_word(&p, "ALTER") && read_word(&p, "TABLE")) {
		if (read_word(&p, "IF"))
			read_word(&p, "EXISTS");
		read_word(&p, "ONLY");
		return read_qname(&p, q);
	}
	p = sql;
	if (read_word(&p, "ALTER") && read_word(&p, "SEQUENCE") && read_qname(&p, &skip) &&
	    read_word(&p, "OWNED") && read_word(&p, "BY"))
		return read_qname(&p, q);
	p = sql;
	if (read_word(&p, "ALTER") && read_word(&p, "INDEX"))
		return read_qname(&p, q);
	p = sql;
	if (read_word(&p, "CREATE")) {
		read_word(&p, "UNIQUE");
		if (read_word(&p, "INDEX") && read_qname(&p, &skip) && read_word(&p, "ON")) {
			read_word(&p, "ONLY");
			return read_qname(&p, q);
		}
	}
	return false;
}

/*
 * The first qualified name in sql, outside quoted text and function bodies,
 * that set holds; its entry, or -1. out gets the name.
 */
static long mentions(const char *sql, const struct nameset *set, struct qualname *out)
{
	if (!set->used)
		return -1;
	const char *p = sql;
	while (*p) {
		if (*p == '"' || ident_start(*p)) {
			struct qualname q;
			const char *start = p;
			const char *after = skip_word(p);
			if (after != p && (*after == '\'' || after[-1] == '\'')) {
				p = after; /* E'…' */
				continue;
			}
			if (read_qname(&p, &q)) {
				long hit = *q.schema ? ns_find(set, q.schema, q.name) : -1;
				if (hit >= 0) {
					*out = q;
					return hit;
				}
				continue;
			}
			p = start + 1;
			continue;
		}
		if (isdigit((unsigned char)*p)) {
			p = skip_word(p);
			continue;
		}
		const char *q = skip_quoted(p, false);
		p = q != p ? q : p + 1;
	}
	return -1;
}

/* ---- running pg_dump ---- */

/* Read both pipes to their end; false on a read error. */
static bool drain(int out_fd, int err_fd, struct sb *out, struct sb *errs)
{
	struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
	int open_fds = 2;
	char buf[65536];
	while (open_fds) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(fds[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fds[i].fd = -1;
				open_fds--;
				continue;
			}
			sb_add(i == 0 ? out : errs, buf, (size_t)n);
		}
	}
	return true;
}

/*
 * The environment of pg_dump: ferryd's own without libpq's PG* variables,
 * then one variable for each setting of the job's source connection string
 * (and its password), so that no secret is on the command line.
 */
static char **dump_env(const struct job *job, struct err *e)
{
	const char *dsn = job->source.dsn;
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(dsn, &perr);
	if (!opts) {
		PQfreemem(perr);
		err_set(e, 400, "invalid_field", "source.dsn", "the source connection string does not parse");
		return NULL;
	}
	size_t n = 0;
	for (char **v = environ; *v; v++)
		n++;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		n++;
	char **env = xcalloc(n + 2, sizeof(char *));
	size_t k = 0;
	for (char **v = environ; *v; v++)
		if (strncmp(*v, "PG", 2))
			env[k++] = xstrdup(*v);
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->envvar && o->val && *o->val)
			env[k++] = xasprintf("%s=%s", o->envvar, o->val);
	const char *pwenv = job->source.password_env;
	const char *pw = pwenv ? getenv(pwenv) : NULL;
	if (pw)
		env[k++] = xasprintf("PGPASSWORD=%s", pw);
	PQconninfoFree(opts);
	return env;
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/* Run pg_dump with args; its output, or NULL with e filled (its message, scrubbed of the password). */
static char *pg_dump(const struct job *job, char **args, struct err *e)
{
	char bindir[1024], prog[1100];
	snprintf(prog, sizeof(prog), "pg_dump");
	if (embedpg_bindir(bindir, sizeof(bindir)))
		snprintf(prog, sizeof(prog), "%s/pg_dump", bindir);
	char **env = dump_env(job, e);
	if (!env)
		return NULL;
	int out[2] = {-1, -1}, errp[2] = {-1, -1};
	if (pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		strv_free(env);
		err_set(e, 500, "internal", NULL, "could not run pg_dump: %s", strerror(errno));
		return NULL;
	}
	args[0] = prog;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(errp[1], 2);
		close(out[0]);
		close(errp[0]);
		close(out[1]);
		close(errp[1]);
		signal(SIGPIPE, SIG_DFL);
		execve(prog, args, env);
		execvpe("pg_dump", args, env);
		dprintf(2, "could not start pg_dump: %s\n", strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(errp[1]);
	strv_free(env);
	struct sb text, errs;
	sb_init(&text);
	sb_init(&errs);
	bool read_ok = pid > 0 && drain(out[0], errp[0], &text, &errs);
	close(out[0]);
	close(errp[0]);
	int status = 0;
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (pid > 0 && read_ok && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		sb_release(&errs);
		return sb_detach(&text);
	}
	char *scrubbed = dsn_scrub(errs.len ? errs.buf : "it ended abnormally", job->source.dsn);
	size_t n = strlen(scrubbed);
	while (n && isspace((unsigned char)scrubbed[n - 1]))
		scrubbed[--n] = '\0';
	err_set(e, 422, "objects_unreadable", NULL, "pg_dump could not read the source's objects: %s", scrubbed);
	free(scrubbed);
	sb_release(&text);
	sb_release(&errs);
	return NULL;
}

/* ---- pg_dump's script as entries ---- */

/* The kinds pg_dump restores after the data (its post-data section and the grants). */
static bool post_kind(const char *type)
{
	static const char *const kinds[] = {
		"INDEX", "INDEX ATTACH", "CONSTRAINT", "FK CONSTRAINT", "CHECK CONSTRAINT", "TRIGGER",
		"EVENT TRIGGER", "RULE", "POLICY", "ROW SECURITY", "PUBLICATION", "PUBLICATION TABLE",
		"PUBLICATION TABLES IN SCHEMA", "STATISTICS", "DEFAULT ACL", "ACL", "MATERIALIZED VIEW DATA",
		NULL};
	for (int i = 0; kinds[i]; i++)
		if (!strcmp(type, kinds[i]))
			return true;
	return false;
}

/* Parse "-- Name: n; Type: t; Schema: s; Owner: o" (line without "-- "); false when it is not one. */
static bool parse_header(char *line, struct obj *o, char *owner, size_t n)
{
	if (strncmp(line, "Name: ", 6))
		return false;
	char *ow = strstr(line, "; Owner: ");
	char *sc = NULL, *ty = NULL;
	for (char *p = line; (p = strstr(p, "; Schema: ")) && p < ow; p++)
		sc = p;
	for (char *p = line; sc && (p = strstr(p, "; Type: ")) && p < sc; p++)
		ty = p;
	if (!ow || !sc || !ty)
		return false;
	*ow = *sc = *ty = '\0';
	str_copy(owner, n, ow + 9);
	str_copy(o->schema, sizeof(o->schema), strcmp(sc + 10, "-") ? sc + 10 : "");
	str_copy(o->type, sizeof(o->type), ty + 8);
	o->name = xstrdup(line + 6);
	return true;
}

/*
 * Append line to out unless it is one of the psql meta-commands pg_dump
 * writes around its script (\restrict, \unrestrict); every other line is
 * kept as it is, a comment line of a function's body too.
 */
static void add_line(struct sb *out, const char *line, size_t n)
{
	if ((n > 9 && !strncmp(line, "\\restrict ", 10)) || (n > 11 && !strncmp(line, "\\unrestrict ", 12)))
		return;
	sb_add(out, line, n);
	sb_addc(out, '\n');
}

/* Trim text in place: no blank lines around it. */
static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	size_t k = strspn(s, " \t\n");
	memmove(s, s + k, n - k + 1);
}

/* Split a pg_dump plain script into o's preamble and objects; owners[i] is object i's owner. */
static void split_script(char *text, struct objects *o, char ***owners)
{
	struct sb cur, pre;
	sb_init(&cur);
	sb_init(&pre);
	struct sb *into = &pre;
	char *line = text;
	while (*line) {
		char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		char *next = end ? end + 1 : line + n;
		/* a header is "--", "-- Name: …", "--" */
		if (n == 2 && !strncmp(line, "--", 2) && !strncmp(next, "-- Name: ", 9)) {
			char *hend = strchr(next, '\n');
			struct obj ob = {.table = -1, .parent = -1};
			char owner[200];
			if (hend) {
				*hend = '\0';
				if (parse_header(next + 3, &ob, owner, sizeof(owner))) {
					if (o->n)
						o->o[o->n - 1].sql = sb_detach(&cur);
					o->o = xrealloc(o->o, sizeof(*o->o) * (size_t)(o->n + 1));
					*owners = xrealloc(*owners, sizeof(char *) * (size_t)(o->n + 1));
					(*owners)[o->n] = xstrdup(owner);
					o->o[o->n++] = ob;
					into = &cur;
					sb_init(&cur);
					/* past the header's closing "--" */
					line = hend + 1;
					if (!strncmp(line, "--\n", 3))
						line += 3;
					continue;
				}
				*hend = '\n';
			}
		}
		add_line(into, line, n);
		line = next;
	}
	if (o->n)
		o->o[o->n - 1].sql = sb_detach(&cur);
	for (int i = 0; i < o->n; i++)
		trim(o->o[i].sql);
	o->preamble = sb_detach(&pre);
	trim(o->preamble);
	sb_release(&cur);
}

/* ---- deciding each object's fate ---- */

/* What the classification knows of the plan and the target. */
struct ctx {
	const struct plan *p;
	struct nameset ferry;     /* tables this run creates: plan index */
	struct nameset kept;      /* tables that exist on the target and are kept: reason */
	struct nameset unloadable; /* tables the plan cannot load: reason */
	struct nameset bad;       /* names whose dependents are skipped: reason */
	struct nameset made_seqs; /* sequences ferry creates with its tables */
	struct nameset ferry_idx; /* indexes and constraints ferry builds itself */
	struct nameset schemas;   /* the dumped schemas */
	struct nameset missing_roles;
	struct nameset no_ext;    /* extensions the target cannot install */
	bool know_target;
};

static void ctx_release(struct ctx *c)
{
	ns_release(&c->ferry);
	ns_release(&c->kept);
	ns_release(&c->unloadable);
	ns_release(&c->bad);
	ns_release(&c->made_seqs);
	ns_release(&c->ferry_idx);
	ns_release(&c->schemas);
	ns_release(&c->missing_roles);
	ns_release(&c->no_ext);
}

/* Whether plan table t reaches the target under another name or with other columns. */
static bool reshaped(const struct job *job, const struct plan_table *t)
{
	if (strcmp(t->st.src.schema, t->st.dst.schema) || strcmp(t->st.src.name, t->st.dst.name))
		return true;
	const struct job_table *opts = job_table_options(job, t->st.src.schema, t->st.src.name);
	if (!opts)
		return false;
	json_t *const given[] = {opts->columns, opts->drop_columns, opts->casts, opts->expressions};
	for (size_t i = 0; i < sizeof(given) / sizeof(given[0]); i++)
		if (json_array_size(given[i]) || json_object_size(given[i]))
			return true;
	return false;
}

/* Record the sequence named by a quoted qualified name (as tdef keeps it) in set. */
static void add_seq_name(struct nameset *set, const char *quoted)
{
	struct qualname q;
	const char *p = quoted;
	if (read_qname(&p, &q) && *q.schema)
		ns_add(set, q.schema, q.name, NULL, 0);
}

static void ctx_plan(struct ctx *c, const struct job *job, const struct plan *p)
{
	c->p = p;
	for (int i = 0; i < p->n; i++) {
		const struct plan_table *t = &p->t[i];
		const struct qualname *s = &t->st.src;
		if (reshaped(job, t)) {
			char *why = xasprintf("it depends on %s, which the job loads as %s%s", t->st.src_label,
					      t->st.dst_label,
					      strcmp(t->st.src_label, t->st.dst_label) ? "" : " with other columns");
			ns_add(&c->bad, s->schema, s->name, why, 0);
			free(why);
		}
		if (t->create && !*t->error) {
			ns_add(&c->ferry, s->schema, s->name, NULL, i);
			for (int k = 0; k < t->def.ncols; k++) {
				const struct tdef_column *col = &t->def.cols[k];
				if (col->sequence)
					add_seq_name(&c->made_seqs, col->sequence);
				for (int u = 0; u < col->nuses; u++)
					add_seq_name(&c->made_seqs, col->uses[u].name);
			}
			for (int k = 0; k < t->def.nsteps; k++)
				ns_add(&c->ferry_idx, t->st.dst.schema, t->def.steps[k].name, NULL, 0);
		} else if (!*t->error) {
			char *why = xasprintf("its table %s exists on the target and is kept (load mode %s)",
					      t->st.dst_label, t->mode);
			ns_add(&c->kept, s->schema, s->name, why, 0);
			free(why);
		} else {
			char *why = xasprintf("the table cannot be loaded: %s", t->error);
			ns_add(&c->unloadable, s->schema, s->name, why, 0);
			free(why);
			why = xasprintf("it depends on %s, which cannot be loaded", t->st.src_label);
			ns_add(&c->bad, s->schema, s->name, why, 0);
			free(why);
		}
	}
}

/* Mark object i skipped for why (copied). */
static void skip(struct obj *o, const char *why)
{
	o->fate = OBJ_SKIP;
	free(o->why);
	o->why = xstrdup(why);
}

/* The statements of sql after the first (new string, possibly ""). */
static char *after_first(const char *sql)
{
	size_t n = stmt_len(sql);
	char *rest = xstrdup(sql + n);
	trim(rest);
	return rest;
}

/* The statements of sql without those that name a role the target lacks. */
static char *drop_missing_roles(const struct ctx *c, const char *sql)
{
	struct sb out;
	sb_init(&out);
	const char *p = sql;
	while (*p) {
		size_t n = stmt_len(p);
		char *st = xstrndup(p, n);
		bool drop = false;
		/* ALTER … OWNER TO r; GRANT … TO r [, r2]; REVOKE … FROM r */
		const char *to = NULL;
		for (const char *q = st; (q = strstr(q, " OWNER TO ")); q++)
			to = q + 10;
		if (!to && (!strncmp(st + strspn(st, " \n"), "GRANT ", 6) || !strncmp(st + strspn(st, " \n"), "REVOKE ", 7))) {
			for (const char *q = st; (q = strstr(q, " TO ")); q++)
				to = q + 4;
			for (const char *q = st; (q = strstr(q, " FROM ")); q++)
				to = q + 6;
		}
		while (to && !drop) {
			char role[128];
			if (!read_ident(&to, role, sizeof(role)))
				break;
			drop = ns_find(&c->missing_roles, "", role) >= 0;
			while (*to == ' ')
				to++;
			if (*to != ',')
				break;
			to++;
		}
		if (!drop)
			sb_add(&out, p, n);
		free(st);
		p += n;
	}
	char *s = sb_detach(&out);
	trim(s);
	return s;
}

/* The object a comment or label at i describes: the nearest object before it that is not one. */
static int parent_of(const struct objects *o, int i)
{
	int k = i - 1;
	while (k >= 0 && objects_describes(o->o[k].type))
		k--;
	return k;
}

/* Kinds that define a relation, type or routine other objects may name. */
static bool names_a_thing(const char *type)
{
	static const char *const kinds[] = {"TABLE", "VIEW", "MATERIALIZED VIEW", "SEQUENCE", "FOREIGN TABLE",
					    "TYPE", "DOMAIN", "FUNCTION", "PROCEDURE", "AGGREGATE", NULL};
	for (int i = 0; kinds[i]; i++)
		if (!strcmp(type, kinds[i]))
			return true;
	return false;
}

/* When object i is skipped, the name others refer to it by goes into the bad set. */
static void spread_skip(struct ctx *c, const struct obj *o)
{
	if (!names_a_thing(o->type) || !*o->schema)
		return;
	char name[300];
	str_copy(name, sizeof(name), o->name);
	name[strcspn(name, "(")] = '\0';
	char *why = xasprintf("it depends on %s.%s, which is not created (%s)", o->schema, name,
			      o->why ? o->why : "skipped");
	ns_add(&c->bad, o->schema, name, why, 0);
	free(why);
}

/* The schema an extension's statements install it in, or "". */
static void extension_schema(const char *sql, char *out, size_t n)
{
	const char *p = strstr(sql, " WITH SCHEMA ");
	*out = '\0';
	if (p) {
		p += 13;
		read_ident(&p, out, n);
	}
}

/* Decide the fate of object i (the objects before it decided). */
static void classify(struct ctx *c, struct objects *os, int i)
{
	struct obj *o = &os->o[i];
	struct qualname rel, hit;
	const char *t = o->type;
	long k;
	o->post = post_kind(t);
	if (c->missing_roles.used) {
		char *kept = drop_missing_roles(c, o->sql);
		free(o->sql);
		o->sql = kept;
		if (!*o->sql && (!strcmp(t, "ACL") || !strcmp(t, "DEFAULT ACL"))) {
			skip(o, "its grants are to roles the target lacks");
			return;
		}
	}
	if (objects_describes(t)) {
		o->parent = parent_of(os, i);
		const struct obj *par = o->parent >= 0 ? &os->o[o->parent] : NULL;
		o->post = par && par->post;
		if (par && par->fate == OBJ_SKIP) {
			char *why = xasprintf("the %s it describes is skipped", par->type);
			skip(o, why);
			free(why);
			return;
		}
	}
	if (!strcmp(t, "EXTENSION")) {
		char schema[128];
		extension_schema(o->sql, schema, sizeof(schema));
		if (*schema && strcmp(schema, "pg_catalog") && ns_find(&c->schemas, "", schema) < 0)
			skip(o, "it lives in a schema the job does not select");
		else if (ns_find(&c->no_ext, "", o->name) >= 0)
			skip(o, "the target cannot install it (not in pg_available_extensions): install its package on the target");
		return;
	}
	if (!strcmp(t, "EVENT TRIGGER")) {
		skip(o, "event triggers belong to the whole database, not to the selected schemas");
		return;
	}
	/* the plan's own tables: ferry creates them where pg_dump would */
	if (!strcmp(t, "TABLE") || !strcmp(t, "FOREIGN TABLE")) {
		if ((k = ns_find(&c->ferry, o->schema, o->name)) >= 0) {
			o->fate = OBJ_FERRY;
			o->table = c->ferry.nums[k];
			char *rest = ns_find(&c->bad, o->schema, o->name) >= 0 ? xstrdup("") : after_first(o->sql);
			free(o->sql);
			o->sql = rest;
			return;
		}
		const struct nameset *left = &c->kept;
		if ((k = ns_find(left, o->schema, o->name)) < 0)
			k = ns_find(left = &c->unloadable, o->schema, o->name);
		if (k >= 0) {
			skip(o, left->texts[k]);
			return;
		}
		if (ns_find(&c->bad, o->schema, o->name) < 0) {
			skip(o, "the job's include and exclude do not select this table");
			char *why = xasprintf("it depends on %s.%s, which the job does not select", o->schema, o->name);
			ns_add(&c->bad, o->schema, o->name, why, 0);
			free(why);
			return;
		}
	}
	bool has_rel = stmt_relation(o->sql, &rel) && *rel.schema;
	bool on_ferry = has_rel && ns_find(&c->ferry, rel.schema, rel.name) >= 0;
	/* a kept table's own parts and its identity sequence are left as the target has them */
	if (has_rel && (k = ns_find(&c->kept, rel.schema, rel.name)) >= 0 && strcmp(t, "VIEW") &&
	    strcmp(t, "MATERIALIZED VIEW")) {
		skip(o, c->kept.texts[k]);
		return;
	}
	if (!strcmp(t, "SEQUENCE") && on_ferry) {
		/* an identity column's sequence: ferry's CREATE TABLE made it */
		o->fate = OBJ_FERRY;
		free(o->sql);
		o->sql = xstrdup("");
		return;
	}
	if (!strcmp(t, "SEQUENCE") && ns_find(&c->made_seqs, o->schema, o->name) >= 0)
		o->seq_made = true;
	static const char *const table_parts[] = {"DEFAULT", "SEQUENCE OWNED BY", "CONSTRAINT", "FK CONSTRAINT",
						  "CHECK CONSTRAINT", "INDEX", "TABLE ATTACH", NULL};
	for (int j = 0; table_parts[j]; j++) {
		if (strcmp(t, table_parts[j]))
			continue;
		if (on_ferry) {
			/* ferry's DDL and steps make it; a CLUSTER ON or REPLICA IDENTITY after it is still run */
			o->fate = OBJ_FERRY;
			char *rest = ns_find(&c->bad, rel.schema, rel.name) >= 0 ? xstrdup("") : after_first(o->sql);
			free(o->sql);
			o->sql = rest;
			return;
		}
	}
	if (!strcmp(t, "INDEX ATTACH") && stmt_relation(o->sql, &rel) &&
	    ns_find(&c->ferry_idx, rel.schema, rel.name) >= 0) {
		o->fate = OBJ_FERRY;
		free(o->sql);
		o->sql = xstrdup("");
		return;
	}
	if ((k = mentions(o->sql, &c->bad, &hit)) >= 0) {
		skip(o, c->bad.texts[k]);
		spread_skip(c, o);
		return;
	}
	if (strcmp(t, "VIEW") && strcmp(t, "MATERIALIZED VIEW") && !names_a_thing(t) &&
	    (k = mentions(o->sql, &c->kept, &hit)) >= 0) {
		skip(o, c->kept.texts[k]);
		return;
	}
}

/* ---- what the source and the target have ---- */

/* The user schemas of the source that hold none of the plan's tables, into a new NULL-ended array. */
static char **other_schemas(PGconn *src, const struct ctx *c, struct err *e)
{
	PGresult *res = db_exec(src, sql_objects_schemas, 0, NULL, e);
	if (!res)
		return NULL;
	char **out = xcalloc((size_t)PQntuples(res) + 1, sizeof(char *));
	int k = 0;
	for (int r = 0; r < PQntuples(res); r++)
		if (ns_find(&c->schemas, "", PQgetvalue(res, r, 0)) < 0)
			out[k++] = xstrdup(PQgetvalue(res, r, 0));
	PQclear(res);
	return out;
}

/* A pg_dump pattern that matches exactly the name s: "s" with its quotes doubled. */
static char *exact_pattern(const char *s)
{
	struct sb b;
	sb_init(&b);
	sb_addc(&b, '"');
	for (; *s; s++) {
		if (*s == '"')
			sb_addc(&b, '"');
		sb_addc(&b, *s);
	}
	sb_addc(&b, '"');
	return sb_detach(&b);
}

/*
 * Fill what the target lacks: roles among owners and grantees, extensions
 * it cannot install. Adds a warning to o for each.
 */
static void target_facts(PGconn *dst, struct ctx *c, struct objects *o, char **owners)
{
	struct sb roles, exts;
	sb_init(&roles);
	sb_init(&exts);
	struct nameset asked = {0};
	for (int i = 0; i < o->n; i++) {
		if (*owners[i] && strcmp(owners[i], "-") && ns_find(&asked, "", owners[i]) < 0) {
			ns_add(&asked, "", owners[i], NULL, 0);
			db_array_add(&roles, owners[i]);
		}
		if (!strcmp(o->o[i].type, "EXTENSION"))
			db_array_add(&exts, o->o[i].name);
		if (strcmp(o->o[i].type, "ACL") && strcmp(o->o[i].type, "DEFAULT ACL"))
			continue;
		for (const char *p = o->o[i].sql; (p = strstr(p, " TO ")); ) {
			p += 4;
			char role[128];
			while (read_ident(&p, role, sizeof(role))) {
				if (strcmp(role, "public") && ns_find(&asked, "", role) < 0) {
					ns_add(&asked, "", role, NULL, 0);
					db_array_add(&roles, role);
				}
				if (*p != ',')
					break;
				p++;
			}
		}
	}
	db_array_end(&roles);
	db_array_end(&exts);
	const char *pr[] = {roles.buf, exts.buf};
	struct err e;
	err_clear(&e);
	PGresult *res = db_exec(dst, sql_objects_target_lacks, 2, pr, &e);
	for (int r = 0; res && r < PQntuples(res); r++) {
		const char *kind = PQgetvalue(res, r, 0), *name = PQgetvalue(res, r, 1);
		if (!strcmp(kind, "role")) {
			ns_add(&c->missing_roles, "", name, NULL, 0);
			json_array_append_new(o->warnings, json_sprintf(
				"role \"%s\" does not exist on the target: the objects it owns are owned by the user ferry connects as, and grants to it are left out; create the role on the target to keep them",
				name));
		} else {
			ns_add(&c->no_ext, "", name, NULL, 0);
			json_array_append_new(o->warnings, json_sprintf(
				"extension \"%s\" is not available on the target: it and the objects that need it are not created; install its package on the target",
				name));
		}
	}
	if (!res)
		json_array_append_new(o->warnings, json_sprintf("could not check the target's roles and extensions: %s", e.msg));
	PQclear(res);
	ns_release(&asked);
	sb_release(&roles);
	sb_release(&exts);
}

/*
 * A standalone sequence (no table of the plan calls it) gets the source's
 * value after its statements.
 */
static void add_sequence_value(PGconn *src, struct obj *o)
{
	char *srel = db_qualified(src, o->schema, o->name);
	char *q = xasprintf("SELECT last_value, is_called FROM %s", srel);
	struct err e;
	err_clear(&e);
	PGresult *res = db_exec(src, q, 0, NULL, &e);
	if (res && PQntuples(res) == 1) {
		char *lit = PQescapeLiteral(src, srel, strlen(srel));
		char *sql = xasprintf("%s\nSELECT pg_catalog.setval(%s, %s, %s);", o->sql, lit, PQgetvalue(res, 0, 0),
				      PQgetvalue(res, 0, 1)[0] == 't' ? "true" : "false");
		PQfreemem(lit);
		free(o->sql);
		o->sql = sql;
	}
	PQclear(res);
	free(q);
	free(srel);
}

/* Whether the source's materialized view schema.name holds data (a REFRESH is due after the load). */
static bool matview_populated(PGconn *src, const char *schema, const char *name)
{
	const char *p[] = {schema, name};
	struct err e;
	err_clear(&e);
	PGresult *res = db_exec(src, sql_objects_matview_populated, 2, p, &e);
	bool yes = res && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return yes;
}

/* Append a REFRESH for every materialized view that will be created and holds data on the source. */
static void add_refreshes(PGconn *src, struct objects *o)
{
	int n = o->n;
	for (int i = 0; i < n; i++) {
		if (strcmp(o->o[i].type, "MATERIALIZED VIEW") || o->o[i].fate == OBJ_SKIP ||
		    !matview_populated(src, o->o[i].schema, o->o[i].name))
			continue;
		char *rel = db_qualified(src, o->o[i].schema, o->o[i].name);
		struct obj r = {.table = -1, .parent = i, .post = true};
		str_copy(r.type, sizeof(r.type), "MATERIALIZED VIEW DATA");
		str_copy(r.schema, sizeof(r.schema), o->o[i].schema);
		r.name = xstrdup(o->o[i].name);
		r.sql = xasprintf("REFRESH MATERIALIZED VIEW %s;", rel);
		free(rel);
		o->o = xrealloc(o->o, sizeof(*o->o) * (size_t)(o->n + 1));
		o->o[o->n++] = r;
	}
}

bool objects_read(const struct job *job, PGconn *src, PGconn *dst, const char *snapshot,
		  const struct plan *p, struct objects *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	out->warnings = json_array();
	struct ctx c = {0};
	char **owners = NULL, **others = NULL;
	char *text = NULL;
	bool ok = false;
	int nowners = 0;
	for (int i = 0; i < p->n; i++) {
		const char *s = p->t[i].st.src.schema;
		if (ns_find(&c.schemas, "", s) >= 0)
			continue;
		ns_add(&c.schemas, "", s, NULL, 0);
		out->schemas = xrealloc(out->schemas, sizeof(char *) * (size_t)(out->nschemas + 1));
		out->schemas[out->nschemas++] = xstrdup(s);
	}
	if (!(others = other_schemas(src, &c, e)))
		goto done;
	/* every schema but the selected ones is left out, so that extensions and publications still come */
	size_t nargs = 9;
	for (char **s = others; *s; s++)
		nargs++;
	char **args = xcalloc(nargs, sizeof(char *));
	int a = 1;
	args[a++] = xstrdup("--schema-only");
	args[a++] = xstrdup("--no-password"); /* never a prompt on ferryd's terminal */
	args[a++] = xstrdup("--no-tablespaces");
	args[a++] = xstrdup("--no-subscriptions");
	if (snapshot)
		args[a++] = xasprintf("--snapshot=%s", snapshot);
	for (char **s = others; *s; s++) {
		char *pat = exact_pattern(*s);
		args[a++] = xasprintf("--exclude-schema=%s", pat);
		free(pat);
	}
	text = pg_dump(job, args, e);
	for (int i = 1; i < a; i++)
		free(args[i]);
	free(args);
	if (!text)
		goto done;
	split_script(text, out, &owners);
	nowners = out->n;
	ctx_plan(&c, job, p);
	if (dst)
		target_facts(dst, &c, out, owners);
	for (int i = 0; i < out->n; i++) {
		classify(&c, out, i);
		struct obj *o = &out->o[i];
		if (!strcmp(o->type, "SEQUENCE") && o->fate == OBJ_CREATE && !o->seq_made)
			add_sequence_value(src, o);
	}
	add_refreshes(src, out);
	ok = true;
done:
	for (int i = 0; i < nowners; i++)
		free(owners[i]);
	free(owners);
	strv_free(others);
	free(text);
	ctx_release(&c);
	if (!ok)
		objects_release(out);
	return ok;
}

/* Run sql on dst; "" on success, else the server's message in msg (and its SQLSTATE in state). */
static bool run_sql(PGconn *dst, const char *sql, char *msg, size_t n, char state[6])
{
	PGresult *res = PQexec(dst, sql);
	ExecStatusType st = PQresultStatus(res);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
	state[0] = '\0';
	if (!ok) {
		const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		str_copy(msg, n, m ? m : PQerrorMessage(dst));
		str_copy(state, 6, db_sqlstate(res));
		/* a failed statement inside an explicit block leaves it open */
		if (PQtransactionStatus(dst) == PQTRANS_INERROR)
			PQclear(PQexec(dst, "ROLLBACK"));
	}
	PQclear(res);
	return ok;
}

/* Whether sequence schema.name exists on dst. */
static bool sequence_exists(PGconn *dst, const struct obj *o)
{
	const char *p[] = {o->schema, o->name};
	struct err e;
	err_clear(&e);
	PGresult *res = db_exec(dst, sql_objects_sequence_exists, 2, p, &e);
	bool yes = res && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return yes;
}

/* Objects found on the target already that get an event each; the rest are counted. */
#define KEPT_NAMED 50

void objects_create_before(PGconn *dst, struct objects *o, objects_table_fn table,
			   objects_note_fn note, void *arg)
{
	char msg[900], state[6];
	run_sql(dst, o->preamble, msg, sizeof(msg), state);
	struct nameset failed = {0};
	int made = 0, kept = 0;
	int64_t t0 = now_ms();
	for (int i = 0; i < o->n; i++) {
		struct obj *ob = &o->o[i];
		if (ob->post)
			continue;
		if (ob->fate == OBJ_SKIP) {
			continue;
		}
		/* an object whose parent or dependency failed here */
		struct qualname hit;
		long k = objects_describes(ob->type) && ob->parent >= 0 && o->o[ob->parent].fate == OBJ_SKIP ? -2
			 : mentions(ob->sql, &failed, &hit);
		if (k != -1 && ob->fate != OBJ_FERRY) {
			char *why = k >= 0 ? xstrdup(failed.texts[k])
					   : xasprintf("the %s it describes could not be created", o->o[ob->parent].type);
			skip(ob, why);
			free(why);
			continue;
		}
		if (ob->fate == OBJ_FERRY && ob->table >= 0 && !table(arg, ob->table)) {
			char *why = xasprintf("it depends on %s.%s, which could not be created", ob->schema, ob->name);
			ns_add(&failed, ob->schema, ob->name, why, 0);
			free(why);
			continue;
		}
		const char *sql = ob->sql;
		char *rest = NULL;
		if (ob->seq_made && sequence_exists(dst, ob))
			sql = rest = after_first(ob->sql);
		if (!*sql) {
			free(rest);
			continue;
		}
		char *label = objects_label(o, i);
		if (run_sql(dst, sql, msg, sizeof(msg), state)) {
			made += ob->fate == OBJ_CREATE;
		} else if (pg_exists_error(state)) {
			/* named one by one up to a point: a job run every night finds them all there */
			if (++kept <= KEPT_NAMED) {
				char *m = xasprintf("%s is already on the target and is kept as it is", label);
				note(arg, "info", ob->type, m);
				free(m);
			}
		} else {
			char *m = xasprintf("could not create %s: %s", label, msg);
			note(arg, "error", ob->type, m);
			free(m);
			skip(ob, msg);
			ob->failed = true;
			if (names_a_thing(ob->type) && *ob->schema) {
				char name[300];
				str_copy(name, sizeof(name), ob->name);
				name[strcspn(name, "(")] = '\0';
				char *why = xasprintf("it depends on %s.%s, which could not be created", ob->schema, name);
				ns_add(&failed, ob->schema, name, why, 0);
				free(why);
			}
		}
		free(label);
		free(rest);
	}
	ns_release(&failed);
	PQclear(PQexec(dst, "RESET ALL"));
	char *m = xasprintf("created %d objects from the source's schema before the data in %lld ms; %d were on the target already and are kept",
			    made, (long long)(now_ms() - t0), kept);
	note(arg, "info", "objects", m);
	free(m);
}

