/* response.c: building the response: status, headers, bodies (JSON, text, HTML error pages, redirects).
 * Nothing is written until resp_finish(), so a handler can still change its mind. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <fcgiapp.h>

#include "http/html.h"
#include "http/http.h"
#include "util/conf.h"
#include "util/log.h"

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:  return "Status";
	}
}

void
resp_status(struct req *r, int status)
{
	r->status = status;
}

void
resp_header(struct req *r, const char *name, const char *fmt, ...)
{
	va_list ap;

	buf_puts(&r->headers, name);
	buf_puts(&r->headers, ": ");
	va_start(ap, fmt);
	buf_vprintf(&r->headers, fmt, ap);
	va_end(ap);
	buf_puts(&r->headers, "\r\n");
}

static int
dump_to_buf(const char *p, size_t n, void *arg)
{
	buf_append(arg, p, n);
	return ((struct buf *)arg)->oom ? -1 : 0;
}

void
resp_json(struct req *r, int status, json_t *body)
{
	r->status = status;
	r->out_type = "application/json";
	buf_reset(&r->out);
	if (body == NULL) {
		buf_puts(&r->out, "null");
		return;
	}
	/* JSON_REAL_PRECISION keeps hours readable (1.5, not 1.5000000000000002). */
	if (json_dump_callback(body, dump_to_buf, &r->out, JSON_COMPACT | JSON_REAL_PRECISION(10)) != 0 ||
	    r->out.oom) {
		r->status = 500;
		buf_reset(&r->out);
		buf_puts(&r->out, "{\"message\":\"out of memory\"}");
	}
	json_decref(body);
}

void
resp_text(struct req *r, int status, const char *text)
{
	r->status = status;
	r->out_type = "text/plain; charset=utf-8";
	buf_reset(&r->out);
	buf_puts(&r->out, text);
}

void
resp_json_error(struct req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp_json(r, status, json_pack("{s:s, s:{s:s, s:s}}", "message", msg, "error", "code", code,
	    "message", msg));
}

static int
wants_html(struct req *r)
{
	const char *accept = req_header(r, "Accept");

	return accept != NULL && strstr(accept, "text/html") != NULL;
}

void
resp_error(struct req *r, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* API routes (token or JSON) answer in the JSON error shape their clients, Grafana first, read. */
	if (http_route_flags(r->route) & (R_TOKEN | R_JSON)) {
		resp_json_error(r, status, status == 413 ? "TOO_LARGE" : status == 503 ? "DB_DOWN" :
		    status >= 500 ? "INTERNAL" : "BAD_REQUEST", "%s", msg);
		return;
	}
	r->status = status;
	buf_reset(&r->out);
	if (!wants_html(r)) {
		r->out_type = "text/plain; charset=utf-8";
		buf_printf(&r->out, "%d %s: %s\n", status, http_reason(status), msg);
		return;
	}
	r->out_type = "text/html; charset=utf-8";
	html_raw(&r->out, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	    "<link rel=\"stylesheet\" href=\"/static/app.css\"><title>");
	buf_printf(&r->out, "%d ", status);
	html_txt(&r->out, http_reason(status));
	html_raw(&r->out, " · timebridge</title></head><body class=\"error-page\"><main class=\"card\"><h1>");
	buf_printf(&r->out, "%d ", status);
	html_txt(&r->out, http_reason(status));
	html_raw(&r->out, "</h1><p>");
	html_txt(&r->out, msg);
	html_raw(&r->out, "</p><p><a href=\"/\">Back to the dashboard</a></p></main></body></html>\n");
}

const char *
http_local_path(const char *next, const char *fallback)
{
	if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\')
		return fallback;
	for (const char *p = next; *p; p++)
		if (*p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return fallback;
	return next;
}

void
resp_redirect(struct req *r, int status, const char *location)
{
	r->status = status;
	r->out_type = "text/plain; charset=utf-8";
	buf_reset(&r->out);
	/* Only local paths: an open redirect is a phishing tool. Header injection is ruled out too. */
	resp_header(r, "Location", "%s", http_local_path(location, "/"));
}

void
resp_cookie(struct req *r, const char *name, const char *value, long max_age_s, int http_only)
{
	resp_header(r, "Set-Cookie", "%s=%s; Path=/; Max-Age=%ld; SameSite=Lax%s%s", name, value, max_age_s,
	    http_only ? "; HttpOnly" : "", config_get()->public_https ? "; Secure" : "");
}

/* Write the whole response in one go. HEAD gets the headers only. */
void
resp_finish(struct req *r)
{
	struct buf h = BUF_INIT;

	if (r->status == 0)
		r->status = 200;
	buf_printf(&h, "Status: %d %s\r\n", r->status, http_reason(r->status));
	if (r->out.len > 0 || r->out_type)
		buf_printf(&h, "Content-Type: %s\r\n", r->out_type ? r->out_type : "text/plain; charset=utf-8");
	buf_printf(&h, "Content-Length: %zu\r\n", r->out.len);
	buf_puts(&h, "X-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: same-origin\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; style-src 'self'; "
	    "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'\r\n");
	if (config_get()->public_https)
		buf_puts(&h, "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n");
	if (r->no_store)
		buf_puts(&h, "Cache-Control: no-store\r\n");
	if (r->headers.len)
		buf_append(&h, r->headers.data, r->headers.len);
	buf_puts(&h, "\r\n");
	FCGX_PutStr(h.data, (int)h.len, r->fcgi->out);
	if (r->method != METHOD_HEAD && r->out.len)
		FCGX_PutStr(r->out.data, (int)r->out.len, r->fcgi->out);
	buf_free(&h);
}
