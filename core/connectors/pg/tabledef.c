/* core/connectors/pg/tabledef.c: a source table as the target will hold it: columns after the job's transformations, its DDL, its post-load steps */
#include "tabledef.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "sql.h"
#include "util.h"
#include "banned.h"

static char *opt_strdup(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

/*
 * A catalog result for many tables at once: its first column is the
 * position (from 1) of the table a row belongs to, and rows come in that
 * order.
 */
struct batch {
	PGresult *res; /* owned */
	int next;      /* the first row not yet taken */
};

/* Take the rows of the table at position pos: the first one's index, their count in *n. */
static int batch_take(struct batch *b, int pos, int *n)
{
	int rows = PQntuples(b->res);
	while (b->next < rows && atoi(PQgetvalue(b->res, b->next, 0)) < pos)
		b->next++;
	int first = b->next;
	while (b->next < rows && atoi(PQgetvalue(b->res, b->next, 0)) == pos)
		b->next++;
	*n = b->next - first;
	return first;
}

/*
 * Ask the source for the type of an expression on the table's rows. The
 * expression is user SQL: it is described under the session's own
 * search_path, inside a savepoint so that a bad one leaves the
 * surrounding (snapshot) transaction usable.
 */
static bool expr_type(PGconn *src, const char *rel, const char *expr, char *type, size_t n,
		      struct err *e)
{
	if (!db_simple(src, "SAVEPOINT ferry_expr; SET LOCAL search_path TO DEFAULT", e))
		return false;
	char *sql = xasprintf("SELECT (%s) FROM %s", expr, rel);
	PGresult *res = PQprepare(src, "", sql, 0, NULL);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	free(sql);
	if (!ok) {
		const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		err_set(e, 400, "invalid_field", NULL, "%s", m ? m : PQerrorMessage(src));
		PQclear(res);
		db_simple(src, "ROLLBACK TO SAVEPOINT ferry_expr; RELEASE SAVEPOINT ferry_expr", NULL);
		return false;
	}
	PQclear(res);
	res = PQdescribePrepared(src, "");
	char oid[24], mod[24];
	snprintf(oid, sizeof(oid), "%u", PQftype(res, 0));
	snprintf(mod, sizeof(mod), "%d", PQfmod(res, 0));
	PQclear(res);
	if (!db_simple(src, "RELEASE SAVEPOINT ferry_expr; SET LOCAL search_path = pg_catalog", e))
		return false;
	const char *p[] = {oid, mod};
	res = db_exec(src, sql_tdef_expr_type, 2, p, e);
	if (!res)
		return false;
	str_copy(type, n, PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

/* A bad option, phrased for the plan and the run: table, column, what is wrong. */
static bool option_error(const struct tdef *t, struct err *e, const char *option,
			 const char *column, const char *what)
{
	char label[300], field[600];
	qualname_format(&t->src, label, sizeof(label));
	snprintf(field, sizeof(field), "tables.%s.%s.%s", label, option, column);
	return err_set(e, 400, "invalid_field", field, "table %s, %s \"%s\": %s", label, option,
		       column, what);
}

/* Check that every column named in an option map exists on the source. */
static bool names_exist(const struct tdef *t, json_t *map, const char *option, bool keys,
			struct err *e)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_object(map)) {
		json_object_foreach(map, k, v) {
			const char *name = keys ? k : json_string_value(v);
			int j = 0;
			while (j < t->ncols && strcmp(t->cols[j].source, name))
				j++;
			if (j == t->ncols)
				return option_error(t, e, option, name, "no such column on the source");
		}
	}
	json_array_foreach(map, i, v) {
		int j = 0;
		while (j < t->ncols && strcmp(t->cols[j].source, json_string_value(v)))
			j++;
		if (j == t->ncols)
			return option_error(t, e, option, json_string_value(v),
					    "no such column on the source");
	}
	return true;
}

/* The sequences the default of column c calls besides its own: column 10 of a tdef_columns row. */
static void read_uses(struct tdef_column *c, PGresult *res, int row)
{
	json_t *names = PQgetisnull(res, row, 10) ? NULL : json_loads(PQgetvalue(res, row, 10), 0, NULL);
	size_t i;
	json_t *v;
	json_array_foreach(names, i, v) {
		const char *name = json_string_value(v);
		if (!name || (c->sequence && !strcmp(name, c->sequence)))
			continue;
		c->uses = xrealloc(c->uses, sizeof(*c->uses) * (size_t)(c->nuses + 1));
		c->uses[c->nuses++] = (struct tdef_seq){.name = xstrdup(name)};
	}
	json_decref(names);
}

/* The columns of t: rows first..first+n-1 of a tdef_columns result. */
static void read_columns(PGconn *src, struct tdef *t, PGresult *res, int first, int n)
{
	for (int i = first; i < first + n; i++) {
		struct tdef_column *c = tdef_add_column(t);
		str_copy(c->source, sizeof(c->source), PQgetvalue(res, i, 1));
		str_copy(c->target, sizeof(c->target), PQgetvalue(res, i, 1));
		str_copy(c->type, sizeof(c->type), PQgetvalue(res, i, 2));
		c->type_oid = atoll(PQgetvalue(res, i, 3));
		c->notnull = PQgetvalue(res, i, 4)[0] == 't';
		c->identity = PQgetvalue(res, i, 5)[0];
		bool gen = PQgetvalue(res, i, 6)[0] == 's';
		char *def = opt_strdup(res, i, 7);
		if (gen)
			c->generated = def;
		else if (!c->identity)
			c->default_expr = def;
		else
			free(def);
		if (!PQgetisnull(res, i, 8))
			str_copy(c->collation, sizeof(c->collation), PQgetvalue(res, i, 8));
		c->sequence = opt_strdup(res, i, 9);
		c->select = db_ident(src, c->source);
		read_uses(c, res, i);
	}
}

/* Where read_sequences puts the answer for one sequence. */
struct seq_slot {
	struct tdef_column *col;
	struct tdef_seq *use; /* NULL: the column's own sequence */
};

/*
 * The sequences behind the serial columns (a CREATE SEQUENCE), the identity
 * columns (their options, for GENERATED ... AS IDENTITY (...)) and the
 * other sequences the defaults call (a CREATE SEQUENCE) of every item, in
 * one query.
 */
static bool read_sequences(PGconn *src, struct tdef_item *items, int n, struct err *e)
{
	struct seq_slot *slots = NULL;
	int k = 0;
	struct sb names;
	sb_init(&names);
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < items[i].def.ncols; j++) {
			struct tdef_column *c = &items[i].def.cols[j];
			for (int u = -1; u < c->nuses; u++) {
				if (u < 0 && !c->sequence)
					continue;
				slots = xrealloc(slots, sizeof(*slots) * (size_t)(k + 1));
				slots[k++] = (struct seq_slot){c, u < 0 ? NULL : &c->uses[u]};
				db_array_add(&names, u < 0 ? c->sequence : c->uses[u].name);
			}
		}
	}
	PGresult *res = NULL;
	if (k) {
		db_array_end(&names);
		const char *p[] = {names.buf};
		res = db_exec(src, sql_tdef_sequences, 1, p, e);
	}
	for (int r = 0; res && r < PQntuples(res); r++) {
		struct seq_slot *s = &slots[atoi(PQgetvalue(res, r, 0)) - 1];
		if (s->use) {
			s->use->ddl = xstrdup(PQgetvalue(res, r, 1));
			str_copy(s->use->schema, sizeof(s->use->schema), PQgetvalue(res, r, 3));
		} else {
			s->col->sequence_ddl = xstrdup(PQgetvalue(res, r, s->col->identity ? 2 : 1));
		}
	}
	bool ok = !k || res;
	PQclear(res);
	sb_release(&names);
	free(slots);
	return ok;
}

