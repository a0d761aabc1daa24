/* test_template.c: the @@key@@ engine of src/http/template.c: contexts, refusals, rendering, nesting, and
 * golden files in tests/data/templates (NAME.html rendered must equal NAME.out; bad-NAME.html must fail
 * with the message in bad-NAME.err). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/template.h"
#include "util/buf.h"
#include "util/limits.h"

#include "check.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The hostile values every context must survive. */
#define V_SCRIPT   "<script>alert(1)</script>"
#define V_JS       "javascript:alert(1)"
#define V_JSMIXED  "JaVaScRiPt:alert(1)"
#define V_JSSPACE  " javascript:alert(1)"
#define V_JSTAB    "java\tscript:alert(1)"
#define V_JSENTITY "&#106;avascript:alert(1)"

enum key {
	K_SCRIPT, K_DQ, K_SQ, K_JS, K_JSMIXED, K_JSSPACE, K_JSTAB, K_JSENTITY, K_URL, K_ID, K_NAME,
	K_ROWS, K_ITEM, K_EMPTY, K_V, K__MAX
};

static const char *const keys[K__MAX] = {
	[K_SCRIPT] = "script", [K_DQ] = "dq", [K_SQ] = "sq", [K_JS] = "js", [K_JSMIXED] = "jsmixed",
	[K_JSSPACE] = "jsspace", [K_JSTAB] = "jstab", [K_JSENTITY] = "jsentity", [K_URL] = "url",
	[K_ID] = "id", [K_NAME] = "name", [K_ROWS] = "rows", [K_ITEM] = "item", [K_EMPTY] = "empty",
	[K_V] = "v",
};

static const char *const values[K__MAX] = {
	[K_SCRIPT] = V_SCRIPT, [K_DQ] = "\"", [K_SQ] = "'", [K_JS] = V_JS, [K_JSMIXED] = V_JSMIXED,
	[K_JSSPACE] = V_JSSPACE, [K_JSTAB] = V_JSTAB, [K_JSENTITY] = V_JSENTITY,
	[K_URL] = "https://example.com/a?b=1&c=2", [K_ID] = "42/../x y", [K_NAME] = "O'Brien <ob@example.com>",
	[K_EMPTY] = "",
};

struct page {
	const struct tmpl  *row;       /* sub-template for K_ROWS */
	const char         *item;      /* the current row's value */
	const char         *v;         /* the value of K_V */
	int                 calls;
};

static int
cb(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	static const char *const items[] = { V_SCRIPT, V_JS, "/ok?a=1&b=\"2\"" };
	struct page *pg = arg;
	size_t i;

	pg->calls++;
	switch (key) {
	case K_ROWS:
		for (i = 0; i < NELEM(items); i++) {
			pg->item = items[i];
			if (tmpl_nest(ctx, pg->row, cb, pg) != 0)
				return -1;
		}
		return 0;
	case K_ITEM:
		tmpl_put(ctx, pg->item);
		return 0;
	case K_V:
		tmpl_put(ctx, pg->v);
		return 0;
	default:
		if (key < K__MAX && values[key] != NULL)
			tmpl_put(ctx, values[key]);
		return 0;
	}
}

/* Parse src (NUL-terminated) with the test keys; NULL and err set on failure. */
static struct tmpl *
parse(const char *src, char *err, size_t errsz)
{
	return tmpl_parse(src, strlen(src), keys, K__MAX, err, errsz);
}

/* Render template src with K_V = v; returns a malloc'ed string or NULL on failure. */
static char *
render_v(const char *src, const char *v)
{
	struct page pg = { NULL, NULL, v, 0 };
	struct buf out = BUF_INIT;
	struct tmpl *t;
	char err[256];
	char *res = NULL;

	if ((t = parse(src, err, sizeof(err))) == NULL) {
		fprintf(stderr, "parse failed: %s\n", err);
		return NULL;
	}
	if (tmpl_render(t, &out, cb, &pg) == 0)
		res = buf_steal(&out);
	buf_free(&out);
	tmpl_free(t);
	return res;
}

