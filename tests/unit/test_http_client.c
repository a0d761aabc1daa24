/* test_http_client.c: the outbound HTTP wrapper against a tiny HTTP server on 127.0.0.1 run in a thread,
 * and a TLS acceptor with a self-signed certificate made in memory: status, headers, bodies, methods,
 * auth headers, User-Agent, keep-alive, the size cap, the timeout, redirects not followed, the URL policy,
 * certificate verification, connection refused, the form encoder and what the debug log leaves out. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "api/http_client.h"
#include "util/limits.h"
#include "util/log.h"

#include "check.h"

#define SRV_CONNS   8
#define SRV_REQ_MAX 65536

/* The plain HTTP server: one thread polling the listener and its connections, answering by path. The
 * client waits in http_do() while the server answers, so one request is in flight at a time. */
static struct {
	int             lfd;
	int             port;
	int             stop[2];      /* written to end the thread */
	pthread_t       th;
	pthread_mutex_t mu;           /* guards what follows */
	char            last[SRV_REQ_MAX + 1];  /* the last request, raw */
	int             accepts;
	int             requests;
} srv = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int
listen_loopback(int *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one whole request (headers, then Content-Length bytes of body) into b. 0, or -1 at EOF/error. */
static int
read_request(int fd, char *b, size_t cap, size_t *len)
{
	size_t n = 0, need = 0;
	char *end, *cl;
	ssize_t r;

	b[0] = '\0';
	for (;;) {
		if (need == 0 && (end = strstr(b, "\r\n\r\n")) != NULL) {
			need = (size_t)(end + 4 - b);
			if ((cl = strcasestr(b, "\r\nContent-Length:")) != NULL && cl < end)
				need += (size_t)strtoul(cl + 17, NULL, 10);
		}
		if (need > 0 && n >= need)
			break;
		if (n >= cap)
			return -1;
		if ((r = recv(fd, b + n, cap - n, 0)) <= 0)
			return -1;
		n += (size_t)r;
		b[n] = '\0';
	}
	*len = n;
	return 0;
}

static int
respond_bin(int fd, const char *status_and_headers, const void *body, size_t len)
{
	char msg[4096];
	int n;

	/* One send: a second small write would wait for the client's delayed ACK (Nagle). */
	n = snprintf(msg, sizeof(msg), "HTTP/1.1 %s\r\nContent-Length: %zu\r\n\r\n", status_and_headers, len);
	if (n <= 0 || (size_t)n + len >= sizeof(msg))
		return -1;
	memcpy(msg + n, body, len);
	return send_all(fd, msg, (size_t)n + len);
}

static int
respond(int fd, const char *status_and_headers, const char *body)
{
	return respond_bin(fd, status_and_headers, body, strlen(body));
}

/* gzip of "hello gzip", and of 1 MiB of zero bytes (1051 bytes: the zeros in the middle are filled in). */
static const unsigned char gz_hello[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57,
	0x48, 0xaf, 0xca, 0x2c, 0x00, 0x00, 0x19, 0x6a, 0xd2, 0xdf, 0x0a, 0x00, 0x00, 0x00
};
static const unsigned char gz_bomb_head[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xed, 0xc1, 0x31, 0x01, 0x00, 0x00,
	0x00, 0xc2, 0xa0, 0xf5, 0x4f, 0x6d, 0x08, 0x5f, 0xa0
};
static const unsigned char gz_bomb_tail[] = { 0x3e, 0x03, 0x1c, 0xea, 0x38, 0xa7, 0x00, 0x00, 0x10, 0x00 };
#define GZ_BOMB_LEN 1051

/* Streams n bytes of 'x' after head; used for the size cap. Stops quietly when the client hangs up. */
static void
stream(int fd, const char *head, size_t n)
{
	static char chunk[65536];

	memset(chunk, 'x', sizeof(chunk));
	if (send_all(fd, head, strlen(head)) != 0)
		return;
	while (n > 0) {
		size_t k = n < sizeof(chunk) ? n : sizeof(chunk);
		if (send_all(fd, chunk, k) != 0)
			return;
		n -= k;
	}
}

/* Serves one request on fd. 0 keeps the connection, -1 closes it. */
static int
serve(int fd)
{
	static char req[SRV_REQ_MAX + 1];
	char head[256];
	const char *path;
	size_t len;

	if (read_request(fd, req, SRV_REQ_MAX, &len) != 0)
		return -1;
	pthread_mutex_lock(&srv.mu);
	memcpy(srv.last, req, len + 1);
	srv.requests++;
	pthread_mutex_unlock(&srv.mu);

	path = strchr(req, ' ') ? strchr(req, ' ') + 1 : "";
	if (strncmp(path, "/ok", 3) == 0)
		return respond(fd, "200 OK\r\nContent-Type: application/json\r\n"
		    "X-Toggl-Quota-Remaining: 42\r\nx-toggl-quota-resets-in:   17  \r\n"
		    "X-Next-ID: 99\r\nX-Next-Row-Number: 12\r\nretry-after: 7\r\nRateLimit-Reset: 1700000000",
		    "{\"a\": 1}");
	if (strncmp(path, "/echo", 5) == 0)
		return respond(fd, "200 OK", "echo");
	if (strncmp(path, "/status/503", 11) == 0)
		return respond(fd, "503 Service Unavailable\r\nRetry-After: 30", "busy");
	if (strncmp(path, "/redir", 6) == 0) {
		snprintf(head, sizeof(head), "302 Found\r\nLocation: http://localhost:%d/ok", srv.port);
		return respond(fd, head, "");
	}
	if (strncmp(path, "/interim", 8) == 0) {
		static const char r[] = "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
		    "HTTP/1.1 200 OK\r\nX-Final: 2\r\nContent-Length: 2\r\n\r\nok";
		return send_all(fd, r, sizeof(r) - 1);
	}
	if (strncmp(path, "/gzip", 5) == 0)
		return respond_bin(fd, "200 OK\r\nContent-Encoding: gzip", gz_hello, sizeof(gz_hello));
	if (strncmp(path, "/gzbomb", 7) == 0) {
		unsigned char bomb[GZ_BOMB_LEN] = { 0 };
		memcpy(bomb, gz_bomb_head, sizeof(gz_bomb_head));
		memcpy(bomb + GZ_BOMB_LEN - sizeof(gz_bomb_tail), gz_bomb_tail, sizeof(gz_bomb_tail));
		return respond_bin(fd, "200 OK\r\nContent-Encoding: gzip", bomb, sizeof(bomb));
	}
	if (strncmp(path, "/hold", 5) == 0)
		return 0;  /* never answers: the client's timeout must fire */
	if (strncmp(path, "/big", 4) == 0) {
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n\r\n",
		    (long)LIMIT_HTTP_RESPONSE_MAX + 1);
		stream(fd, head, 65536);
		return -1;
	}
	if (strncmp(path, "/stream", 7) == 0) {
		/* No Content-Length: only the write callback can stop it. */
		stream(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 65536);
		return -1;
	}
	if (strncmp(path, "/huge", 5) == 0) {
		stream(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", (size_t)LIMIT_HTTP_RESPONSE_MAX + 65536);
		return -1;
	}
	return respond(fd, "404 Not Found", "no");
}

static void *
srv_main(void *arg)
{
	struct pollfd pf[2 + SRV_CONNS];
	int conn[SRV_CONNS], nconn = 0;
	struct timeval tv = { 5, 0 };

	(void)arg;
	for (;;) {
		pf[0].fd = srv.stop[0];
		pf[1].fd = srv.lfd;
		for (int i = 0; i < nconn; i++)
			pf[2 + i].fd = conn[i];
		for (int i = 0; i < 2 + nconn; i++)
			pf[i].events = POLLIN;
		if (poll(pf, (nfds_t)(2 + nconn), -1) < 0)
			continue;
		if (pf[0].revents)
			break;
		for (int i = nconn - 1; i >= 0; i--)
			if (pf[2 + i].revents && serve(conn[i]) != 0) {
				close(conn[i]);
				conn[i] = conn[--nconn];
			}
		if ((pf[1].revents & POLLIN) && nconn < SRV_CONNS) {
			int fd = accept(srv.lfd, NULL, NULL);
			if (fd >= 0) {
				/* A client that stalls must not hang the test. */
				setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
				conn[nconn++] = fd;
				pthread_mutex_lock(&srv.mu);
				srv.accepts++;
				pthread_mutex_unlock(&srv.mu);
			}
		}
	}
	for (int i = 0; i < nconn; i++)
		close(conn[i]);
	return NULL;
}

static int
srv_start(void)
{
	if ((srv.lfd = listen_loopback(&srv.port)) < 0 || pipe(srv.stop) != 0)
		return -1;
	return pthread_create(&srv.th, NULL, srv_main, NULL) == 0 ? 0 : -1;
}

static void
srv_stop(void)
{
	if (write(srv.stop[1], "x", 1) != 1)
		return;
	pthread_join(srv.th, NULL);
	close(srv.stop[0]);
	close(srv.stop[1]);
	close(srv.lfd);
}

static int
srv_count(int *which)
{
	int n;

	pthread_mutex_lock(&srv.mu);
	n = *which;
	pthread_mutex_unlock(&srv.mu);
	return n;
}

/* 1 if the last request the server saw contains s. */
static int
last_has(const char *s)
{
	int r;

	pthread_mutex_lock(&srv.mu);
	r = strstr(srv.last, s) != NULL;
	pthread_mutex_unlock(&srv.mu);
	return r;
}

static const char *
url(const char *path)
{
	static char u[256];

	snprintf(u, sizeof(u), "http://127.0.0.1:%d%s", srv.port, path);
	return u;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void
test_get(struct http_client *c)
{
	struct http_request rq = { .url = url("/ok?x=1") };
	struct http_response rs;

	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK_INT(rs.status, 200);
	CHECK_STR(rs.body.data, "{\"a\": 1}");
	CHECK_INT(rs.body.len, 8);
	CHECK(rs.total_ms > 0.0);
	CHECK_STR(http_header(&rs, "X-Toggl-Quota-Remaining"), "42");
	CHECK_STR(http_header(&rs, "X-TOGGL-QUOTA-RESETS-IN"), "17");  /* trimmed both sides */
	CHECK_STR(http_header(&rs, "x-next-id"), "99");
	CHECK_STR(http_header(&rs, "X-Next-Row-Number"), "12");
	CHECK_STR(http_header(&rs, "Retry-After"), "7");
	CHECK_STR(http_header(&rs, "ratelimit-reset"), "1700000000");
	CHECK_STR(http_header(&rs, "content-type"), "application/json");
	CHECK(http_header(&rs, "X-Missing") == NULL);
	CHECK(http_header(&rs, "X-Next") == NULL);  /* a prefix is not a match */
	CHECK(last_has("GET /ok?x=1 HTTP/1.1\r\n"));
	CHECK(last_has("\r\nUser-Agent: timebridge/" PACKAGE_VERSION " (+https://github.com/timebridge)\r\n"));
	CHECK(!last_has("Authorization"));
	http_response_free(&rs);
	CHECK(rs.headers == NULL && rs.body.data == NULL);

	/* A non-2xx status is a successful transfer: the caller interprets it. */
	rq.url = url("/status/503");
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK_INT(rs.status, 503);
	CHECK_STR(rs.body.data, "busy");
	CHECK_STR(http_header(&rs, "retry-after"), "30");
	http_response_free(&rs);

	/* Only the final response's headers are kept. */
	rq.url = url("/interim");
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK_INT(rs.status, 200);
	CHECK(http_header(&rs, "X-Interim") == NULL);
	CHECK_STR(http_header(&rs, "X-Final"), "2");
	CHECK_STR(rs.body.data, "ok");
	http_response_free(&rs);
}

static void
test_methods(struct http_client *c)
{
	static const char *const hdrs[] = { "X-Custom: yes", "Accept: application/json", NULL };
	struct http_request rq = { .method = "POST", .url = url("/echo"), .content_type = "application/json",
	    .body = "{\"k\":\"v\"}", .body_len = 9, .headers = hdrs };
	struct http_response rs;
	char big[2001];

	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK_INT(rs.status, 200);
	CHECK_STR(rs.body.data, "echo");
	CHECK(last_has("POST /echo HTTP/1.1\r\n"));
	CHECK(last_has("\r\nContent-Type: application/json\r\n"));
	CHECK(last_has("\r\nContent-Length: 9\r\n"));
	CHECK(last_has("\r\nX-Custom: yes\r\n"));
	CHECK(last_has("\r\nAccept: application/json\r\n"));
	CHECK(last_has("\r\n\r\n{\"k\":\"v\"}"));
	http_response_free(&rs);

	/* No content type given: curl's form type must not be claimed; a bigger body, no Expect. */
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rq.content_type = NULL;
	rq.headers = NULL;
	rq.body = big;
	rq.body_len = sizeof(big) - 1;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK(!last_has("Content-Type"));
	CHECK(!last_has("Expect"));
	CHECK(last_has("\r\nContent-Length: 2000\r\n"));
	http_response_free(&rs);

	rq.method = "PATCH";
	rq.content_type = "application/json";
	rq.body = "{}";
	rq.body_len = 2;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK(last_has("PATCH /echo HTTP/1.1\r\n"));
	CHECK(last_has("\r\n\r\n{}"));
	http_response_free(&rs);

	rq.method = "PUT";
	rq.body = NULL;
	rq.body_len = 0;
	rq.content_type = NULL;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK(last_has("PUT /echo HTTP/1.1\r\n"));
	CHECK(last_has("\r\nContent-Length: 0\r\n"));
	http_response_free(&rs);

	rq.method = "DELETE";
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK_INT(rs.status, 200);
	CHECK(last_has("DELETE /echo HTTP/1.1\r\n"));
	CHECK(!last_has("Content-Length"));
	http_response_free(&rs);

	/* GET again on the same handle: nothing of the DELETE lingers. */
	rq.method = "GET";
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK(last_has("GET /echo HTTP/1.1\r\n"));
	http_response_free(&rs);
}

static void
test_auth(struct http_client *c)
{
	struct http_request rq = { .url = url("/echo"), .basic_user = "user", .basic_pass = "pass" };
	struct http_response rs;

	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK(last_has("\r\nAuthorization: Basic dXNlcjpwYXNz\r\n"));  /* base64("user:pass") */
	http_response_free(&rs);

	/* Toggl's form: the token as user, "api_token" as password. */
	rq.basic_user = "0123456789abcdef";
	rq.basic_pass = "api_token";
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK(last_has("\r\nAuthorization: Basic MDEyMzQ1Njc4OWFiY2RlZjphcGlfdG9rZW4=\r\n"));
	http_response_free(&rs);

	rq.basic_user = NULL;
	rq.basic_pass = NULL;
	rq.bearer = "ya29.tok-en";
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK(last_has("\r\nAuthorization: Bearer ya29.tok-en\r\n"));
	http_response_free(&rs);

	/* The next request carries no credentials from the previous one. */
	rq.bearer = NULL;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK(!last_has("Authorization"));
	http_response_free(&rs);
}

static void
test_keepalive(void)
{
	struct http_client *c = http_client_new();
	struct http_request rq = { .url = url("/ok") };
	struct http_response rs;
	int before = srv_count(&srv.accepts);

	for (int i = 0; i < 3; i++) {
		CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
		http_response_free(&rs);
	}
	CHECK_INT(srv_count(&srv.accepts) - before, 1);
	http_client_free(c);
}

static void
test_cap(struct http_client *c)
{
	struct http_request rq = { .url = url("/stream"), .max_response = 1000 };
	struct http_response rs;

	/* No Content-Length: stopped by the write callback. */
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_TOO_LARGE);
	CHECK(rs.body.len <= 1000);
	http_response_free(&rs);

	/* Under the cap passes. */
	rq.url = url("/ok");
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	http_response_free(&rs);

	/* The default cap, announced by Content-Length: refused without reading the body. */
	rq.max_response = 0;
	rq.url = url("/big");
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_TOO_LARGE);
	CHECK(rs.body.len == 0);
	http_response_free(&rs);

	/* The default cap, streamed: the write callback again. */
	rq.url = url("/huge");
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_TOO_LARGE);
	CHECK(rs.body.len <= LIMIT_HTTP_RESPONSE_MAX);
	http_response_free(&rs);

	/* Compressed responses are decoded, and the cap counts decoded bytes: 1 KiB on the wire that
	 * inflates to 1 MiB is stopped. */
	rq.url = url("/gzip");
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK_STR(rs.body.data, "hello gzip");
	CHECK(last_has("\r\nAccept-Encoding: "));
	http_response_free(&rs);
	rq.url = url("/gzbomb");
	rq.max_response = 100000;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_TOO_LARGE);
	http_response_free(&rs);
	rq.max_response = 0;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK_INT(rs.body.len, 1 << 20);
	http_response_free(&rs);

	/* A caller cannot raise the cap. */
	rq.max_response = (size_t)LIMIT_HTTP_RESPONSE_MAX * 2;
	rq.url = url("/big");
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_TOO_LARGE);
	http_response_free(&rs);

	/* And the handle still works afterwards. */
	rq.url = url("/ok");
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK_INT(rs.status, 200);
	http_response_free(&rs);
}