/* Apply drop_columns, columns (renames) and casts. */
static bool apply_renames(PGconn *src, struct tdef *t, const struct job_table *opts, struct err *e)
{
	json_t *drops = opts ? opts->drop_columns : NULL;
	json_t *renames = opts ? opts->columns : NULL;
	json_t *casts = opts ? opts->casts : NULL;
	if (!names_exist(t, drops, "drop_columns", false, e) ||
	    !names_exist(t, renames, "columns", true, e))
		return false;
	int kept = 0;
	for (int i = 0; i < t->ncols; i++) {
		struct tdef_column *c = &t->cols[i];
		bool dropped = false;
		size_t j;
		json_t *v;
		json_array_foreach(drops, j, v) {
			if (!strcmp(json_string_value(v), c->source))
				dropped = true;
		}
		if (dropped) {
			tdef_column_release(c);
			continue;
		}
		const char *to = json_string_value(json_object_get(renames, c->source));
		if (to)
			str_copy(c->target, sizeof(c->target), to);
		t->cols[kept++] = *c;
	}
	t->ncols = kept;
	const char *k;
	json_t *v;
	json_object_foreach(casts, k, v) {
		int j = 0;
		while (j < t->ncols && strcmp(t->cols[j].target, k))
			j++;
		if (j == t->ncols)
			return option_error(t, e, "casts", k, "no such column on the target table");
		struct tdef_column *c = &t->cols[j];
		char *cast = xasprintf("(%s)::%s", c->select, json_string_value(v));
		free(c->select);
		c->select = cast;
		if (c->generated)
			return option_error(t, e, "casts", k, "a generated column cannot be cast");
		char *rel = db_qualified(src, t->src.schema, t->src.name);
		bool ok = expr_type(src, rel, cast, c->type, sizeof(c->type), e);
		free(rel);
		if (!ok) {
			char why[1024];
			str_copy(why, sizeof(why), e->msg);
			return option_error(t, e, "casts", k, why);
		}
		c->type_oid = 0;
		free(c->default_expr);
		c->default_expr = NULL;
	}
	return true;
}