/*
 * The must-show test: each hostile value through each context, exact output.
 * TEXT and ATTR come from one template; URL and URL_ARG from two more.
 */
static void
test_hostile_values(void)
{
	static const struct {
		const char *v, *text, *attr, *url, *arg;
	} cases[] = {
		{ V_SCRIPT,
		  "&lt;script&gt;alert(1)&lt;/script&gt;",
		  "&lt;script&gt;alert(1)&lt;/script&gt;",
		  "&lt;script&gt;alert(1)&lt;/script&gt;",  /* relative: harmless once escaped */
		  "%3Cscript%3Ealert%281%29%3C%2Fscript%3E" },
		{ "\"", "&quot;", "&quot;", "&quot;", "%22" },
		{ "'", "&#39;", "&#39;", "&#39;", "%27" },
		{ "\"'><script>alert(1)</script>",
		  "&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;",
		  "&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;",
		  "&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;",
		  "%22%27%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E" },
		{ V_JS, V_JS, V_JS, "#", "javascript%3Aalert%281%29" },
		{ V_JSMIXED, V_JSMIXED, V_JSMIXED, "#", "JaVaScRiPt%3Aalert%281%29" },
		{ V_JSSPACE, V_JSSPACE, V_JSSPACE, "#", "%20javascript%3Aalert%281%29" },
		{ V_JSTAB, V_JSTAB, "java&#009;script:alert(1)", "#", "java%09script%3Aalert%281%29" },
		{ V_JSENTITY, "&amp;#106;avascript:alert(1)", "&amp;#106;avascript:alert(1)", "#",
		  "%26%23106%3Bavascript%3Aalert%281%29" },
		{ "javascript&colon;alert(1)", "javascript&amp;colon;alert(1)", "javascript&amp;colon;alert(1)", "#",
		  "javascript%26colon%3Balert%281%29" },
		{ "data:text/html;base64,PHNjcmlwdD4=", "data:text/html;base64,PHNjcmlwdD4=",
		  "data:text/html;base64,PHNjcmlwdD4&#61;", "#", "data%3Atext%2Fhtml%3Bbase64%2CPHNjcmlwdD4%3D" },
		{ "https://example.com/?a=1&b=2", "https://example.com/?a=1&amp;b=2",
		  "https://example.com/?a&#61;1&amp;b&#61;2", "https://example.com/?a&#61;1&amp;b&#61;2",
		  "https%3A%2F%2Fexample.com%2F%3Fa%3D1%26b%3D2" },
		{ "`x`=1", "`x`=1", "&#96;x&#96;&#61;1", "&#96;x&#96;&#61;1", "%60x%60%3D1" },
	};
	char want[1024], *got;
	size_t i;

	for (i = 0; i < NELEM(cases); i++) {
		/* Text and both quote styles of an ordinary attribute. */
		snprintf(want, sizeof(want), "<p>%s</p><p title=\"%s\" class='%s'></p>", cases[i].text,
		    cases[i].attr, cases[i].attr);
		got = render_v("<p>@@v@@</p><p title=\"@@v@@\" class='@@v@@'></p>", cases[i].v);
		CHECK_STR(got, want);
		free(got);
		/* A whole URL, double and single quoted. */
		snprintf(want, sizeof(want), "<a href=\"%s\">x</a><img src='%s'>", cases[i].url, cases[i].url);
		got = render_v("<a href=\"@@v@@\">x</a><img src='@@v@@'>", cases[i].v);
		CHECK_STR(got, want);
		free(got);
		/* A URL component after a settled scheme. */
		snprintf(want, sizeof(want), "<a href=\"/u/%s?q=%s\">x</a>", cases[i].arg, cases[i].arg);
		got = render_v("<a href=\"/u/@@v@@?q=@@v@@\">x</a>", cases[i].v);
		CHECK_STR(got, want);
		free(got);
		/* RCDATA is text. */
		snprintf(want, sizeof(want), "<title>%s</title><textarea>%s</textarea>", cases[i].text,
		    cases[i].text);
		got = render_v("<title>@@v@@</title><textarea>@@v@@</textarea>", cases[i].v);
		CHECK_STR(got, want);
		free(got);
	}
}

