/* templates.h: the app's page templates (files in templates/), loaded once at start and shared
 * read-only by every thread. Each page declares its marker keys as an enum beside its handler. */
#ifndef TB_TEMPLATES_H
#define TB_TEMPLATES_H

#include <stddef.h>

#include "http/template.h"
#include "http/templates_admin.h"

enum tmpl_id {
	TMPL_LAYOUT = 0,   /* every page: title, nav, flash, body */
	/* -- features add their templates below -- */
	/* admin pages (issue 6): the list is in templates_admin.h */
	TMPL_ADMIN_IDS
	TMPL__MAX
};

/* Keys of the layout, for the pages that wrap themselves in it. */
enum layout_key { LAYOUT_TITLE = 0, LAYOUT_USER, LAYOUT_CSRF, LAYOUT_NAV, LAYOUT_FLASH, LAYOUT_BODY,
	LAYOUT_DEMO, LAYOUT_PAGE, LAYOUT__MAX };

int  templates_load(const char *dir, char *err, size_t errsz) __attribute__((warn_unused_result));
const struct tmpl *templates_get(enum tmpl_id id);
void templates_free(void);

#endif