static void
test_timeout(struct http_client *c)
{
	struct http_request rq = { .url = url("/hold"), .timeout_ms = 300 };
	struct http_response rs;
	double t0 = now_ms(), dt;

	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_TIMEOUT);
	dt = now_ms() - t0;
	CHECK(dt >= 250.0 && dt < 5000.0);
	CHECK_INT(rs.status, 0);
	http_response_free(&rs);
}

static void
test_redirect(struct http_client *c)
{
	struct http_request rq = { .url = url("/redir"), .bearer = "secret-bearer" };
	struct http_response rs;
	char want[128];
	int before = srv_count(&srv.requests);

	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	CHECK_INT(rs.status, 302);
	snprintf(want, sizeof(want), "http://localhost:%d/ok", srv.port);
	CHECK_STR(http_header(&rs, "Location"), want);
	CHECK_INT(srv_count(&srv.requests) - before, 1);  /* the Location was not visited */
	http_response_free(&rs);
}

static void
test_policy(struct http_client *c)
{
	static const char *const bad_urls[] = {
		"http://example.com/",              /* plain http off loopback */
		"HTTP://example.com/",
		"http://127.0.0.1.example.com/",
		"http://localhost.example.com/",
		"http://0x7f.0.0.1/",
		"http://[::2]/",
		"ftp://127.0.0.1/",
		"file:///etc/passwd",
		"gopher://127.0.0.1/",
		"https://user:pw@example.com/",     /* credentials would be logged */
		"https://example.com/a b",          /* no spaces or controls */
		"https://example.com/\r\nX: y",
		"https://",
		"",
		NULL
	};
	static const char *const crlf[] = { "X-A: b\r\nX-Injected: 1", NULL };
	static const char *const noname[] = { ": v", NULL };
	static const char *const nocolon[] = { "X-A b", NULL };
	struct http_request rq = { 0 };
	struct http_response rs;
	double t0;

	for (size_t i = 0; bad_urls[i] != NULL; i++) {
		rq.url = bad_urls[i];
		t0 = now_ms();
		CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);
		/* Refused before any connection: curl never ran. */
		CHECK(rs.total_ms == 0.0 && rs.status == 0);
		CHECK(now_ms() - t0 < 1000.0);
		http_response_free(&rs);
	}
	rq.url = NULL;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);
	http_response_free(&rs);

	rq.url = url("/echo");
	rq.method = "TRACE";
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);
	http_response_free(&rs);
	rq.method = "get";
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);
	http_response_free(&rs);
	rq.method = "GET";
	rq.body = "x";
	rq.body_len = 1;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);  /* GET carries no body */
	http_response_free(&rs);
	rq.method = "POST";
	rq.body = NULL;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);  /* a length without a body */
	http_response_free(&rs);
	rq.body_len = 0;

	rq.headers = crlf;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);
	http_response_free(&rs);
	rq.headers = noname;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);
	http_response_free(&rs);
	rq.headers = nocolon;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);
	http_response_free(&rs);
	rq.headers = NULL;
	rq.content_type = "text/plain\r\nX-Injected: 1";
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);
	http_response_free(&rs);
	rq.content_type = NULL;
	rq.bearer = "tok\nX-Injected: 1";
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);
	http_response_free(&rs);
	rq.bearer = NULL;
	rq.basic_user = "a:b";  /* RFC 7617: no colon in the user id */
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);
	http_response_free(&rs);
	rq.basic_user = "u";
	rq.basic_pass = "p\r\n";
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);
	http_response_free(&rs);

	/* Loopback spellings that are allowed. */
	rq.basic_user = NULL;
	rq.basic_pass = NULL;
	rq.method = NULL;
	{
		char u[128];
		snprintf(u, sizeof(u), "http://localhost:%d/echo", srv.port);
		rq.url = u;
		CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
		CHECK_INT(rs.status, 200);
		http_response_free(&rs);
	}
}