static void
test_contexts(void)
{
	static const struct {
		const char *src;
		size_t key;
		enum tmpl_context want;
	} cases[] = {
		{ "@@v@@", K_V, TMPL_CONTEXT_TEXT },
		{ "<p>a < b @@v@@</p>", K_V, TMPL_CONTEXT_TEXT },
		{ "<title>@@v@@</title>", K_V, TMPL_CONTEXT_TEXT },
		{ "<TEXTAREA>@@v@@</TEXTAREA>", K_V, TMPL_CONTEXT_TEXT },
		{ "<script src=\"/x.js\"></script>@@v@@", K_V, TMPL_CONTEXT_TEXT },
		{ "<script>if (a < b) x();</SCRIPT >@@v@@", K_V, TMPL_CONTEXT_TEXT },
		{ "<style>a>b{}</style>@@v@@", K_V, TMPL_CONTEXT_TEXT },
		{ "<!-- c -->@@v@@", K_V, TMPL_CONTEXT_TEXT },
		{ "<!---->@@v@@<!-->@@id@@", K_ID, TMPL_CONTEXT_TEXT },
		{ "<!doctype html>@@v@@", K_V, TMPL_CONTEXT_TEXT },
		{ "<br/>@@v@@", K_V, TMPL_CONTEXT_TEXT },
		{ "<input disabled>@@v@@", K_V, TMPL_CONTEXT_TEXT },
		{ "<p title=\"@@v@@\">", K_V, TMPL_CONTEXT_ATTR },
		{ "<p title='@@v@@'>", K_V, TMPL_CONTEXT_ATTR },
		{ "<p title = \"x @@v@@ y\">", K_V, TMPL_CONTEXT_ATTR },
		{ "<p data-href=\"@@v@@\">", K_V, TMPL_CONTEXT_ATTR },
		{ "<p hreflang=\"@@v@@\">", K_V, TMPL_CONTEXT_ATTR },
		{ "<meta name=\"description\" content=\"@@v@@\">", K_V, TMPL_CONTEXT_ATTR },
		{ "<a title=\"x\" href=\"@@v@@\">", K_V, TMPL_CONTEXT_URL },
		{ "<a HREF='@@v@@'>", K_V, TMPL_CONTEXT_URL },
		{ "<img src=\"@@v@@\">", K_V, TMPL_CONTEXT_URL },
		{ "<form action=\"@@v@@\">", K_V, TMPL_CONTEXT_URL },
		{ "<button formaction=\"@@v@@\">", K_V, TMPL_CONTEXT_URL },
		{ "<video poster=\"@@v@@\">", K_V, TMPL_CONTEXT_URL },
		{ "<q cite=\"@@v@@\">", K_V, TMPL_CONTEXT_URL },
		{ "<td background=\"@@v@@\">", K_V, TMPL_CONTEXT_URL },
		{ "<iframe src=\"@@v@@\"></iframe>", K_V, TMPL_CONTEXT_URL },
		{ "<use xlink:href=\"@@v@@\">", K_V, TMPL_CONTEXT_URL },
		{ "<a href=\"@@v@@/edit\">", K_V, TMPL_CONTEXT_URL },
		{ "<a href=\"@@url@@/x/@@v@@\">", K_V, TMPL_CONTEXT_URL_ARG },
		{ "<a href=\"/x/@@v@@\">", K_V, TMPL_CONTEXT_URL_ARG },
		{ "<a href=\"?q=@@v@@\">", K_V, TMPL_CONTEXT_URL_ARG },
		{ "<a href=\"#@@v@@\">", K_V, TMPL_CONTEXT_URL_ARG },
		{ "<a href=\"https://example.com/@@v@@\">", K_V, TMPL_CONTEXT_URL_ARG },
		{ "<a href=\"HTTP:@@v@@\">", K_V, TMPL_CONTEXT_URL_ARG },
		{ "<a href=\"mailto:@@v@@\">", K_V, TMPL_CONTEXT_URL_ARG },
		{ "<a href=\"/?a=1&amp;b=@@v@@\">", K_V, TMPL_CONTEXT_URL_ARG },
		{ "<p>no marker</p>", K_V, TMPL_CONTEXT_NONE },
	};
	struct tmpl *t;
	char err[256];
	size_t i;

	for (i = 0; i < NELEM(cases); i++) {
		t = parse(cases[i].src, err, sizeof(err));
		CHECK(t != NULL);
		if (t == NULL) {
			fprintf(stderr, "  template %s: %s\n", cases[i].src, err);
			continue;
		}
		if (tmpl_context_of(t, cases[i].key) != cases[i].want)
			fprintf(stderr, "  template %s\n", cases[i].src);
		CHECK_INT(tmpl_context_of(t, cases[i].key), cases[i].want);
		tmpl_free(t);
	}
}