/* Apply expressions: replace a column's value or add a computed column. */
static bool apply_expressions(PGconn *src, struct tdef *t, const struct job_table *opts, struct err *e)
{
	json_t *exprs = opts ? opts->expressions : NULL;
	const char *k;
	json_t *v;
	char *rel = db_qualified(src, t->src.schema, t->src.name);
	bool ok = true;
	json_object_foreach(exprs, k, v) {
		char type[256];
		if (!expr_type(src, rel, json_string_value(v), type, sizeof(type), e)) {
			char why[1024];
			str_copy(why, sizeof(why), e->msg);
			ok = option_error(t, e, "expressions", k, why);
			break;
		}
		int j = 0;
		while (j < t->ncols && strcmp(t->cols[j].target, k))
			j++;
		struct tdef_column *c;
		if (j < t->ncols) {
			c = &t->cols[j];
			if (c->generated) {
				ok = option_error(t, e, "expressions", k, "a generated column is computed by the target");
				break;
			}
			free(c->select);
			free(c->default_expr);
			c->default_expr = NULL;
		} else {
			c = tdef_add_column(t);
			str_copy(c->target, sizeof(c->target), k);
		}
		c->select = xasprintf("(%s)", json_string_value(v));
		str_copy(c->type, sizeof(c->type), type);
		c->type_oid = 0;
		c->identity = 0;
		c->notnull = false;
	}
	free(rel);
	return ok;
}

/* True when the comma/\x1f-separated list of source columns names one renamed or dropped. */
static const char *touched_column(const struct tdef *t, const char *cols, bool *renamed)
{
	static __thread char name[128];
	const char *p = cols;
	*renamed = false;
	while (p && *p) {
		size_t n = strcspn(p, "\x1f");
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, p, n);
		name[n] = '\0';
		int j = 0;
		while (j < t->ncols && strcmp(t->cols[j].source, name))
			j++;
		if (j == t->ncols)
			return name; /* dropped, or replaced by an expression */
		if (strcmp(t->cols[j].target, name) || strncmp(t->cols[j].select, "\"", 1)) {
			*renamed = true;
			return name;
		}
		p += n;
		if (*p)
			p++;
	}
	return NULL;
}

/* Replace the first occurrence of from in text by to (new string). */
static char *replace_once(const char *text, const char *from, const char *to)
{
	const char *hit = strstr(text, from);
	if (!hit)
		return xstrdup(text);
	return xasprintf("%.*s%s%s", (int)(hit - text), text, to, hit + strlen(from));
}