static void
test_refused(struct http_client *c)
{
	struct http_request rq = { 0 };
	struct http_response rs;
	char u[64];
	int port, fd = listen_loopback(&port);

	/* A port that was just free and is closed now: nothing listens there. */
	close(fd);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", port);
	rq.url = u;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_CONNECT);
	CHECK_INT(rs.status, 0);
	http_response_free(&rs);
}

/* TLS: an acceptor whose certificate (CN and SAN localhost/127.0.0.1) is self-signed, i.e. trusted by
 * no CA. The handshake must fail on our side whatever the host name. */
static struct {
	int      lfd;
	int      port;
	int      n;      /* connections to accept */
	SSL_CTX *ctx;
} tls;

static void *
tls_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < tls.n; i++) {
		int fd = accept(tls.lfd, NULL, NULL);
		SSL *ssl;

		if (fd < 0)
			continue;
		if ((ssl = SSL_new(tls.ctx)) != NULL) {
			SSL_set_fd(ssl, fd);
			if (SSL_accept(ssl) == 1)
				SSL_shutdown(ssl);
			SSL_free(ssl);
		}
		close(fd);
	}
	return NULL;
}

static SSL_CTX *
self_signed_ctx(void)
{
	SSL_CTX *ctx = NULL, *ret = NULL;
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	X509_NAME *nm;

	if ((pk = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pk);
	nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, nm);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1")) == NULL ||
	    X509_add_ext(x, ext, -1) != 1 || X509_sign(x, pk, EVP_sha256()) == 0)
		goto out;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL || SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, pk) != 1)
		goto out;
	ret = ctx;
	ctx = NULL;
