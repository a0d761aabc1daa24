/* svg_chart.c: the dashboard's stacked bar chart of hours per day by project, as inline SVG. The geometry is
 * computed here; the markup comes from the chart templates, so every value is escaped like any other. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/page.h"
#include "handlers/svg_chart.h"
#include "util/tbtime.h"

/* Layout, in SVG user units (the SVG scales to its box). */
#define W        900
#define H        280
#define LEFT     48
#define RIGHT    8
#define TOP      12
#define BOTTOM   28
#define GAP      0.22      /* of each day's slot left empty between bars */

/* Used for projects without a (valid) colour: Toggl's own palette. */
static const char *const fallback[] = { "#0b83d9", "#9e5bd9", "#d94182", "#e36a00", "#bf7000", "#2da608",
	"#06a893", "#c9806b", "#465bb3", "#990099", "#c7af14", "#566614" };
#define NO_PROJECT_FILL "#a39fb0"
#define OTHER_FILL      "#d3cedb"

struct acc_project {
	int64_t id;
	char    name[SVG_CHART_NAME_MAX];
	char    fill[8];
	int64_t secs[LIMIT_CHART_DAYS];
	int64_t total;
};

struct svg_chart_acc {
	struct acc_project *p;
	size_t              n, cap;
	int                 oom;
};

struct svg_chart_acc *
svg_chart_acc_new(void)
{
	return calloc(1, sizeof(struct svg_chart_acc));
}