static const char *constraint_kind(char c)
{
	switch (c) {
	case 'p': return "primary_key";
	case 'u': return "unique";
	case 'c': return "check";
	case 'x': return "exclusion";
	default: return "foreign_key";
	}
}

static void key_columns_sql(PGconn *c, const struct tdef *t, const char *cols, struct sb *out)
{
	const char *p = cols;
	int n = 0;
	while (p && *p) {
		size_t len = strcspn(p, "\x1f");
		char name[128];
		str_copy(name, len + 1 < sizeof(name) ? len + 1 : sizeof(name), p);
		for (int j = 0; j < t->ncols; j++)
			if (!strcmp(t->cols[j].source, name)) {
				char *q = db_ident(c, t->cols[j].target);
				sb_addf(out, "%s%s", n++ ? ", " : "", q);
				free(q);
			}
		p += len;
		if (*p)
			p++;
	}
}

/*
 * A primary key or unique constraint (row i of a tdef_constraints result,
 * its name quoted) as two statements: its unique index built and committed,
 * then the constraint made of it. The build takes a SHARE lock on the
 * table, which the table's other index builds share, where ADD CONSTRAINT
 * ... PRIMARY KEY (...) holds ACCESS EXCLUSIVE for the whole build and makes
 * them wait for it. A retry after the index committed finds it there (IF
 * NOT EXISTS) and only adds the constraint. NULL when the constraint is
 * added in one statement: a deferrable one, one with an index tablespace,
 * on a partition or partitioned table, or an index definition that does
 * not read as expected.
 */
static char *unique_by_index(const struct tdef *t, const char *dst_rel, const char *printed,
			     const char *name, PGresult *res, int i)
{
	const char *def = PQgetvalue(res, i, 8);
	if (t->relkind != 'r' || t->partbound || PQgetisnull(res, i, 8) ||
	    strncmp(def, "CREATE UNIQUE INDEX ", 20) || strstr(PQgetvalue(res, i, 3), " TABLESPACE "))
		return NULL;
	char *on = xasprintf(" ON %s USING ", printed);
	const char *rest = strstr(def, on);
	char *sql = NULL;
	if (rest)
		sql = xasprintf("BEGIN; CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s USING %s; COMMIT; "
				"ALTER TABLE %s ADD CONSTRAINT %s %s USING INDEX %s",
				name, dst_rel, rest + strlen(on), dst_rel, name,
				PQgetvalue(res, i, 2)[0] == 'p' ? "PRIMARY KEY" : "UNIQUE", name);
	free(on);
	return sql;
}

/* The constraints of t as steps: rows first..first+n-1 of a tdef_constraints result. */
static void read_constraints(PGconn *src, struct tdef *t, const char *dst_rel, const char *printed,
			     PGresult *res, int first, int n)
{
	for (int i = first; i < first + n; i++) {
		char type = PQgetvalue(res, i, 2)[0];
		struct tdef_step *s = tdef_add_step(t, constraint_kind(type), PQgetvalue(res, i, 1));
		if (type == 'f') {
			str_copy(s->ref.schema, sizeof(s->ref.schema), PQgetvalue(res, i, 5));
			str_copy(s->ref.name, sizeof(s->ref.name), PQgetvalue(res, i, 6));
		}
		bool renamed;
		const char *col = touched_column(t, PQgetvalue(res, i, 4), &renamed);
		char *name = db_ident(src, s->name);
		if (col && (!renamed || (type != 'p' && type != 'u'))) {
			s->skip = xasprintf("it refers to column \"%s\", which the job %s", col,
					    renamed ? "renames or casts" : "drops or replaces");
		} else if (col) {
			struct sb sql;
			sb_init(&sql);
			sb_addf(&sql, "ALTER TABLE %s ADD CONSTRAINT %s %s (", dst_rel, name,
				type == 'p' ? "PRIMARY KEY" : "UNIQUE");
			key_columns_sql(src, t, PQgetvalue(res, i, 4), &sql);
			sb_addc(&sql, ')');
			s->sql = sb_detach(&sql);
		} else if (!(s->sql = unique_by_index(t, dst_rel, printed, name, res, i))) {
			s->sql = xasprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", dst_rel, name,
					   PQgetvalue(res, i, 3));
		}
		free(name);
		if (type == 'f')
			str_copy(s->ref_printed, sizeof(s->ref_printed), PQgetvalue(res, i, 7));
	}
}