static void
test_refusals(void)
{
	static const struct {
		const char *src, *err;
	} cases[] = {
		/* Unknown and malformed markers. */
		{ "<p>\n\n@@nope@@</p>", "line 3: unknown key 'nope'" },
		{ "@@V@@", "line 1: unknown key 'V'" },
		{ "a @@ b", "line 1: malformed marker" },
		{ "@@v", "line 1: malformed marker" },
		{ "@@v@", "line 1: malformed marker" },
		{ "@@@@", "line 1: malformed marker" },
		{ "@@v w@@", "line 1: malformed marker" },
		{ "user@@example", "line 1: malformed marker" },
		{ "@@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@@", "marker name longer than 48" },
		/* Markers where no string escaping is right. */
		{ "<@@v@@>", "marker @@v@@ right after '<' is not allowed" },
		{ "<@@v@@ src=x onerror=alert(1)>", "right after '<'" },
		{ "</@@v@@>", "right after '</'" },
		{ "<p@@v@@>", "in a tag name" },
		{ "<p @@v@@>", "inside a tag, outside any attribute value" },
		{ "<p @@v@@=\"x\">", "inside a tag, outside any attribute value" },
		{ "<p a@@v@@=\"x\">", "in an attribute name" },
		{ "<p a @@v@@>", "inside a tag, after an attribute name" },
		{ "<p a=@@v@@>", "in an unquoted attribute value (quote it)" },
		{ "<p a=x@@v@@>", "in an unquoted attribute value (quote it)" },
		{ "<p a=\"x\"@@v@@>", "inside a tag, after an attribute value" },
		{ "<br/@@v@@>", "inside a tag, after '/'" },
		{ "<!-- @@v@@ -->", "inside a comment" },
		{ "<!-- -- @@v@@ -->", "inside a comment" },
		{ "<!DOCTYPE @@v@@>", "inside <!...> or <?...>" },
		{ "<?xml @@v@@?>", "inside <!...> or <?...>" },
		{ "<![CDATA[ @@v@@ ]]>", "inside <!...> or <?...>" },
		{ "<script>@@v@@</script>", "inside <script>, <style>" },
		{ "<script type=\"application/json\">@@v@@</script>", "inside <script>, <style>" },
		{ "<script>x='</scrip>@@v@@'</script>", "inside <script>, <style>" },
		{ "<script>x='</scriptx>@@v@@'</script>", "inside <script>, <style>" },
		{ "<script><!-- x --></script>", "\"<!--\" inside <script> is not supported" },
		{ "<style>@@v@@</style>", "inside <script>, <style>" },
		{ "<xmp>@@v@@</xmp>", "inside <script>, <style>" },
		{ "<iframe>@@v@@</iframe>", "inside <script>, <style>" },
		{ "<noscript>@@v@@</noscript>", "inside <script>, <style>" },
		{ "<noembed>@@v@@</noembed>", "inside <script>, <style>" },
		{ "<noframes>@@v@@</noframes>", "inside <script>, <style>" },
		{ "<plaintext></plaintext>@@v@@", "inside <script>, <style>" },
		{ "<a onclick=\"@@v@@\">", "in attribute 'onclick' (script, style, HTML or URL list)" },
		{ "<body ONLOAD='@@v@@'>", "in attribute 'onload'" },
		{ "<p style=\"color: @@v@@\">", "in attribute 'style'" },
		{ "<iframe srcdoc=\"@@v@@\"></iframe>", "in attribute 'srcdoc'" },
		{ "<img srcset=\"@@v@@ 2x\">", "in attribute 'srcset'" },
		{ "<img data-srcset=\"@@v@@\">", "in attribute 'data-srcset'" },
		{ "<a ping=\"@@v@@\">", "in attribute 'ping'" },
		{ "<meta http-equiv=\"refresh\" content=\"0; url=@@v@@\">", "<meta http-equiv>" },
		{ "<meta content=\"0; url=@@v@@\" http-equiv=\"refresh\">", "<meta http-equiv>" },
		/* Tags that load or scope active content take no markers at all. */
		{ "<script src=\"@@v@@\"></script>", "marker @@v@@ in a <script> tag (it loads or scopes active content)" },
		{ "<SCRIPT type=\"module\" src=\"/x/@@v@@\"></SCRIPT>", "in a <script> tag" },
		{ "<base href=\"@@v@@\">", "in a <base> tag" },
		{ "<link rel=\"stylesheet\" href=\"@@v@@\">", "in a <link> tag" },
		{ "<object data=\"@@v@@\"></object>", "in a <object> tag" },
		{ "<embed src=\"@@v@@\">", "in a <embed> tag" },
		/* URL attributes: the marker must not be able to choose the scheme. */
		{ "<a href=\"java@@v@@\">", "must start the value or follow a literal '/', '?', '#'" },
		{ "<a href=\" @@v@@\">", "must start the value" },
		{ "<a href=\"@@v@@@@id@@\">", "must start the value" },
		{ "<a href=\"@@v@@:alert(1)\">", "':' after a marker in URL attribute 'href'" },
		{ "<a href=\"@@v@@&#58;alert(1)\">", "'&' after a marker in URL attribute 'href'" },
		{ "<a href=\"&#106;avascript:@@v@@\">", "after an '&' that could spell a scheme" },
		{ "<a href=\"&#106;/@@v@@\">", "after an '&' that could spell a scheme" },
		{ "<a href=\"javascript:@@v@@\">", "after a scheme other than http, https or mailto" },
		{ "<a href=\"JavaScript:void(0)/@@v@@\">", "after a scheme other than http" },
		{ "<a href=\"data:text/html,@@v@@\">", "after a scheme other than http" },
		{ "<a href=\"httpsx:@@v@@\">", "after a scheme other than http" },
		/* The template must end in text. */
		{ "<p", "template ends in a tag name" },
		{ "<p title=\"x", "template ends inside a \"...\" attribute value" },
		{ "<!-- x", "template ends inside a comment" },
		{ "<script>x", "template ends inside <script>" },
		{ "<title>x", "template ends inside <title>/<textarea>" },
		{ "<", "template ends right after '<'" },
		/* The source must be UTF-8 without NUL. */
		{ "ok\n\xff", "line 2: template is not valid UTF-8" },
	};
	struct tmpl *t;
	char err[256];
	size_t i;

	for (i = 0; i < NELEM(cases); i++) {
		err[0] = '\0';
		t = parse(cases[i].src, err, sizeof(err));
		CHECK(t == NULL);
		if (strstr(err, cases[i].err) != NULL)
			check_passed++;
		else {
			check_failed++;
			fprintf(stderr, "test_template: template [%s]\n  error: [%s]\n  want:  [%s]\n", cases[i].src,
			    err, cases[i].err);
		}
		tmpl_free(t);
	}
	/* NUL inside the source. */
	t = tmpl_parse("a\0b", 3, keys, K__MAX, err, sizeof(err));
	CHECK(t == NULL);
	CHECK(strstr(err, "NUL byte") != NULL);
	/* A tiny error buffer truncates safely. */
	t = tmpl_parse("@@nope@@", 8, keys, K__MAX, err, 5);
	CHECK(t == NULL);
	CHECK_STR(err, "line");
}

