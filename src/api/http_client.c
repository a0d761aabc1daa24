/* http_client.c: the hardened libcurl wrapper for every outbound call (policy: see http_client.h). */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api/http_client.h"
#include "util/conf.h"
#include "util/limits.h"
#include "util/log.h"

/* CURLOPT_PROTOCOLS_STR and CURLOPT_REDIR_PROTOCOLS_STR appeared in 7.85. */
#if LIBCURL_VERSION_NUM < 0x075500
#error "libcurl 7.85 or later is required"
#endif

#define HTTP_USER_AGENT "timebridge/" PACKAGE_VERSION " (+https://github.com/timebridge)"

struct http_client {
	CURL *curl;
	char  errbuf[CURL_ERROR_SIZE];  /* curl's detail for the last failure, logged at debug */
};

/* What the callbacks of one transfer share. */
struct xfer {
	struct http_response *resp;
	size_t                cap;        /* headers + body bytes allowed */
	size_t                received;   /* headers + body bytes seen so far */
	int                   too_large;  /* the cap stopped the transfer */
	int                   oom;        /* an allocation failed in a callback */
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc = CURLE_FAILED_INIT;

static void
http_global_init(void)
{
	struct sigaction sa;

	http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	/* CURLOPT_NOSIGNAL (required with threads) makes SIGPIPE the application's business: a peer that
	 * closes mid-write must not kill the process. A disposition someone chose is left alone. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
}

void
http_global_cleanup(void)
{
	if (http_global_rc == CURLE_OK)
		curl_global_cleanup();
	http_global_rc = CURLE_FAILED_INIT;
}

struct http_client *
http_client_new(void)
{
	struct http_client *c = NULL, *ret = NULL;

	if (pthread_once(&http_once, http_global_init) != 0 || http_global_rc != CURLE_OK) {
		log_error(NULL, "http: curl_global_init failed");
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_error(NULL, "http: out of memory");
		goto out;
	}
	if ((c->curl = curl_easy_init()) == NULL) {
		log_error(NULL, "http: curl_easy_init failed");
		goto out;
	}
	ret = c;
	c = NULL;
out:
	http_client_free(c);
	return ret;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	free(c);
}

const char *
http_strerror(enum http_err e)
{
	switch (e) {
	case HTTP_OK:            return "ok";
	case HTTP_ERR_CONNECT:   return "could not connect";
	case HTTP_ERR_TIMEOUT:   return "timed out";
	case HTTP_ERR_TLS:       return "TLS handshake or certificate verification failed";
	case HTTP_ERR_TOO_LARGE: return "response too large";
	case HTTP_ERR_URL:       return "request refused by policy (URL, method or header)";
	case HTTP_ERR_OTHER:     return "HTTP transfer failed";
	}
	return "unknown HTTP error";
}

static int
is_unreserved(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	    ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

void
http_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	size_t n = 0;
	char pct[3];

	/* Size first, so the whole value lands in one (wiping) growth. */
	for (p = (const unsigned char *)s; *p; p++)
		n += is_unreserved(*p) ? 1 : 3;
	if (buf_reserve_wiped(b, n) != 0)
		return;
	for (p = (const unsigned char *)s; *p; p++) {
		if (is_unreserved(*p)) {
			buf_putc(b, (char)*p);
			continue;
		}
		/* %20 rather than '+' for a space: every form decoder reads it, and so do plain
		 * percent-decoders (query strings, path segments). */
		pct[0] = '%';
		pct[1] = hex[*p >> 4];
		pct[2] = hex[*p & 15];
		buf_append(b, pct, 3);
	}
	OPENSSL_cleanse(pct, sizeof(pct));
}

void
http_form_add(struct buf *b, const char *key, const char *val)
{
	if (b->len > 0 && buf_reserve_wiped(b, 1) == 0)
		buf_putc(b, '&');
	http_escape(b, key);
	if (buf_reserve_wiped(b, 1) == 0)
		buf_putc(b, '=');
	http_escape(b, val);
}

const char *
http_header(const struct http_response *resp, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < resp->nheaders; i++) {
		const char *h = resp->headers[i];
		if (strncasecmp(h, name, n) == 0 && h[n] == ':')
			return h[n + 1] == ' ' ? h + n + 2 : h + n + 1;
	}
	return NULL;
}

static void
headers_clear(struct http_response *resp)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		free(resp->headers[i]);
	free(resp->headers);
	resp->headers = NULL;
	resp->nheaders = 0;
}

void
http_response_free(struct http_response *resp)
{
	if (resp == NULL)
		return;
	headers_clear(resp);
	/* Token endpoints answer with secrets in the body. */
	buf_wipe_free(&resp->body);
	memset(resp, 0, sizeof(*resp));
}

