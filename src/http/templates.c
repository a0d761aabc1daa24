/* templates.c: which file each page template comes from and which keys it may use. An unknown @@key@@
 * in a file is a load error, so a typo stops the program at start rather than rendering nothing. */
#include "config.h"

#include "http/templates.h"

static const char *const layout_keys[LAYOUT__MAX] = {
	[LAYOUT_TITLE] = "title", [LAYOUT_USER] = "user", [LAYOUT_CSRF] = "csrf", [LAYOUT_NAV] = "nav",
	[LAYOUT_FLASH] = "flash", [LAYOUT_BODY] = "body", [LAYOUT_DEMO] = "demo", [LAYOUT_PAGE] = "page",
};

static const struct tmpl_def defs[TMPL__MAX] = {
	[TMPL_LAYOUT] = { "layout.html", layout_keys, LAYOUT__MAX },
	/* admin pages (issue 6) */
	TMPL_ADMIN_DEFS
};

/* Written once before the threads start, read-only afterwards. */
static struct tmpl_set *set;

int
templates_load(const char *dir, char *err, size_t errsz)
{
	set = tmpl_set_load(dir, defs, TMPL__MAX, err, errsz);
	return set ? 0 : -1;
}

const struct tmpl *
templates_get(enum tmpl_id id)
{
	return tmpl_set_get(set, id);
}

void
templates_free(void)
{
	tmpl_set_free(set);
	set = NULL;
}