/* Records the keys it is called with; writes through every output function. */
static int
cb_misc(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	int *mode = arg;

	switch (key) {
	case K_ID:
		tmpl_putf(ctx, "%d<%s>", 42, "b");
		return 0;
	case K_URL:
		/* Pieces form one value: the URL is checked as a whole. */
		tmpl_put(ctx, "java");
		tmpl_putn(ctx, "script:alert(1)xxx", 15);
		return 0;
	case K_NAME:
		return *mode == 1 ? -1 : 0;  /* abort on request */
	case K_V:
		CHECK_INT(tmpl_ctx_context(ctx), TMPL_CONTEXT_ATTR);
		tmpl_put(ctx, "a\"b");
		tmpl_put(ctx, NULL);  /* an absent value writes nothing */
		return 0;
	default:
		return 0;  /* unhandled keys render nothing */
	}
}

static void
test_render(void)
{
	struct buf out = BUF_INIT;
	struct tmpl *t;
	char err[256];
	int mode = 0;

	t = parse("<p>@@id@@|@@dq@@|@@name@@</p><a href=\"@@url@@\" title=\"@@v@@\">", err, sizeof(err));
	CHECK(t != NULL);
	if (t == NULL)
		return;
	CHECK_INT(tmpl_render(t, &out, cb_misc, &mode), 0);
	CHECK_STR(out.data, "<p>42&lt;b&gt;||</p><a href=\"#\" title=\"a&quot;b\">");
	buf_reset(&out);
	/* No callback: markers render nothing. */
	CHECK_INT(tmpl_render(t, &out, NULL, NULL), 0);
	CHECK_STR(out.data, "<p>||</p><a href=\"\" title=\"\">");
	buf_reset(&out);
	/* A non-zero callback aborts. */
	mode = 1;
	CHECK_INT(tmpl_render(t, &out, cb_misc, &mode), -1);
	tmpl_free(t);

	/* The same template renders repeatedly and appends. */
	t = parse("[@@id@@]", err, sizeof(err));
	CHECK(t != NULL);
	if (t == NULL)
		goto out;
	buf_reset(&out);
	mode = 0;
	CHECK_INT(tmpl_render(t, &out, cb_misc, &mode), 0);
	CHECK_INT(tmpl_render(t, &out, cb_misc, &mode), 0);
	CHECK_STR(out.data, "[42&lt;b&gt;][42&lt;b&gt;]");
	tmpl_free(t);
out:
	buf_free(&out);
}