/* Counts n more bytes against the cap. 0 if they fit. */
static int
xfer_count(struct xfer *x, size_t n)
{
	if (x->received > x->cap || n > x->cap - x->received) {
		x->too_large = 1;
		return -1;
	}
	x->received += n;
	return 0;
}

/* CURLOPT_HEADERFUNCTION: one complete header line per call, status lines included. Keeps the headers of
 * the last response only (a 100 Continue's are dropped). Returning short aborts the transfer. */
static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	struct http_response *resp = x->resp;
	size_t len = size * nmemb, nlen, vlen;
	const char *colon, *v;
	char *line, **hs;

	if (xfer_count(x, len) != 0)
		return 0;
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		headers_clear(resp);
		return size * nmemb;
	}
	/* Blank end of headers, obsolete line folding (RFC 9112 lets us ignore it) and junk without a
	 * colon are not kept. */
	if (len == 0 || p[0] == ' ' || p[0] == '\t' || (colon = memchr(p, ':', len)) == NULL || colon == p)
		return size * nmemb;
	nlen = (size_t)(colon - p);
	for (v = colon + 1; v < p + len && (*v == ' ' || *v == '\t'); v++)
		;
	vlen = (size_t)(p + len - v);
	if ((line = malloc(nlen + 2 + vlen + 1)) == NULL)
		goto oom;
	memcpy(line, p, nlen);
	memcpy(line + nlen, ": ", 2);
	memcpy(line + nlen + 2, v, vlen);
	line[nlen + 2 + vlen] = '\0';
	if ((hs = realloc(resp->headers, (resp->nheaders + 1) * sizeof(*hs))) == NULL) {
		free(line);
		goto oom;
	}
	resp->headers = hs;
	resp->headers[resp->nheaders++] = line;
	return size * nmemb;
oom:
	x->oom = 1;
	return 0;
}

/* CURLOPT_WRITEFUNCTION: the response size cap is enforced here, on the decoded bytes, whatever the
 * server announced (CURLOPT_MAXFILESIZE only rejects early on an honest Content-Length). */
static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nmemb;

	if (xfer_count(x, len) != 0)
		return 0;
	if (buf_reserve_wiped(&x->resp->body, len) != 0) {
		x->oom = 1;
		return 0;
	}
	buf_append(&x->resp->body, p, len);
	return len;
}

/* Checks url against the policy and parses it once with curl's own parser, which is what the transfer then
 * uses (CURLOPT_CURLU), so the host we approved is the host curl connects to. *plain is set for http://. */
