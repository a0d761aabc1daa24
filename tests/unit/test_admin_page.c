/* test_admin_page.c: the pure parts of the admin pages (issue 6): every page template loads and its keys
 * are checked (a typo or a marker in a forbidden place fails here, not at start-up), the formatters of
 * page.c, and the chart's grouping of projects (svg_chart.c) including "Other" and colour validation. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/page.h"
#include "handlers/svg_chart.h"
#include "http/templates.h"
#include "util/limits.h"

#include "check.h"

static void
test_templates(void)
{
	const char *srcdir = getenv("srcdir");
	char dir[4096], err[512];

	snprintf(dir, sizeof(dir), "%s/templates", srcdir != NULL ? srcdir : ".");
	err[0] = '\0';
	CHECK(templates_load(dir, err, sizeof(err)) == 0);
	if (err[0])
		fprintf(stderr, "templates: %s\n", err);
	for (int i = 0; i < TMPL__MAX; i++)
		CHECK(templates_get((enum tmpl_id)i) != NULL);
	/* The contexts the handlers rely on: text where data goes, attributes escaped, URLs checked. */
	CHECK_INT(tmpl_context_of(templates_get(TMPL_EROW), TK_EROW_DESCRIPTION), TMPL_CONTEXT_TEXT);
	CHECK_INT(tmpl_context_of(templates_get(TMPL_EROW), TK_EROW_COLOR), TMPL_CONTEXT_ATTR);
	CHECK_INT(tmpl_context_of(templates_get(TMPL_LINK), TK_LINK_HREF), TMPL_CONTEXT_URL);
	CHECK_INT(tmpl_context_of(templates_get(TMPL_BUTTON), TK_BUTTON_ACTION), TMPL_CONTEXT_URL);
	CHECK_INT(tmpl_context_of(templates_get(TMPL_CRECT), TK_CRECT_TIP), TMPL_CONTEXT_TEXT);
	CHECK_INT(tmpl_context_of(templates_get(TMPL_LOGIN), TK_LOGIN_CSRF), TMPL_CONTEXT_ATTR);
	templates_free();
	/* A missing directory is an error, not an empty set of pages. */
	CHECK(templates_load("/nonexistent-dir", err, sizeof(err)) != 0);
}

static void
test_formatters(void)
{
	char b[64];

	page_duration(b, sizeof(b), 0);
	CHECK_STR(b, "0:00:00");
	page_duration(b, sizeof(b), 3 * 3600 + 5 * 60 + 9);
	CHECK_STR(b, "3:05:09");
	page_duration(b, sizeof(b), -1700000000);   /* a running entry's duration is never shown as such */
	CHECK_STR(b, "0:00:00");
	page_hours(b, sizeof(b), 5400);
	CHECK_STR(b, "1.5 h");
	page_hours(b, sizeof(b), 158 * 3600 + 100);
	CHECK_STR(b, "158 h");
	page_ago(b, sizeof(b), 10);
	CHECK_STR(b, "just now");
	page_ago(b, sizeof(b), 125);
	CHECK_STR(b, "2 min ago");
	page_ago(b, sizeof(b), -3600);
	CHECK_STR(b, "in 1 h");
	page_ago(b, sizeof(b), 86400 * 3);
	CHECK_STR(b, "3 days ago");
	page_when(b, sizeof(b), 86400 * 30, "2024-01-02 03:04");
	CHECK_STR(b, "2024-01-02 03:04");
	page_when(b, sizeof(b), 60, "2024-01-02 03:04");
	CHECK_STR(b, "1 min ago");
	CHECK_INT(page_id("42"), 42);
	CHECK_INT(page_id(""), -1);
	CHECK_INT(page_id("-1"), -1);
	CHECK_INT(page_id("1e3"), -1);
	CHECK_INT(page_id("9999999999999999999"), -1);
	CHECK_INT(page_id(NULL), -1);
	CHECK_STR(page_state_kind("dead"), "bad");
	CHECK_STR(page_state_kind("synced"), "ok");
	CHECK_STR(page_state_kind("needs_reconnect"), "bad");
	CHECK_STR(page_state_kind("something new"), "muted");
	CHECK_STR(page_state_kind(NULL), "muted");
}

static void
test_chart(void)
{
	struct svg_chart_acc *a = svg_chart_acc_new();
	struct svg_chart c;
	char name[16];

	/* Eleven projects: the eight largest by name, the rest as "Other projects". */
	for (int p = 1; p <= 11; p++) {
		snprintf(name, sizeof(name), "P%d", p);
		svg_chart_acc_add(a, p % LIMIT_CHART_DAYS, p, name, p == 3 ? "javascript:x" : "#0b83d9", p * 3600);
	}
	svg_chart_acc_add(a, 0, 0, NULL, NULL, 1800);        /* no project */
	svg_chart_acc_add(a, -1, 5, "P5", "#0b83d9", 3600);  /* outside the span: ignored */
	svg_chart_acc_add(a, LIMIT_CHART_DAYS, 5, "P5", "#0b83d9", 3600);
	svg_chart_acc_add(a, 3, 5, "P5", "#0b83d9", -60);    /* never a negative duration */
	svg_chart_finish(a, &c, 20000);
	CHECK_INT(c.nseries, LIMIT_CHART_PROJECTS + 1);
	CHECK_STR(c.series[0].name, "P11");
	CHECK_STR(c.series[LIMIT_CHART_PROJECTS].name, "Other projects");
	CHECK_INT(c.total, (66 * 3600) + 1800);
	/* Other = P1, P2, P3 and the no-project half hour (the smallest four) */
	CHECK_INT(c.series[LIMIT_CHART_PROJECTS].total, 6 * 3600 + 1800);
	for (int s = 0; s < c.nseries; s++)
		CHECK(c.series[s].fill[0] == '#' && strlen(c.series[s].fill) == 7);
	/* An empty chart is fine. */
	svg_chart_finish(svg_chart_acc_new(), &c, 20000);
	CHECK_INT(c.nseries, 0);
	CHECK_INT(c.total, 0);
	/* A bad colour is replaced by the palette; a long name is cut on a character boundary. */
	a = svg_chart_acc_new();
	svg_chart_acc_add(a, 1, 7, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9", "red", 60);
	svg_chart_finish(a, &c, 20000);
	CHECK(strlen(c.series[0].name) < SVG_CHART_NAME_MAX && strlen(c.series[0].name) % 2 == 0);
	CHECK(strcmp(c.series[0].fill, "red") != 0 && c.series[0].fill[0] == '#');
}

int
main(void)
{
	test_templates();
	test_formatters();
	test_chart();
	return CHECK_DONE("test_admin_page");
}
