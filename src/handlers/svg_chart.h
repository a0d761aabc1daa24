/* svg_chart.h: the dashboard's chart, hours per day by project over LIMIT_CHART_DAYS days, drawn by the
 * server as inline SVG (no script, no remote anything) through the chart templates. */
#ifndef TB_HANDLERS_SVG_CHART_H
#define TB_HANDLERS_SVG_CHART_H

#include <stdint.h>

#include "http/template.h"
#include "util/limits.h"

#define SVG_CHART_SERIES (LIMIT_CHART_PROJECTS + 1)   /* the named projects, then "Other" */
#define SVG_CHART_NAME_MAX 96                          /* bytes of a project name kept for the chart */

struct svg_series {
	char        name[SVG_CHART_NAME_MAX];   /* the project's name ("No project", "Other"), maybe cut */
	char        fill[8];   /* "#rrggbb" */
	int64_t     secs[LIMIT_CHART_DAYS];
	int64_t     total;
};

struct svg_chart {
	int64_t           first_day;                 /* days since 1970-01-01 of the first bar */
	int               nseries;
	struct svg_series series[SVG_CHART_SERIES];  /* stacked bottom up, largest total first */
	int64_t           total;
};

/* Add secs of project (id 0: none; name/color may be NULL) on day index day (0..LIMIT_CHART_DAYS-1) to c.
 * Call svg_chart_finish() once everything is added. Projects past LIMIT_CHART_PROJECTS go to "Other". */
struct svg_chart_acc;
struct svg_chart_acc *svg_chart_acc_new(void);
void svg_chart_acc_add(struct svg_chart_acc *a, int day, int64_t project, const char *name, const char *color,
	int64_t secs);
/* Fill c from a (biggest projects first) and free a. */
void svg_chart_finish(struct svg_chart_acc *a, struct svg_chart *c, int64_t first_day);

/* Nest the chart (chart.html and its parts) and the legend rows (chart_legend.html). 0 or -1. */
int svg_chart_render(struct tmpl_ctx *ctx, const struct svg_chart *c) __attribute__((warn_unused_result));
int svg_chart_legend(struct tmpl_ctx *ctx, const struct svg_chart *c) __attribute__((warn_unused_result));

#endif