/*
 * The indexes of t as steps: rows first..first+n-1 of a tdef_indexes
 * result; printed is the table's name as their definitions print it.
 */
static void read_indexes(struct tdef *t, const char *dst_rel, const char *printed,
			 PGresult *res, int first, int n)
{
	char *on_only = xasprintf(" ON ONLY %s ", printed);
	char *on = xasprintf(" ON %s ", printed);
	char *to = xasprintf(" ON %s ", dst_rel);
	for (int i = first; i < first + n; i++) {
		struct tdef_step *s = tdef_add_step(t, "index", PQgetvalue(res, i, 1));
		bool renamed;
		const char *col = touched_column(t, PQgetvalue(res, i, 3), &renamed);
		if (col) {
			s->skip = xasprintf("it refers to column \"%s\", which the job %s", col,
					    renamed ? "renames or casts" : "drops or replaces");
			continue;
		}
		const char *def = PQgetvalue(res, i, 2);
		s->sql = strstr(def, on_only) ? replace_once(def, on_only, to) : replace_once(def, on, to);
	}
	free(on_only);
	free(on);
	free(to);
}

/* The kind, partition key and bound of t: row r of a tdef_relations result. */
static void read_relation(struct tdef *t, PGresult *res, int r)
{
	t->relkind = PQgetvalue(res, r, 2)[0];
	t->partkey = opt_strdup(res, r, 3);
	t->partbound = opt_strdup(res, r, 4);
	t->reloptions = opt_strdup(res, r, 6);
}

/* Start item i's description: its names and its filter. */
static void item_start(struct tdef_item *it)
{
	it->ok = false;
	err_clear(&it->err);
	memset(&it->def, 0, sizeof(it->def));
	it->def.src = it->src;
	it->def.dst = it->dst;
	const char *filter = it->opts ? it->opts->where : NULL;
	it->def.filter = filter ? xstrdup(filter) : NULL;
}

/*
 * Finish the description of a table the catalog holds: apply its options
 * and add its constraints and indexes (their rows in cons and idx).
 * False with it->err filled on a bad option.
 */
static bool item_finish(PGconn *src, struct tdef_item *it, const char *printed,
			struct batch *cons, struct batch *idx, int pos)
{
	struct tdef *t = &it->def;
	if (!apply_renames(src, t, it->opts, &it->err) ||
	    !apply_expressions(src, t, it->opts, &it->err))
		return false;
	char *dst_rel = db_qualified(src, t->dst.schema, t->dst.name);
	int n;
	int first = batch_take(cons, pos, &n);
	read_constraints(src, t, dst_rel, printed, cons->res, first, n);
	first = batch_take(idx, pos, &n);
	read_indexes(t, dst_rel, printed, idx->res, first, n);
	free(dst_rel);
	return true;
}

/* The tables' oids as an oid[] literal, 0 for those the catalog does not hold (row[i] < 0). */
static char *oid_array(PGresult *rel, const int *row, int n)
{
	struct sb oids;
	sb_init(&oids);
	for (int i = 0; i < n; i++)
		db_array_add(&oids, row[i] >= 0 ? PQgetvalue(rel, row[i], 1) : "0");
	db_array_end(&oids);
	return sb_detach(&oids);
}