out:
	SSL_CTX_free(ctx);
	X509_EXTENSION_free(ext);
	X509_free(x);
	EVP_PKEY_free(pk);
	return ret;
}

static void
test_tls(struct http_client *c)
{
	struct http_request rq = { 0 };
	struct http_response rs;
	pthread_t th;
	char u[64];

	if ((tls.ctx = self_signed_ctx()) == NULL || (tls.lfd = listen_loopback(&tls.port)) < 0) {
		printf("test_http_client: TLS case skipped: could not make a self-signed certificate\n");
		SSL_CTX_free(tls.ctx);
		return;
	}
	tls.n = 2;
	if (pthread_create(&th, NULL, tls_main, NULL) != 0) {
		CHECK(0);
		goto out;
	}
	/* The name matches the certificate, the issuer is trusted by nobody. */
	snprintf(u, sizeof(u), "https://localhost:%d/", tls.port);
	rq.url = u;
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_TLS);
	CHECK_INT(rs.status, 0);
	http_response_free(&rs);
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/", tls.port);
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_TLS);
	http_response_free(&rs);
	pthread_join(th, NULL);
out:
	close(tls.lfd);
	SSL_CTX_free(tls.ctx);
}

/* The debug line names method, URL without its query, status and time; never credentials or bodies. */
static void
test_log(struct http_client *c)
{
	static const char *const hdrs[] = { "X-Api-Key: SECRETHDR", NULL };
	struct http_request rq = { .method = "POST", .url = url("/echo?api_key=SECRETQ"),
	    .content_type = "text/plain", .body = "SECRETBODY", .body_len = 10, .bearer = "SECRETTOKEN",
	    .headers = hdrs, .log_ctx = "job 7" };
	struct http_response rs;
	char text[8192];
	size_t n;
	FILE *tf;
	int saved;

	fflush(stderr);
	if ((tf = tmpfile()) == NULL || (saved = dup(2)) < 0) {
		CHECK(0);
		if (tf)
			fclose(tf);
		return;
	}
	dup2(fileno(tf), 2);
	CHECK_INT(http_do(c, &rq, &rs), HTTP_OK);
	http_response_free(&rs);
	rq.url = "https://user:SECRETPW@example.com/";
	CHECK_INT(http_do(c, &rq, &rs), HTTP_ERR_URL);
	http_response_free(&rs);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tf);
	n = fread(text, 1, sizeof(text) - 1, tf);
	text[n] = '\0';
	fclose(tf);
	CHECK(strstr(text, "DEBUG job 7: http: POST http://127.0.0.1:") != NULL);
	CHECK(strstr(text, "/echo... -> 200 in ") != NULL);
	CHECK(strstr(text, "https://... -> request refused by policy") != NULL);
	CHECK(strstr(text, "SECRET") == NULL);
	if (strstr(text, "SECRET") != NULL)
		fprintf(stderr, "log was:\n%s", text);
}