static enum http_err
url_check(const char *url, CURLU **out, int *plain)
{
	enum http_err rc = HTTP_ERR_URL;
	char *scheme = NULL, *host = NULL, *user = NULL, check[300];
	CURLU *u = NULL;

	if (url == NULL || config_url_ok(url) != 0)
		goto out;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			goto out;
	if ((u = curl_url()) == NULL) {
		rc = HTTP_ERR_OTHER;
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	/* Credentials in a URL would be logged; config_url_ok() refuses them too. */
	if (curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER)
		goto out;
	if (strcmp(scheme, "https") == 0) {
		*plain = 0;
	} else if (strcmp(scheme, "http") == 0) {
		/* Loopback again, on the host as curl read it: two parsers must agree. */
		if ((size_t)snprintf(check, sizeof(check), "http://%s/", host) >= sizeof(check) ||
		    config_url_ok(check) != 0)
			goto out;
		*plain = 1;
	} else {
		goto out;
	}
	*out = u;
	u = NULL;
	rc = HTTP_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

/* No CR, LF or other control character (header injection), and short enough to be a header. */
static int
field_ok(const char *s)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return 0;
	return n <= LIMIT_HEADER_MAX;
}

/* "Name: value" with a token name. */
static int
header_ok(const char *h)
{
	const char *colon = strchr(h, ':');

	if (colon == NULL || colon == h || !field_ok(h))
		return 0;
	for (const char *p = h; p < colon; p++)
		if (!is_unreserved((unsigned char)*p) && strchr("!#$%&'*+^`|", *p) == NULL)
			return 0;
	return 1;
}

/* Appends a copy of s to *list. 0 or -1. */
static int
slist_add(struct curl_slist **list, const char *s)
{
	struct curl_slist *l;

	if ((l = curl_slist_append(*list, s)) == NULL)
		return -1;
	*list = l;
	return 0;
}

/* Builds "Authorization: ..." and appends it. The plain credentials and the header we built are wiped;
 * the list copy is wiped by slist_wipe_free(). 0 or -1. */
static int
auth_header(struct curl_slist **list, const struct http_request *req)
{
	static const char basic[] = "Authorization: Basic ", bearer[] = "Authorization: Bearer ";
	const char *pass = req->basic_pass ? req->basic_pass : "";
	unsigned char *plain = NULL;
	char *hdr = NULL;
	size_t ul, pl, n = 0, hsz = 0;
	int rc = -1;

	if (req->basic_user != NULL) {
		ul = strlen(req->basic_user);
		pl = strlen(pass);
		n = ul + 1 + pl;
		if ((plain = malloc(n)) == NULL)
			goto out;
		memcpy(plain, req->basic_user, ul);
		plain[ul] = ':';
		memcpy(plain + ul + 1, pass, pl);
		hsz = sizeof(basic) + 4 * ((n + 2) / 3);
		if ((hdr = malloc(hsz)) == NULL)
			goto out;
		memcpy(hdr, basic, sizeof(basic) - 1);
		/* n is bounded by field_ok(): no int overflow. */
		EVP_EncodeBlock((unsigned char *)hdr + sizeof(basic) - 1, plain, (int)n);
	} else {
		hsz = sizeof(bearer) + strlen(req->bearer);
		if ((hdr = malloc(hsz)) == NULL)
			goto out;
		snprintf(hdr, hsz, "%s%s", bearer, req->bearer);
	}
	rc = slist_add(list, hdr);
out:
	if (plain != NULL) {
		OPENSSL_cleanse(plain, n);
		free(plain);
	}
	if (hdr != NULL) {
		OPENSSL_cleanse(hdr, hsz);
		free(hdr);
	}
	return rc;
}

/* Every header we sent may carry a secret (Authorization, API keys in custom headers). */
static void
slist_wipe_free(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l != NULL; l = l->next)
		OPENSSL_cleanse(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

/* Request headers: the caller's, Content-Type, authorization, and "Expect:" (no 100-continue round trip
 * for larger bodies). HTTP_OK, HTTP_ERR_URL for a malformed header or credential, HTTP_ERR_OTHER on OOM. */
static enum http_err
build_headers(const struct http_request *req, struct curl_slist **list)
{
	enum http_err rc = HTTP_ERR_URL;
	int have_ct = 0;
	struct buf ct = BUF_INIT;

	if (req->headers != NULL)
		for (const char *const *h = req->headers; *h != NULL; h++) {
			if (!header_ok(*h))
				goto out;
			if (strncasecmp(*h, "Content-Type:", 13) == 0)
				have_ct = 1;
		}
	if (req->content_type != NULL && (!field_ok(req->content_type) || have_ct))
		goto out;
	if (req->basic_user != NULL &&
	    (req->bearer != NULL || strchr(req->basic_user, ':') != NULL || !field_ok(req->basic_user) ||
	     (req->basic_pass != NULL && !field_ok(req->basic_pass))))
		goto out;
	if (req->bearer != NULL && (!field_ok(req->bearer) || req->bearer[0] == '\0'))
		goto out;

	rc = HTTP_ERR_OTHER;
	if (req->headers != NULL)
		for (const char *const *h = req->headers; *h != NULL; h++)
			if (slist_add(list, *h) != 0)
				goto out;
	if (req->content_type != NULL) {
		buf_printf(&ct, "Content-Type: %s", req->content_type);
		if (ct.oom || slist_add(list, ct.data) != 0)
			goto out;
	} else if (!have_ct && slist_add(list, "Content-Type:") != 0) {
		/* "Content-Type:" removes the form type curl would otherwise claim for any body. */
		goto out;
	}
	if (slist_add(list, "Expect:") != 0)
		goto out;
	if ((req->basic_user != NULL || req->bearer != NULL) && auth_header(list, req) != 0)
		goto out;
	rc = HTTP_OK;
out:
	buf_free(&ct);
	return rc;
}

static enum http_err
map_curl(CURLcode cc, const struct xfer *x)
{
	if (cc == CURLE_OK)
		return HTTP_OK;
	if (x->too_large)
		return HTTP_ERR_TOO_LARGE;
	if (x->oom)
		return HTTP_ERR_OTHER;
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return HTTP_ERR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_ERR_TIMEOUT;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_ERR_TOO_LARGE;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_USE_SSL_FAILED:
		return HTTP_ERR_TLS;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return HTTP_ERR_URL;
	default:
		return HTTP_ERR_OTHER;
	}
}

/* Method name as sent, NULL if not one we allow. */
static const char *
method_name(const char *m)
{
	static const char *const ok[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };

	if (m == NULL)
		return "GET";
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(m, ok[i]) == 0)
			return ok[i];
	return NULL;
}

/* Sets one option; any failure ends the request with HTTP_ERR_OTHER. */
#define SETOPT(opt, val) do { \
	if ((cc = curl_easy_setopt(c->curl, (opt), (val))) != CURLE_OK) \
		goto out; \
} while (0)