bool tdef_load_all(PGconn *src, struct tdef_item *items, int n, struct err *e)
{
	struct batch rel = {0}, cols = {0}, cons = {0}, idx = {0};
	int *row = xcalloc((size_t)n + 1, sizeof(*row));
	char *oids = NULL;
	bool ok = false;
	struct sb schemas, names;
	sb_init(&schemas);
	sb_init(&names);
	for (int i = 0; i < n; i++) {
		item_start(&items[i]);
		db_array_add(&schemas, items[i].src.schema);
		db_array_add(&names, items[i].src.name);
	}
	db_array_end(&schemas);
	db_array_end(&names);
	const char *rp[] = {schemas.buf, names.buf};
	if (!(rel.res = db_exec(src, sql_tdef_relations, 2, rp, e)))
		goto out;
	for (int i = 0; i < n; i++) {
		int k;
		row[i] = batch_take(&rel, i + 1, &k);
		if (!k)
			row[i] = -1;
	}
	oids = oid_array(rel.res, row, n);
	const char *op[] = {oids};
	if (!(cols.res = db_exec(src, sql_tdef_columns, 1, op, e)) ||
	    !(cons.res = db_exec(src, sql_tdef_constraints, 1, op, e)) ||
	    !(idx.res = db_exec(src, sql_tdef_indexes, 1, op, e)))
		goto out;
	for (int i = 0; i < n; i++) {
		int k, first = batch_take(&cols, i + 1, &k);
		if (row[i] >= 0)
			read_relation(&items[i].def, rel.res, row[i]);
		read_columns(src, &items[i].def, cols.res, first, k);
	}
	if (!read_sequences(src, items, n, e))
		goto out;
	for (int i = 0; i < n; i++) {
		struct tdef_item *it = &items[i];
		if (row[i] < 0) {
			char label[300];
			qualname_format(&it->src, label, sizeof(label));
			err_set(&it->err, 404, "not_found", NULL, "source table %s does not exist", label);
		} else {
			it->ok = item_finish(src, it, PQgetvalue(rel.res, row[i], 5), &cons, &idx, i + 1);
		}
		if (!it->ok)
			tdef_release(&it->def);
		/* a failure that aborted the transaction spoils the tables after it: give up on the batch */
		if (PQtransactionStatus(src) == PQTRANS_INERROR) {
			*e = it->err;
			if (!err_is_set(e))
				err_set(e, 500, "internal", NULL, "the source transaction failed");
			goto out;
		}
	}
	ok = true;
out:
	for (int i = 0; !ok && i < n; i++) {
		tdef_release(&items[i].def);
		items[i].ok = false;
	}
	PQclear(rel.res);
	PQclear(cols.res);
	PQclear(cons.res);
	PQclear(idx.res);
	sb_release(&schemas);
	sb_release(&names);
	free(oids);
	free(row);
	return ok;
}

bool tdef_load(PGconn *src, const struct qualname *srcname, const struct qualname *dst,
	       const struct job_table *opts, struct tdef *t, struct err *e)
{
	struct tdef_item it;
	memset(&it, 0, sizeof(it));
	it.src = *srcname;
	it.dst = *dst;
	it.opts = opts;
	bool ok = tdef_load_all(src, &it, 1, e);
	if (ok && !it.ok)
		*e = it.err;
	*t = it.def;
	return ok && it.ok;
}

/* COMMENT ON the table and its columns, for sources whose comments come with the table. */
static void comments_sql(PGconn *c, const struct tdef *t, struct sb *out)
{
	char *rel = NULL;
	for (int i = -1; i < t->ncols; i++) {
		const char *text = i < 0 ? t->comment : t->cols[i].comment;
		if (!text || !*text)
			continue;
		if (!rel)
			rel = db_qualified(c, t->dst.schema, t->dst.name);
		char *lit = PQescapeLiteral(c, text, strlen(text));
		char *col = i < 0 ? NULL : db_ident(c, t->cols[i].target);
		if (lit)
			sb_addf(out, "; COMMENT ON %s %s%s%s IS %s", col ? "COLUMN" : "TABLE", rel,
				col ? "." : "", col ? col : "", lit);
		PQfreemem(lit);
		free(col);
	}
	free(rel);
}

