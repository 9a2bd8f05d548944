/* core/engine/copydesc.c: a table's copy description, the plan-to-load contract */
#include "copydesc.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "banned.h"

static const char *str(json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static bool flag(json_t *j, const char *key)
{
	return json_is_true(json_object_get(j, key));
}

bool copy_desc_read(json_t *j, struct copy_desc *d, struct err *e)
{
	memset(d, 0, sizeof(*d));
	d->select = str(j, "select");
	d->columns = str(j, "columns");
	const char *format = str(j, "format");
	const char *relkind = str(j, "relkind");
	if (!json_is_object(j) || !d->select || !d->columns || !format || !relkind || !*relkind)
		return err_set(e, 500, "internal", NULL,
			       "the task's copy description lacks select, columns, format or relkind");
	d->binary = !strcmp(format, "binary");
	d->relkind = relkind[0];
	d->plain = str(j, "source");
	d->relation = str(j, "relation");
	d->created = flag(j, "created");
	d->mode = str(j, "mode");
	d->mark = flag(j, "mark");
	d->key = json_object_get(j, "key");
	d->delete_flag = flag(j, "delete_flag");
	json_t *w = json_object_get(j, "window");
	if (w) {
		d->window = true;
		d->window_column = str(w, "column");
		d->window_from = str(w, "from");
		d->window_to = str(w, "to");
	}
	d->cursor = str(j, "cursor");
	d->cursor_type = str(j, "cursor_type");
	d->mark_sql = str(j, "mark_sql");
	d->track = flag(j, "track");
	json_t *sp = json_object_get(j, "split");
	if (sp) {
		d->split = true;
		d->split_relation = str(sp, "relation");
		d->split_filtered = flag(sp, "filtered");
		d->split_streams = (int)json_integer_value(json_object_get(sp, "streams"));
	}
	d->conv = json_object_get(j, "conv");
	d->kinds = json_object_get(j, "kinds");
	json_t *seqs = json_object_get(j, "sequences");
	d->nseqs = (int)json_array_size(seqs);
	d->seqs = xcalloc((size_t)d->nseqs + 1, sizeof(*d->seqs));
	for (int i = 0; i < d->nseqs; i++) {
		json_t *s = json_array_get(seqs, (size_t)i);
		d->seqs[i] = (struct copy_seq){str(s, "source"), str(s, "table"), str(s, "column"),
					       str(s, "target")};
		if (!d->seqs[i].source) {
			copy_desc_release(d);
			return err_set(e, 500, "internal", NULL, "a sequence of the copy description has no source");
		}
	}
	return true;
}

void copy_desc_release(struct copy_desc *d)
{
	free(d->seqs);
	memset(d, 0, sizeof(*d));
}