static int
hex_color(const char *s)
{
	if (s == NULL || strlen(s) != 7 || s[0] != '#')
		return 0;
	for (int i = 1; i < 7; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

/* Copy at most n-1 bytes of s, cut on a UTF-8 character boundary. */
static void
copy_cut(char *out, size_t n, const char *s)
{
	size_t len = strlen(s);

	if (len >= n) {
		len = n - 1;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(out, s, len);
	out[len] = '\0';
}

void
svg_chart_acc_add(struct svg_chart_acc *a, int day, int64_t project, const char *name, const char *color,
    int64_t secs)
{
	struct acc_project *p = NULL;

	if (a == NULL || day < 0 || day >= LIMIT_CHART_DAYS || secs <= 0)
		return;
	for (size_t i = 0; i < a->n; i++)
		if (a->p[i].id == project) {
			p = &a->p[i];
			break;
		}
	if (p == NULL) {
		if (a->n == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 16;
			struct acc_project *np = realloc(a->p, cap * sizeof(*np));
			if (np == NULL) {
				a->oom = 1;
				return;
			}
			a->p = np;
			a->cap = cap;
		}
		p = &a->p[a->n];
		memset(p, 0, sizeof(*p));
		p->id = project;
		copy_cut(p->name, sizeof(p->name), project == 0 ? "No project" : name && *name ? name : "(unnamed)");
		if (project == 0)
			snprintf(p->fill, sizeof(p->fill), "%s", NO_PROJECT_FILL);
		else if (hex_color(color))
			snprintf(p->fill, sizeof(p->fill), "%s", color);
		else
			snprintf(p->fill, sizeof(p->fill), "%s", fallback[(uint64_t)project % (sizeof(fallback) /
			    sizeof(fallback[0]))]);
		a->n++;
	}
	p->secs[day] += secs;
	p->total += secs;
}

static int
by_total(const void *x, const void *y)
{
	const struct acc_project *a = x, *b = y;

	if (a->total != b->total)
		return a->total < b->total ? 1 : -1;
	return a->id < b->id ? -1 : a->id > b->id;
}

void
svg_chart_finish(struct svg_chart_acc *a, struct svg_chart *c, int64_t first_day)
{
	struct svg_series *other = NULL;

	memset(c, 0, sizeof(*c));
	c->first_day = first_day;
	if (a == NULL)
		return;
	if (a->n > 1)
		qsort(a->p, a->n, sizeof(*a->p), by_total);
	for (size_t i = 0; i < a->n; i++) {
		struct svg_series *s;
		if (c->nseries < LIMIT_CHART_PROJECTS) {
			s = &c->series[c->nseries++];
			memcpy(s->name, a->p[i].name, sizeof(s->name));
			memcpy(s->fill, a->p[i].fill, sizeof(s->fill));
		} else {
			if (other == NULL) {
				other = &c->series[c->nseries++];
				snprintf(other->name, sizeof(other->name), "Other projects");
				snprintf(other->fill, sizeof(other->fill), "%s", OTHER_FILL);
			}
			s = other;
		}
		for (int d = 0; d < LIMIT_CHART_DAYS; d++)
			s->secs[d] += a->p[i].secs[d];
		s->total += a->p[i].total;
		c->total += a->p[i].total;
	}
	free(a->p);
	free(a);
}

/* ---- rendering ---- */

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
	"Nov", "Dec" };

static void
day_label(int64_t days, char *out, size_t n, int with_month)
{
	int64_t y;
	int m, d;

	tb_civil_from_days(days, &y, &m, &d);
	if (with_month)
		snprintf(out, n, "%s %d", months[(m - 1) % 12], d);
	else
		snprintf(out, n, "%d", d);
}

/* A round axis maximum in hours, at least max_h. */
static int
axis_max(double max_h)
{
	static const int steps[] = { 2, 4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 100, 160, 240 };

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (max_h <= steps[i])
			return steps[i];
	return ((int)max_h / 100 + 1) * 100;
}

struct render {
	const struct svg_chart *c;
};

static int
put_text(struct tmpl_ctx *ctx, double x, double y, const char *anchor, const char *text)
{
	char xs[32], ys[32];
	const char *v[TK_CTEXT__MAX];

	snprintf(xs, sizeof(xs), "%.1f", x);
	snprintf(ys, sizeof(ys), "%.1f", y);
	v[TK_CTEXT_X] = xs, v[TK_CTEXT_Y] = ys, v[TK_CTEXT_ANCHOR] = anchor, v[TK_CTEXT_TEXT] = text;
	return page_nest_values(ctx, TMPL_CTEXT, v, TK_CTEXT__MAX);
}

static int
put_line(struct tmpl_ctx *ctx, double x1, double y1, double x2, double y2, const char *kind)
{
	char a[32], b[32], c[32], d[32];
	const char *v[TK_CLINE__MAX];

	snprintf(a, sizeof(a), "%.1f", x1);
	snprintf(b, sizeof(b), "%.1f", y1);
	snprintf(c, sizeof(c), "%.1f", x2);
	snprintf(d, sizeof(d), "%.1f", y2);
	v[TK_CLINE_X1] = a, v[TK_CLINE_Y1] = b, v[TK_CLINE_X2] = c, v[TK_CLINE_Y2] = d, v[TK_CLINE_KIND] = kind;
	return page_nest_values(ctx, TMPL_CLINE, v, TK_CLINE__MAX);
}

static int
body_cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	const struct svg_chart *c = ((struct render *)arg)->c;
	double plot_w = W - LEFT - RIGHT, plot_h = H - TOP - BOTTOM, slot = plot_w / LIMIT_CHART_DAYS;
	double max_h = 0;
	int top;

	if (key != TK_CHART_BODY) {
		char buf[256];
		if (key == TK_CHART_WIDTH)
			tmpl_putf(ctx, "%d", W);
		else if (key == TK_CHART_HEIGHT)
			tmpl_putf(ctx, "%d", H);
		else if (key == TK_CHART_DESC) {
			char total[32];
			page_hours(total, sizeof(total), c->total);
			snprintf(buf, sizeof(buf), "Stacked bar chart of hours tracked per day over the last %d days, "
			    "by project; %s in all. The legend below lists each project's total.", LIMIT_CHART_DAYS, total);
			tmpl_put(ctx, buf);
		}
		return 0;
	}
	for (int d = 0; d < LIMIT_CHART_DAYS; d++) {
		int64_t day = 0;
		for (int s = 0; s < c->nseries; s++)
			day += c->series[s].secs[d];
		if ((double)day / 3600.0 > max_h)
			max_h = (double)day / 3600.0;
	}
	top = axis_max(max_h);
	/* grid and y labels: four steps */
	for (int i = 0; i <= 4; i++) {
		double y = TOP + plot_h - plot_h * i / 4.0;
		char label[16];
		snprintf(label, sizeof(label), "%g h", (double)top * i / 4.0);
		if (put_line(ctx, LEFT, y, W - RIGHT, y, i == 0 ? "axis" : "grid") != 0 ||
		    put_text(ctx, LEFT - 6, y + 4, "end", label) != 0)
			return -1;
	}
	/* bars, stacked bottom up */
	for (int d = 0; d < LIMIT_CHART_DAYS; d++) {
		double x = LEFT + slot * d + slot * GAP / 2, w = slot * (1 - GAP), y = TOP + plot_h;
		char day[32];
		day_label(c->first_day + d, day, sizeof(day), 1);
		for (int s = 0; s < c->nseries; s++) {
			const struct svg_series *se = &c->series[s];
			double h = plot_h * ((double)se->secs[d] / 3600.0) / top;
			char xs[32], ys[32], ws[32], hs[32], tip[SVG_CHART_NAME_MAX + 64], hours[32];
			const char *v[TK_CRECT__MAX];
			if (se->secs[d] <= 0)
				continue;
			if (h < 0.5)
				h = 0.5;
			y -= h;
			page_hours(hours, sizeof(hours), se->secs[d]);
			snprintf(xs, sizeof(xs), "%.1f", x);
			snprintf(ys, sizeof(ys), "%.1f", y);
			snprintf(ws, sizeof(ws), "%.1f", w);
			snprintf(hs, sizeof(hs), "%.1f", h);
			snprintf(tip, sizeof(tip), "%s: %s on %s", se->name, hours, day);
			v[TK_CRECT_X] = xs, v[TK_CRECT_Y] = ys, v[TK_CRECT_W] = ws, v[TK_CRECT_H] = hs;
			v[TK_CRECT_FILL] = se->fill, v[TK_CRECT_TIP] = tip;
			if (page_nest_values(ctx, TMPL_CRECT, v, TK_CRECT__MAX) != 0)
				return -1;
		}
		/* a date under every fifth bar, counting back from today, so today is always labelled */
		if ((LIMIT_CHART_DAYS - 1 - d) % 5 == 0) {
			char label[16];
			int64_t y_;
			int m, dd;
			tb_civil_from_days(c->first_day + d, &y_, &m, &dd);
			day_label(c->first_day + d, label, sizeof(label), d == 0 || dd <= 5 || d == LIMIT_CHART_DAYS - 1);
			/* the last label ends at its bar, so it stays inside the drawing */
			if (put_text(ctx, d == LIMIT_CHART_DAYS - 1 ? x + w : x + w / 2, H - BOTTOM + 18,
			    d == LIMIT_CHART_DAYS - 1 ? "end" : "middle", label) != 0)
				return -1;
		}
	}
	return 0;
}

int
svg_chart_render(struct tmpl_ctx *ctx, const struct svg_chart *c)
{
	const struct tmpl *t = templates_get(TMPL_CHART);
	struct render rd = { c };

	return t ? tmpl_nest(ctx, t, body_cb, &rd) : -1;
}

int
svg_chart_legend(struct tmpl_ctx *ctx, const struct svg_chart *c)
{
	for (int s = 0; s < c->nseries; s++) {
		char hours[32];
		const char *v[TK_CLEGEND__MAX];
		page_hours(hours, sizeof(hours), c->series[s].total);
		v[TK_CLEGEND_FILL] = c->series[s].fill, v[TK_CLEGEND_LABEL] = c->series[s].name;
		v[TK_CLEGEND_HOURS] = hours;
		if (page_nest_values(ctx, TMPL_CLEGEND, v, TK_CLEGEND__MAX) != 0)
			return -1;
	}
	return 0;
}