struct nest {
	const struct tmpl *sub;
	int depth, max;
	int putbefore;
};

static int
cb_nest(size_t key, struct tmpl_ctx *ctx, void *arg)
{
	struct nest *n = arg;
	int rc;

	if (key != K_ROWS && key != K_V)
		return 0;
	if (n->putbefore)
		tmpl_put(ctx, "<before>");
	if (n->depth >= n->max)
		return 0;
	n->depth++;
	rc = tmpl_nest(ctx, n->sub, cb_nest, n);
	n->depth--;
	return rc;
}

static void
test_nest(void)
{
	struct buf out = BUF_INIT;
	struct tmpl *t, *attr, *title;
	struct nest n;
	char err[256];

	t = parse("<div>@@rows@@</div>", err, sizeof(err));
	attr = parse("<p title=\"@@v@@\"></p>", err, sizeof(err));
	title = parse("<title>@@rows@@</title>", err, sizeof(err));
	CHECK(t != NULL && attr != NULL && title != NULL);
	if (t == NULL || attr == NULL || title == NULL)
		goto out;

	/* Nested output is trusted markup; text put before a nest keeps its place and is escaped. */
	memset(&n, 0, sizeof(n));
	n.sub = t;
	n.max = 2;
	n.putbefore = 1;
	CHECK_INT(tmpl_render(t, &out, cb_nest, &n), 0);
	CHECK_STR(out.data, "<div>&lt;before&gt;<div>&lt;before&gt;<div>&lt;before&gt;</div></div></div>");

	/* Nesting is as deep as LIMIT_TEMPLATE_NEST_MAX, no deeper. */
	buf_reset(&out);
	n.putbefore = 0;
	n.max = LIMIT_TEMPLATE_NEST_MAX;
	CHECK_INT(tmpl_render(t, &out, cb_nest, &n), 0);
	buf_reset(&out);
	n.max = LIMIT_TEMPLATE_NEST_MAX + 1;
	CHECK_INT(tmpl_render(t, &out, cb_nest, &n), -1);

	/* Only at TEXT markers outside RCDATA. */
	buf_reset(&out);
	n.max = 1;
	CHECK_INT(tmpl_render(attr, &out, cb_nest, &n), -1);
	buf_reset(&out);
	CHECK_INT(tmpl_render(title, &out, cb_nest, &n), -1);

	/* A failing sub-rendering fails the whole: attr's ATTR marker tries to nest. */
	buf_reset(&out);
	n.sub = attr;
	n.max = 2;
	CHECK_INT(tmpl_render(t, &out, cb_nest, &n), -1);
out:
	tmpl_free(t);
	tmpl_free(attr);
	tmpl_free(title);
	buf_free(&out);
}

