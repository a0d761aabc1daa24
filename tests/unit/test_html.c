/* test_html.c: the context-named escapers of src/http/html.c, byte for byte. */
#include "config.h"

#include <string.h>

#include "http/html.h"
#include "util/buf.h"

#include "check.h"

typedef void (*escaper)(struct buf *, const char *);
typedef void (*escapern)(struct buf *, const char *, size_t);

/* Escape s with f into a fresh buffer and compare with want. */
static void
expect(escaper f, const char *s, const char *want, int line)
{
	struct buf b = BUF_INIT;

	f(&b, s);
	if (b.data != NULL && strcmp(b.data, want) == 0)
		check_passed++;
	else {
		check_failed++;
		fprintf(stderr, "test_html.c:%d: input [%s]\n  got:  [%s]\n  want: [%s]\n", line, s,
		    b.data ? b.data : "(null)", want);
	}
	buf_free(&b);
}

static void
expectn(escapern f, const char *s, size_t n, const char *want, int line)
{
	struct buf b = BUF_INIT;

	f(&b, s, n);
	if (strcmp(b.data ? b.data : "", want) == 0)
		check_passed++;
	else {
		check_failed++;
		fprintf(stderr, "test_html.c:%d:\n  got:  [%s]\n  want: [%s]\n", line, b.data ? b.data : "(null)",
		    want);
	}
	buf_free(&b);
}

#define TXT(s, w)  expect(html_txt, (s), (w), __LINE__)
#define ATTR(s, w) expect(html_attr, (s), (w), __LINE__)
#define URL(s, w)  expect(html_url, (s), (w), __LINE__)
#define ARG(s, w)  expect(html_url_arg, (s), (w), __LINE__)

