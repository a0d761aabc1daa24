/* template.h: @@key@@ templates with enum keys and escaping chosen by HTML context at parse time. */
#ifndef TB_HTTP_TEMPLATE_H
#define TB_HTTP_TEMPLATE_H

#include <stddef.h>

#include "util/buf.h"

/*
 * Where a marker sits, decided once when the template is parsed; every value written at that marker
 * goes through the matching escaper. Positions that have no safe string escaping are parse errors
 * (see template.c for the full rules): inside a tag but outside a quoted value, unquoted values,
 * attribute names, comments, <script>/<style> and other raw text, on* / style / srcdoc / srcset values.
 */
enum tmpl_context {
	TMPL_CONTEXT_NONE = 0,  /* tmpl_context_of(): the key has no marker */
	TMPL_CONTEXT_TEXT,      /* text, or <title>/<textarea> content: html_txt */
	TMPL_CONTEXT_ATTR,      /* a quoted value of an ordinary attribute: html_attr */
	TMPL_CONTEXT_URL,       /* the start of a quoted URL-attribute value (href, src...): html_url */
	TMPL_CONTEXT_URL_ARG,   /* later in a URL value, once the scheme is settled: html_url_arg */
};

struct tmpl;       /* a parsed template: read-only after parsing, shareable between threads */
struct tmpl_ctx;   /* one marker being rendered; valid only during the callback */

/*
 * Called once per marker, in document order, with the marker's key index (into the keys[] the template
 * was parsed with). Writes with tmpl_put*() or tmpl_nest(); writing nothing renders nothing.
 * Non-zero aborts the rendering.
 */
typedef int (*tmpl_cb)(size_t key, struct tmpl_ctx *ctx, void *arg);

/*
 * Parse src[0..len) against keys[0..nkeys) (usually a const table indexed by an enum; the template keeps
 * the pointer, so the table must outlive it). The source must be UTF-8 without NUL; "@@" always opens
 * a marker: @@name@@ with name of [A-Za-z0-9_.-], at most LIMIT_TEMPLATE_KEY_MAX bytes, listed in keys.
 * A literal "@@" is written &#64;&#64;. The template must end outside any tag, comment or raw text.
 * Returns a new template to tmpl_free(), or NULL with "line N: problem" in err.
 */
struct tmpl *tmpl_parse(const char *src, size_t len, const char *const *keys, size_t nkeys,
	char *err, size_t errsz);

/* Read path (at most LIMIT_TEMPLATE_SIZE_MAX bytes) and parse it; err starts with the path. */
struct tmpl *tmpl_load(const char *path, const char *const *keys, size_t nkeys, char *err, size_t errsz);

void tmpl_free(struct tmpl *t);

/* The context of key's first marker, TMPL_CONTEXT_NONE if it has none (for tests and assertions). */
enum tmpl_context tmpl_context_of(const struct tmpl *t, size_t key);

/*
 * Append the rendering of t to out, calling cb (may be NULL) for each marker. Returns 0, or -1 if a
 * callback returned non-zero, a tmpl_nest() was refused, or memory ran out; out then holds a partial
 * page that must not be sent.
 */
int tmpl_render(const struct tmpl *t, struct buf *out, tmpl_cb cb, void *arg)
	__attribute__((warn_unused_result));

/*
 * The only ways a callback writes. Everything is escaped for the marker's context; there is no raw
 * output of data. Several calls in one callback form one value (a URL is checked as a whole).
 */
void tmpl_put(struct tmpl_ctx *ctx, const char *s);
void tmpl_putn(struct tmpl_ctx *ctx, const char *s, size_t n);
void tmpl_putf(struct tmpl_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Render the sub-template sub here (table rows, a layout's body). Allowed only at a TEXT marker outside
 * <title>/<textarea>: the sub-template is parsed as markup of its own and its values are escaped by
 * its own contexts, so its output is trusted. At most LIMIT_TEMPLATE_NEST_MAX deep. Returns 0 or -1
 * (and then the whole rendering fails).
 */
int tmpl_nest(struct tmpl_ctx *ctx, const struct tmpl *sub, tmpl_cb cb, void *arg);

/* The context of the marker being rendered. */
enum tmpl_context tmpl_ctx_context(const struct tmpl_ctx *ctx);

/* A registry so the program loads (and checks) every template once, at start. */
struct tmpl_def {
	const char         *file;   /* name inside the template directory */
	const char *const  *keys;
	size_t              nkeys;
};

struct tmpl_set;

/* Load defs[0..n) from dir; all or nothing. NULL with "file: line N: problem" in err. */
struct tmpl_set *tmpl_set_load(const char *dir, const struct tmpl_def *defs, size_t n, char *err,
	size_t errsz);
/* The template of defs[i], or NULL if i is out of range. */
const struct tmpl *tmpl_set_get(const struct tmpl_set *set, size_t i);
void tmpl_set_free(struct tmpl_set *set);

#endif