static void
test_form(void)
{
	struct buf b = BUF_INIT;
	char longv[1001];

	http_form_add(&b, "grant_type", "authorization_code");
	CHECK_STR(b.data, "grant_type=authorization_code");
	http_form_add(&b, "code", "4/a b+c&d=\xc3\xa9~-._*");
	http_form_add(&b, "redirect_uri", "https://tb.example/oauth/callback?x=1");
	http_form_add(&b, "empty", "");
	CHECK_STR(b.data, "grant_type=authorization_code&code=4%2Fa%20b%2Bc%26d%3D%C3%A9~-._%2A"
	    "&redirect_uri=https%3A%2F%2Ftb.example%2Foauth%2Fcallback%3Fx%3D1&empty=");
	CHECK_INT(b.oom, 0);
	buf_wipe_free(&b);

	/* Growth well past the first block keeps every byte. */
	memset(longv, 'v', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	longv[500] = ' ';
	http_form_add(&b, "k e", longv);
	CHECK_INT(b.len, 6 + 1000 + 2);
	CHECK(strncmp(b.data, "k%20e=vvv", 9) == 0);
	CHECK(strstr(b.data, "v%20v") != NULL);
	CHECK_INT(b.data[b.len], '\0');
	buf_wipe_free(&b);

	http_escape(&b, "calendar@group.calendar.google.com");
	CHECK_STR(b.data, "calendar%40group.calendar.google.com");
	buf_free(&b);
}

static void
test_strerror(void)
{
	CHECK_STR(http_strerror(HTTP_OK), "ok");
	CHECK(strstr(http_strerror(HTTP_ERR_TOO_LARGE), "too large") != NULL);
	CHECK(strstr(http_strerror(HTTP_ERR_TLS), "TLS") != NULL);
	CHECK(strstr(http_strerror(HTTP_ERR_URL), "policy") != NULL);
	CHECK(strstr(http_strerror((enum http_err)99), "unknown") != NULL);
}

int
main(void)
{
	struct http_client *c;
	int rc;

	log_init("test_http_client", LOG_DEBUG);
	signal(SIGPIPE, SIG_IGN);
	test_form();
	test_strerror();
	if ((c = http_client_new()) == NULL || srv_start() != 0) {
		fprintf(stderr, "test_http_client: setup failed\n");
		return 1;
	}
	test_get(c);
	test_methods(c);
	test_auth(c);
	test_keepalive();
	test_redirect(c);
	test_policy(c);
	test_cap(c);
	test_timeout(c);
	test_refused(c);
	test_tls(c);
	test_log(c);
	http_client_free(c);
	srv_stop();
	http_global_cleanup();
	rc = CHECK_DONE("test_http_client");
	return rc;
}
