/*
 * fuzz_template.c: libFuzzer target for tmpl_parse() + tmpl_render(). The input is a template with a
 * fixed key set. When it parses, it is rendered three times: with every marker empty, with hostile
 * values, and with "javascript:" only at URL markers. Escaping works if the hostile rendering holds
 * exactly as many markup characters (< > " ') as the empty one (no value opened a tag or left a quoted
 * value) and the URL rendering no more "javascript:" than the empty one (no value chose a scheme).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "http/template.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { K_A, K_B, K_URL, K_ROWS, K__MAX };
static const char *const keys[K__MAX] = { "a", "b", "url", "rows" };

enum mode { M_EMPTY, M_HOSTILE, M_URL_JS };

struct run {
	enum mode           mode;
	const struct tmpl  *sub;
	unsigned            n;     /* markers seen: picks the next hostile value */
	int                 nests; /* nests so far, bounded so a self-similar run stays small */
};

static const char *const hostile[] = {
	"<script>alert(1)</script>",
	"\"'><img src=x onerror=alert(1)>",
	"javascript:alert(1)",
	"JaVaScRiPt:alert(1)",
	" javascript:alert(1)",
	"java\tscript:alert(1)",
	"&#106;avascript:alert(1)",
	"`onmouseover`=alert(1)",
	"\xff\xc0<\xed\xa0\x80>",
	"</title></textarea><!--",
	"@@a@@",
};

static int
cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct run *r = arg;
	const char *v;

	r->n++;
	if (key == K_ROWS && tmpl_ctx_context(ctx) == TMPL_CONTEXT_TEXT && r->nests < 4) {
		r->nests++;
		/* Fails (and so fails the render) in RCDATA: the same in every mode. */
		return tmpl_nest(ctx, r->sub, cb, r);
	}
	switch (r->mode) {
	case M_EMPTY:
		return 0;
	case M_URL_JS:
		if (tmpl_ctx_context(ctx) == TMPL_CONTEXT_URL)
			tmpl_put(ctx, r->n % 2 ? "javascript:alert(1)" : "JAVASCRIPT:x");
		return 0;
	case M_HOSTILE:
		v = hostile[r->n % (sizeof(hostile) / sizeof(hostile[0]))];
		/* In pieces, with a NUL in the middle, so values are not one put each. */
		tmpl_putn(ctx, v, strlen(v) / 2);
		tmpl_putn(ctx, "\0", 1);
		tmpl_put(ctx, v + strlen(v) / 2);
		tmpl_putf(ctx, "%d", (int)key);
		return 0;
	}
	return 0;
}

static size_t
count_chars(const struct buf *b, const char *set)
{
	size_t i, n = 0;

	for (i = 0; i < b->len; i++) {
		if (b->data[i] != '\0' && strchr(set, b->data[i]) != NULL)
			n++;
	}
	return n;
}

/* Case-insensitive occurrences of "javascript:" (what a browser would take as the scheme). */
static size_t
count_js(const struct buf *b)
{
	static const char w[] = "javascript:";
	size_t i, k, n = 0;
	char c;

	for (i = 0; i + sizeof(w) - 1 <= b->len; i++) {
		for (k = 0; k < sizeof(w) - 1; k++) {
			c = b->data[i + k];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c != w[k])
				break;
		}
		if (k == sizeof(w) - 1)
			n++;
	}
	return n;
}

static int
render(const struct tmpl *t, const struct tmpl *sub, enum mode mode, struct buf *out)
{
	struct run r;

	memset(&r, 0, sizeof(r));
	r.mode = mode;
	r.sub = sub;
	return tmpl_render(t, out, cb, &r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char subsrc[] = "<b title=\"@@a@@\"><a href=\"@@url@@\">@@b@@</a></b>";
	struct buf empty = BUF_INIT, bad = BUF_INIT, js = BUF_INIT;
	struct tmpl *t = NULL, *sub = NULL;
	char err[256];
	int rc_empty, rc_bad, rc_js;

	if ((sub = tmpl_parse(subsrc, sizeof(subsrc) - 1, keys, K__MAX, err, sizeof(err))) == NULL)
		__builtin_trap();
	if ((t = tmpl_parse((const char *)data, size, keys, K__MAX, err, sizeof(err))) == NULL) {
		if (err[0] == '\0')
			__builtin_trap();  /* a refusal always says why */
		goto out;
	}
	rc_empty = render(t, sub, M_EMPTY, &empty);
	rc_bad = render(t, sub, M_HOSTILE, &bad);
	rc_js = render(t, sub, M_URL_JS, &js);
	if (rc_empty != rc_bad || rc_empty != rc_js)
		__builtin_trap();
	if (rc_empty == 0) {
		if (count_chars(&bad, "<>\"'") != count_chars(&empty, "<>\"'"))
			__builtin_trap();
		if (count_js(&js) != count_js(&empty))
			__builtin_trap();
	}
out:
	buf_free(&empty);
	buf_free(&bad);
	buf_free(&js);
	tmpl_free(t);
	tmpl_free(sub);
	return 0;
}
