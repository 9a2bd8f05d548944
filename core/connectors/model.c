/* core/connectors/model.c: ferry's table model (see model.h): releasing it, growing it, naming its parts */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"
#include "util.h"
#include "banned.h"

void tdef_column_release(struct tdef_column *c)
{
	free(c->select);
	free(c->default_expr);
	free(c->generated);
	free(c->sequence);
	free(c->sequence_ddl);
	free(c->comment);
	for (int i = 0; i < c->nuses; i++) {
		free(c->uses[i].name);
		free(c->uses[i].ddl);
	}
	free(c->uses);
}

void tdef_release(struct tdef *t)
{
	for (int i = 0; i < t->ncols; i++)
		tdef_column_release(&t->cols[i]);
	for (int i = 0; i < t->nsteps; i++) {
		free(t->steps[i].sql);
		free(t->steps[i].skip);
	}
	free(t->cols);
	free(t->steps);
	free(t->partkey);
	free(t->partbound);
	free(t->reloptions);
	free(t->filter);
	free(t->extra_select);
	free(t->comment);
	memset(t, 0, sizeof(*t));
}

struct tdef_column *tdef_add_column(struct tdef *t)
{
	t->cols = xrealloc(t->cols, sizeof(*t->cols) * (size_t)(t->ncols + 1));
	struct tdef_column *c = &t->cols[t->ncols++];
	memset(c, 0, sizeof(*c));
	return c;
}

struct tdef_step *tdef_add_step(struct tdef *t, const char *kind, const char *name)
{
	t->steps = xrealloc(t->steps, sizeof(*t->steps) * (size_t)(t->nsteps + 1));
	struct tdef_step *s = &t->steps[t->nsteps++];
	memset(s, 0, sizeof(*s));
	str_copy(s->kind, sizeof(s->kind), kind);
	str_copy(s->name, sizeof(s->name), name);
	return s;
}

/* Fill the target name of t from the job's per-table options and schema map. */
void src_table_target(const struct job *job, struct src_table *t)
{
	const struct job_table *opts = job_table_options(job, t->src.schema, t->src.name);
	const char *target = opts ? opts->target : NULL;
	const char *filter = opts ? opts->where : NULL;
	t->dst = t->src;
	str_copy(t->dst.schema, sizeof(t->dst.schema), job_schema_target(job, t->src.schema));
	if (target) {
		struct qualname q;
		if (qualname_parse(target, true, &q, "", NULL)) {
			t->dst = q;
			if (!*q.schema)
				str_copy(t->dst.schema, sizeof(t->dst.schema),
					 job_schema_target(job, t->src.schema));
		}
	}
	t->filter = filter ? xstrdup(filter) : NULL;
	qualname_format(&t->src, t->src_label, sizeof(t->src_label));
	qualname_format(&t->dst, t->dst_label, sizeof(t->dst_label));
}

void src_tables_free(struct src_table *t, int n)
{
	if (!t)
		return;
	for (int i = 0; i < n; i++)
		free(t[i].filter);
	free(t);
}

bool src_tables_found(json_t *requested, const bool *used, struct err *e)
{
	size_t missing = 0, first = 0;
	struct sb names;
	sb_init(&names);
	for (size_t i = 0; i < json_array_size(requested); i++) {
		if (used[i])
			continue;
		if (!missing++)
			first = i;
		sb_addf(&names, "%s\"%s\"", names.len ? ", " : "",
			json_string_value(json_array_get(requested, i)));
	}
	if (missing) {
		char field[32];
		snprintf(field, sizeof(field), "tables[%zu]", first);
		err_set(e, 400, "invalid_field", field,
			missing == 1 ? "table %s does not exist in the source or is not selected by the job's include/exclude"
				     : "tables %s do not exist in the source or are not selected by the job's include/exclude",
			names.buf);
	}
	sb_release(&names);
	return missing == 0;
}

void objects_release(struct objects *o)
{
	for (int i = 0; i < o->n; i++) {
		free(o->o[i].name);
		free(o->o[i].sql);
		free(o->o[i].why);
	}
	free(o->o);
	free(o->preamble);
	json_decref(o->warnings);
	for (int i = 0; i < o->nschemas; i++)
		free(o->schemas[i]);
	free(o->schemas);
	memset(o, 0, sizeof(*o));
}

bool objects_describes(const char *type)
{
	return !strcmp(type, "COMMENT") || !strcmp(type, "SECURITY LABEL");
}

/* An object's name with its schema: "public.actor", "TABLE actor in schema public" for a grant or comment. */
static char *obj_name(const struct obj *ob)
{
	if (!*ob->schema)
		return xstrdup(ob->name);
	if (objects_describes(ob->type) || !strcmp(ob->type, "ACL"))
		return xasprintf("%s in schema %s", ob->name, ob->schema);
	return xasprintf("%s.%s", ob->schema, ob->name);
}

char *objects_label(const struct objects *o, int i)
{
	char *name = obj_name(&o->o[i]);
	char *label = xasprintf("%s %s", o->o[i].type, name);
	free(name);
	return label;
}

json_t *objects_summary(const struct objects *o)
{
	json_t *kinds = json_array();
	json_t *index = json_object();
	for (int i = 0; i < o->n; i++) {
		const struct obj *ob = &o->o[i];
		json_t *k = json_object_get(index, ob->type);
		if (!k) {
			k = json_pack("{s:s,s:[],s:[],s:[]}", "kind", ob->type, "create", "by_ferry", "skip");
			json_array_append_new(kinds, k);
			json_object_set(index, ob->type, k);
		}
		char *name = obj_name(ob);
		if (ob->fate == OBJ_SKIP)
			json_array_append_new(json_object_get(k, "skip"),
					      json_pack("{s:s,s:s}", "name", name, "reason", ob->why ? ob->why : ""));
		else
			json_array_append_new(json_object_get(k, ob->fate == OBJ_FERRY ? "by_ferry" : "create"),
					      json_string(name));
		free(name);
	}
	json_decref(index);
	return kinds;
}