static void
test_txt(void)
{
	TXT("", "");
	TXT("plain text, nothing to do", "plain text, nothing to do");
	TXT("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;");
	TXT("a & b \"q\" 'q'", "a &amp; b &quot;q&quot; &#39;q&#39;");
	TXT("&amp;", "&amp;amp;");
	TXT("`=` stay", "`=` stay");
	TXT("tab\tnl\ncr\r", "tab\tnl\ncr\r");
	TXT("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* Malformed UTF-8 becomes U+FFFD byte by byte; a < after it is still escaped. */
	TXT("a\xff<b", "a\xef\xbf\xbd&lt;b");
	TXT("\xc0\xbcscript\xc0\xbe", "\xef\xbf\xbd\xef\xbf\xbdscript\xef\xbf\xbd\xef\xbf\xbd");
	TXT("\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd");
	TXT("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	expectn(html_txtn, "a\0<", 3, "a\xef\xbf\xbd&lt;", __LINE__);
	expectn(html_txtn, "<b>ignored", 3, "&lt;b&gt;", __LINE__);
}

static void
test_attr(void)
{
	ATTR("", "");
	ATTR("ordinary value", "ordinary value");
	ATTR("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;");
	ATTR("\" onmouseover=\"alert(1)", "&quot; onmouseover&#61;&quot;alert(1)");
	ATTR("' onmouseover='alert(1)", "&#39; onmouseover&#61;&#39;alert(1)");
	ATTR("`x`=y&z", "&#96;x&#96;&#61;y&amp;z");
	ATTR("tab\tnl\ncr\rdel\x7f esc\x1b", "tab&#009;nl&#010;cr&#013;del&#127; esc&#027;");
	ATTR("caf\xc3\xa9", "caf\xc3\xa9");
	ATTR("\xff", "\xef\xbf\xbd");
	expectn(html_attrn, "a\0b", 3, "a\xef\xbf\xbd" "b", __LINE__);
}

static void
test_url(void)
{
	/* Allowed: relative and http/https/mailto, any case; attribute-escaped. */
	URL("", "");
	URL("/", "/");
	URL("/users/42?tab=1&x=2#top", "/users/42?tab&#61;1&amp;x&#61;2#top");
	URL("page.html", "page.html");
	URL("../up", "../up");
	URL("?q=1", "?q&#61;1");
	URL("#frag", "#frag");
	URL("//cdn.example/x.js", "//cdn.example/x.js");
	URL("https://example.com/a?b=1&c=2", "https://example.com/a?b&#61;1&amp;c&#61;2");
	URL("http://example.com", "http://example.com");
	URL("HTTPS://EXAMPLE.COM", "HTTPS://EXAMPLE.COM");
	URL("HtTp://x", "HtTp://x");
	URL("mailto:a@b.example", "mailto:a@b.example");
	URL("MAILTO:a@b.example", "MAILTO:a@b.example");
	URL("/path/with:colon", "/path/with:colon");
	URL("?next=javascript:alert(1)", "?next&#61;javascript:alert(1)");
	URL("/a\"b'c<d>", "/a&quot;b&#39;c&lt;d&gt;");
	URL("  https://example.com/ \n", "https://example.com/");  /* trimmed like a browser does */
	URL("/caf\xc3\xa9", "/caf\xc3\xa9");

	/* Refused: every other scheme, and the tricks that spell one. */
	URL("javascript:alert(1)", "#");
	URL("JaVaScRiPt:alert(1)", "#");
	URL("JAVASCRIPT:alert(1)", "#");
	URL(" javascript:alert(1)", "#");
	URL("\x01javascript:alert(1)", "#");
	URL("java\tscript:alert(1)", "#");
	URL("java\nscript:alert(1)", "#");
	URL("java\rscript:alert(1)", "#");
	URL("javascript\t:alert(1)", "#");
	URL("&#106;avascript:alert(1)", "#");
	URL("&#x6A;avascript:alert(1)", "#");
	URL("javascript&colon;alert(1)", "#");
	URL("javascript&#58;alert(1)", "#");
	URL("jav&#x09;ascript:alert(1)", "#");
	URL("vbscript:msgbox(1)", "#");
	URL("data:text/html,<script>alert(1)</script>", "#");
	URL("DATA:text/html;base64,PHNjcmlwdD4=", "#");
	URL("file:///etc/passwd", "#");
	URL("ftp://x", "#");
	URL("httpx://x", "#");
	URL("http\\://x", "#");
	URL(":nothing", "#");
	URL("/o\x01k", "#");           /* a control inside */
	URL("/ok\x01", "/ok");         /* at the ends, trimmed as browsers do */
	URL("/ok\x7f", "#");
	URL("/\xff", "#");             /* invalid UTF-8 */
	URL("javascript%3Aalert(1)", "javascript%3Aalert(1)");  /* no scheme: a harmless relative path */
	expectn(html_urln, "javascript:alert(1)", 4, "java", __LINE__);
	expectn(html_urln, "/a\0javascript:", 14, "#", __LINE__);

	CHECK(html_url_allowed("https://x", 9));
	CHECK(!html_url_allowed("javascript:x", 12));
	CHECK(html_url_allowed("  /x  ", 6));
}

static void
test_url_arg(void)
{
	ARG("", "");
	ARG("AZaz09-._~", "AZaz09-._~");
	ARG("a b&c=d/e?f#g%h+i", "a%20b%26c%3Dd%2Fe%3Ff%23g%25h%2Bi");
	ARG("<script>alert(1)</script>", "%3Cscript%3Ealert%281%29%3C%2Fscript%3E");
	ARG("\"'`", "%22%27%60");
	ARG("javascript:alert(1)", "javascript%3Aalert%281%29");
	ARG("caf\xc3\xa9", "caf%C3%A9");
	expectn(html_url_argn, "a\0b", 3, "a%00b", __LINE__);
	expectn(html_url_argn, "\xff\x01", 2, "%FF%01", __LINE__);
}

static void
test_raw(void)
{
	struct buf b = BUF_INIT;

	/* html_raw() takes string literals only: html_raw(&b, variable) does not compile. */
	html_raw(&b, "<!doctype html>");
	html_raw(&b, "<p>" "joined" "</p>");
	CHECK_STR(b.data, "<!doctype html><p>joined</p>");
	/* NULL (an absent optional value) writes nothing in every context. */
	html_txt(&b, NULL);
	html_attr(&b, NULL);
	html_url(&b, NULL);
	html_url_arg(&b, NULL);
	CHECK_STR(b.data, "<!doctype html><p>joined</p>");
	buf_free(&b);
}

int
main(void)
{
	test_txt();
	test_attr();
	test_url();
	test_url_arg();
	test_raw();
	return CHECK_DONE("test_html");
}