static char *
slurp(const char *path, size_t *len)
{
	char *data = NULL;
	long n;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (data = malloc((size_t)n + 1)) != NULL) {
		*len = fread(data, 1, (size_t)n, f);
		data[*len] = '\0';
	}
	fclose(f);
	return data;
}

static const char *
datadir(void)
{
	static char dir[1024];
	const char *srcdir = getenv("srcdir");

	snprintf(dir, sizeof(dir), "%s/tests/data/templates", srcdir != NULL ? srcdir : ".");
	return dir;
}

/* Golden files: render NAME.html and compare with NAME.out; bad-*.html must fail as NAME.err says. */
static void
test_golden(void)
{
	static const char *const good[] = { "contexts" };
	static const char *const bad[] = {
		"bad-unknown-key", "bad-script", "bad-style", "bad-comment", "bad-unquoted", "bad-attr-name",
		"bad-onclick", "bad-url-prefix", "bad-tag-open", "bad-unclosed",
	};
	struct tmpl *t = NULL, *row = NULL;
	struct buf out = BUF_INIT;
	struct page pg;
	char path[1200], err[512], *want;
	size_t i, len;

	snprintf(path, sizeof(path), "%s/row.html", datadir());
	row = tmpl_load(path, keys, K__MAX, err, sizeof(err));
	CHECK(row != NULL);
	if (row == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	for (i = 0; i < NELEM(good); i++) {
		snprintf(path, sizeof(path), "%s/%s.html", datadir(), good[i]);
		t = tmpl_load(path, keys, K__MAX, err, sizeof(err));
		CHECK(t != NULL);
		if (t == NULL) {
			fprintf(stderr, "%s\n", err);
			continue;
		}
		memset(&pg, 0, sizeof(pg));
		pg.row = row;
		buf_reset(&out);
		CHECK_INT(tmpl_render(t, &out, cb, &pg), 0);
		snprintf(path, sizeof(path), "%s/%s.out", datadir(), good[i]);
		want = slurp(path, &len);
		CHECK(want != NULL);
		if (want != NULL && out.data != NULL && strcmp(want, out.data) != 0) {
			fprintf(stderr, "golden %s differs; got:\n%s", good[i], out.data);
			check_failed++;
		} else
			check_passed++;
		free(want);
		tmpl_free(t);
	}
	for (i = 0; i < NELEM(bad); i++) {
		snprintf(path, sizeof(path), "%s/%s.err", datadir(), bad[i]);
		want = slurp(path, &len);
		CHECK(want != NULL);
		if (want == NULL)
			continue;
		if (len > 0 && want[len - 1] == '\n')
			want[len - 1] = '\0';
		snprintf(path, sizeof(path), "%s/%s.html", datadir(), bad[i]);
		t = tmpl_load(path, keys, K__MAX, err, sizeof(err));
		CHECK(t == NULL);
		/* err is "<path>: <message>" */
		if (strlen(err) > strlen(path) + 2 && strncmp(err, path, strlen(path)) == 0 &&
		    strcmp(err + strlen(path) + 2, want) == 0)
			check_passed++;
		else {
			check_failed++;
			fprintf(stderr, "golden %s:\n  error: [%s]\n  want:  [%s]\n", bad[i], err, want);
		}
		tmpl_free(t);
		free(want);
	}
	tmpl_free(row);
	buf_free(&out);
}

static void
test_load_and_set(void)
{
	static const char *const k1[] = { "item" };
	struct tmpl_def defs[] = {
		{ "row.html", keys, K__MAX },
		{ "contexts.html", keys, K__MAX },
	};
	struct tmpl_def bad[] = {
		{ "row.html", keys, K__MAX },
		{ "bad-script.html", keys, K__MAX },
	};
	struct tmpl_def missing[] = { { "no-such.html", k1, 1 } };
	struct tmpl_set *set;
	struct tmpl *t;
	char err[512], path[1200], *big;
	FILE *f;

	set = tmpl_set_load(datadir(), defs, NELEM(defs), err, sizeof(err));
	CHECK(set != NULL);
	if (set != NULL) {
		CHECK(tmpl_set_get(set, 0) != NULL);
		CHECK_INT(tmpl_context_of(tmpl_set_get(set, 0), K_ITEM), TMPL_CONTEXT_TEXT);
		CHECK_INT(tmpl_context_of(tmpl_set_get(set, 1), K_JS), TMPL_CONTEXT_URL);
		CHECK(tmpl_set_get(set, 2) == NULL);
		tmpl_set_free(set);
	}
	CHECK(tmpl_set_load(datadir(), bad, NELEM(bad), err, sizeof(err)) == NULL);
	CHECK(strstr(err, "bad-script.html: line 1: marker @@dq@@ inside <script>") != NULL);
	CHECK(tmpl_set_load(datadir(), missing, 1, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "no-such.html: cannot open") != NULL);
	/* A template with a key the table lacks fails at load: row.html uses "item". */
	defs[0].keys = keys;
	defs[0].nkeys = K_ITEM;  /* "item" is not among the first K_ITEM keys */
	CHECK(tmpl_set_load(datadir(), defs, 1, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "unknown key 'item'") != NULL);
	tmpl_set_free(NULL);

	/* Size limit: exactly LIMIT_TEMPLATE_SIZE_MAX loads, one byte more does not. */
	snprintf(path, sizeof(path), "/tmp/test_template.%ld.html", (long)getpid());
	big = malloc(LIMIT_TEMPLATE_SIZE_MAX + 1);
	if (big == NULL)
		abort();
	memset(big, 'x', LIMIT_TEMPLATE_SIZE_MAX + 1);
	if ((f = fopen(path, "wb")) != NULL) {
		fwrite(big, 1, LIMIT_TEMPLATE_SIZE_MAX, f);
		fclose(f);
		t = tmpl_load(path, keys, K__MAX, err, sizeof(err));
		CHECK(t != NULL);
		tmpl_free(t);
		f = fopen(path, "ab");
		if (f != NULL) {
			fputc('x', f);
			fclose(f);
		}
		CHECK(tmpl_load(path, keys, K__MAX, err, sizeof(err)) == NULL);
		CHECK(strstr(err, "larger than") != NULL);
		remove(path);
	} else
		CHECK(!"cannot write a temporary file");
	CHECK(tmpl_parse(big, LIMIT_TEMPLATE_SIZE_MAX + 1, keys, K__MAX, err, sizeof(err)) == NULL);
	free(big);
}

int
main(void)
{
	test_hostile_values();
	test_contexts();
	test_refusals();
	test_render();
	test_nest();
	test_golden();
	test_load_and_set();
	return CHECK_DONE("test_template");
}