void tdef_create_sql(PGconn *c, const struct tdef *t, struct sb *out)
{
	char *rel = db_qualified(c, t->dst.schema, t->dst.name);
	if (t->partbound && *t->parent.name) {
		char *parent = db_qualified(c, t->parent.schema, t->parent.name);
		sb_addf(out, "CREATE TABLE %s PARTITION OF %s %s", rel, parent, t->partbound);
		free(parent);
		free(rel);
		if (t->partkey)
			sb_addf(out, " PARTITION BY %s", t->partkey);
		if (t->reloptions)
			sb_addf(out, " WITH (%s)", t->reloptions);
		return;
	}
	sb_addf(out, "CREATE TABLE %s (", rel);
	free(rel);
	for (int i = 0; i < t->ncols; i++) {
		const struct tdef_column *col = &t->cols[i];
		char *name = db_ident(c, col->target);
		sb_addf(out, "%s%s %s", i ? ", " : "", name, col->type);
		free(name);
		if (*col->collation)
			sb_addf(out, " COLLATE %s", col->collation);
		if (col->identity)
			sb_addf(out, " GENERATED %s AS IDENTITY%s%s%s", col->identity == 'a' ? "ALWAYS" : "BY DEFAULT",
				col->sequence_ddl ? " (" : "", col->sequence_ddl ? col->sequence_ddl : "",
				col->sequence_ddl ? ")" : "");
		if (col->generated)
			sb_addf(out, " GENERATED ALWAYS AS (%s) STORED", col->generated);
		else if (col->default_expr)
			sb_addf(out, " DEFAULT %s", col->default_expr);
		if (col->notnull)
			sb_adds(out, " NOT NULL");
	}
	sb_addc(out, ')');
	if (t->partkey)
		sb_addf(out, " PARTITION BY %s", t->partkey);
	if (t->reloptions)
		sb_addf(out, " WITH (%s)", t->reloptions);
	comments_sql(c, t, out);
}

void tdef_select_sql(PGconn *c, const struct tdef *t, struct sb *out)
{
	char *rel = db_qualified(c, t->src.schema, t->src.name);
	sb_adds(out, "SELECT ");
	int n = 0;
	for (int i = 0; i < t->ncols; i++)
		if (!t->cols[i].generated)
			sb_addf(out, "%s%s", n++ ? ", " : "", t->cols[i].select);
	if (t->extra_select)
		sb_addf(out, ", %s", t->extra_select);
	sb_addf(out, " FROM %s", rel);
	if (t->filter)
		sb_addf(out, " WHERE (%s)", t->filter);
	free(rel);
}

bool tdef_copy_target(PGconn *c, const struct tdef *t, struct sb *out)
{
	if (t->filter || t->extra_select)
		return false;
	struct sb cols;
	sb_init(&cols);
	bool plain = true;
	int n = 0;
	for (int i = 0; i < t->ncols && plain; i++) {
		if (t->cols[i].generated)
			continue;
		char *q = db_ident(c, t->cols[i].source);
		/* a cast or an expression changes what the column holds */
		plain = *t->cols[i].source && !strcmp(q, t->cols[i].select);
		sb_addf(&cols, "%s%s", n++ ? ", " : "", q);
		free(q);
	}
	if (plain && n) {
		char *rel = db_qualified(c, t->src.schema, t->src.name);
		sb_addf(out, "%s (%s)", rel, cols.buf);
		free(rel);
	}
	sb_release(&cols);
	return plain && n;
}

void tdef_column_list(PGconn *c, const struct tdef *t, struct sb *out)
{
	int n = 0;
	for (int i = 0; i < t->ncols; i++) {
		if (t->cols[i].generated)
			continue;
		char *q = db_ident(c, t->cols[i].target);
		sb_addf(out, "%s%s", n++ ? ", " : "", q);
		free(q);
	}
}

json_t *tdef_types(PGconn *src, const struct tdef *tables, int n, struct err *e)
{
	struct sb oids;
	sb_init(&oids);
	sb_addc(&oids, '{');
	int k = 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < tables[i].ncols; j++)
			if (tables[i].cols[j].type_oid)
				sb_addf(&oids, "%s%lld", k++ ? "," : "", tables[i].cols[j].type_oid);
	sb_addc(&oids, '}');
	const char *p[] = {oids.buf};
	PGresult *res = db_exec(src, sql_tdef_types, 1, p, e);
	sb_release(&oids);
	if (!res)
		return NULL;
	json_t *out = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		char *name = db_qualified(src, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s?,s:s?}", "name", name,
			"schema", PQgetvalue(res, i, 0), "type", PQgetvalue(res, i, 1),
			"extension", PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
			"ddl", PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5)));
		free(name);
	}
	PQclear(res);
	return out;
}