enum http_err
http_do(struct http_client *c, const struct http_request *req, struct http_response *resp)
{
	enum http_err rc = HTTP_ERR_URL;
	struct curl_slist *hdrs = NULL;
	struct xfer x;
	CURLU *u = NULL;
	CURLcode cc = CURLE_OK;
	curl_off_t us = 0;
	const char *method, *url = req->url ? req->url : "";
	size_t cap;
	int plain = 0, performed = 0;

	memset(resp, 0, sizeof(*resp));
	memset(&x, 0, sizeof(x));
	c->errbuf[0] = '\0';
	method = method_name(req->method);
	cap = req->max_response > 0 && req->max_response < LIMIT_HTTP_RESPONSE_MAX ?
	    req->max_response : LIMIT_HTTP_RESPONSE_MAX;
	x.resp = resp;
	x.cap = cap;

	if (method == NULL || (strcmp(method, "GET") == 0 && req->body_len > 0) ||
	    (req->body == NULL && req->body_len > 0) || req->timeout_ms < 0 || req->connect_timeout_ms < 0)
		goto out;
	if ((rc = url_check(req->url, &u, &plain)) != HTTP_OK)
		goto out;
	if ((rc = build_headers(req, &hdrs)) != HTTP_OK)
		goto out;

	rc = HTTP_ERR_OTHER;
	SETOPT(CURLOPT_CURLU, u);
	/* The policy. https only, or http only (the URL check allowed it for loopback), redirects off and
	 * limited to the same protocols anyway. */
	SETOPT(CURLOPT_PROTOCOLS_STR, plain ? "http" : "https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, plain ? "http" : "https");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
	SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (plain)
		SETOPT(CURLOPT_NOPROXY, "*");  /* a proxy cannot reach our loopback */
	SETOPT(CURLOPT_NOSIGNAL, 1L);      /* threads: no SIGALRM for resolver timeouts */
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms > 0 ? req->connect_timeout_ms :
	    (long)LIMIT_HTTP_CONNECT_MS);
	SETOPT(CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : (long)LIMIT_HTTP_TOTAL_MS);
	SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
	/* Decoded bytes reach on_body(), so the cap also bounds a compression bomb. */
	SETOPT(CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(CURLOPT_USERAGENT, HTTP_USER_AGENT);
	SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
	SETOPT(CURLOPT_HTTPHEADER, hdrs);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, &x);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, &x);

	if (strcmp(method, "GET") == 0) {
		SETOPT(CURLOPT_HTTPGET, 1L);
	} else {
		if (strcmp(method, "POST") != 0)
			SETOPT(CURLOPT_CUSTOMREQUEST, method);
		/* POSTFIELDS always set for a body-carrying method, "" when empty: without it curl would read
		 * the body from stdin. DELETE sends a body only when given one. */
		if (strcmp(method, "DELETE") != 0 || req->body_len > 0) {
			SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
			SETOPT(CURLOPT_POSTFIELDS, req->body_len > 0 ? req->body : "");
		}
	}

	cc = curl_easy_perform(c->curl);
	performed = 1;
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (curl_easy_getinfo(c->curl, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK)
		resp->total_ms = (double)us / 1000.0;
	rc = map_curl(cc, &x);
	if (rc == HTTP_OK && resp->body.oom)
		rc = HTTP_ERR_OTHER;
out:
	if (rc != HTTP_OK && !performed && cc != CURLE_OK)
		snprintf(c->errbuf, sizeof(c->errbuf), "setopt: %s", curl_easy_strerror(cc));
	if (log_enabled(LOG_DEBUG)) {
		/* The query may carry keys or tokens; a refused URL may carry credentials: the host goes too. */
		size_t n = strcspn(url, "?#");
		const char *sch = strstr(url, "://");
		if (memchr(url, '@', n) != NULL)
			n = sch != NULL && (size_t)(sch - url) < n ? (size_t)(sch - url) + 3 : 0;
		if (rc == HTTP_OK)
			log_debug(req->log_ctx, "http: %s %.*s%s -> %ld in %.0f ms", method, (int)n, url,
			    url[n] ? "..." : "", resp->status, resp->total_ms);
		else
			log_debug(req->log_ctx, "http: %s %.*s%s -> %s%s%s%s in %.0f ms",
			    method ? method : "(bad method)", (int)n, url, url[n] ? "..." : "",
			    http_strerror(rc), c->errbuf[0] ? " (" : "", c->errbuf, c->errbuf[0] ? ")" : "",
			    resp->total_ms);
	}
	/* Drop every option, so the handle holds no pointer into this request (URL handle, body, header
	 * list); live connections, DNS and TLS session caches survive the reset. */
	curl_easy_reset(c->curl);
	slist_wipe_free(hdrs);
	curl_url_cleanup(u);
	return rc;
}
