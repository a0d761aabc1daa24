#!/usr/bin/env bash
# nginx/render-dev.sh: turn the shipped nginx/timebridge.conf or nginx/Caddyfile into a config that runs
# unprivileged on loopback, for ./dev run, the e2e tests and bench/http.sh. Only listen ports, upstream
# sockets and file paths are rewritten; the locations, limits and timeouts stay exactly as shipped.
#
#   render-dev.sh nginx OUTDIR --http-port N --https-port N --redirect-port N --socket S [--socket S ...]
#                 --www DIR --cert FILE --key FILE [--workers N] [--extra 'nginx directives'] [--site FILE]
#       writes OUTDIR/nginx.conf (a small main config) and OUTDIR/timebridge.conf (the rendered site);
#       run it with: nginx -p OUTDIR -c OUTDIR/nginx.conf -e OUTDIR/logs/error.log
#       The TLS server gets a second, plain listener on --http-port (for local use); the port-80 server
#       (the redirect to https) moves to --redirect-port. --extra goes into the main server (bench only).
#       --site renders another copy of the site file (default: nginx/timebridge.conf beside this script).
#   render-dev.sh caddy OUTDIR --http-port N --socket S [--socket S ...] --www DIR
#       writes OUTDIR/Caddyfile with auto_https and the admin endpoint off;
#       run it with: XDG_DATA_HOME=OUTDIR XDG_CONFIG_HOME=OUTDIR caddy run --adapter caddyfile --config OUTDIR/Caddyfile
# A socket S is an absolute Unix socket path or HOST:PORT.
# shellcheck disable=SC2015 # `a && b || die` is the intended form
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { printf 'render-dev.sh: %s\n' "$*" >&2; exit 2; }

kind=${1:-}
out=${2:-}
[ -n "$kind" ] && [ -n "$out" ] || die "usage: render-dev.sh nginx|caddy OUTDIR options..."
shift 2

http_port='' https_port='' redirect_port='' www='' cert='' key='' extra='' workers=1 site=$here/timebridge.conf
sockets=()
while [ $# -gt 0 ]; do
	case "$1" in
	--http-port) http_port=$2 ;;
	--https-port) https_port=$2 ;;
	--redirect-port) redirect_port=$2 ;;
	--socket) sockets+=("$2") ;;
	--www) www=$2 ;;
	--cert) cert=$2 ;;
	--key) key=$2 ;;
	--extra) extra=$2 ;;
	--workers) workers=$2 ;;
	--site) site=$2 ;;
	*) die "unknown option $1" ;;
	esac
	shift 2
done
[ -n "$http_port" ] && [ ${#sockets[@]} -gt 0 ] && [ -n "$www" ] || die "--http-port, --socket and --www are required"
mkdir -p "$out"
out=$(cd "$out" && pwd)
www=$(cd "$www" && pwd)

# Addresses as each server writes them: nginx "unix:/path" or "host:port", Caddy "unix//path" or "host:port".
nginx_addrs='' caddy_addrs=''
for s in "${sockets[@]}"; do
	case "$s" in
	/*) nginx_addrs+="unix:$s " caddy_addrs+="unix/$s " ;;
	*) nginx_addrs+="$s " caddy_addrs+="$s " ;;
	esac
done

# render SRC DST: the awk below does the rewriting; everything it needs comes through the environment
# (ENVIRON keeps backslashes and slashes literal).
render_nginx() {
	R_HTTP=$http_port R_HTTPS=$https_port R_REDIRECT=$redirect_port R_ADDRS=$nginx_addrs R_EXTRA=$extra \
	R_WWW="$www/" R_CERT=$cert R_KEY=$key R_ACME="$out/acme" awk '
	function lit(s, from, to,   i) {            # replace every literal occurrence of from by to
		while ((i = index(s, from)) > 0) s = substr(s, 1, i - 1) to substr(s, i + length(from))
		return s
	}
	function indent(s) { match(s, /^[ \t]*/); return substr(s, 1, RLENGTH) }
	/^[ \t]*listen \[::\]:/ { next }                       # loopback IPv4 only
	/^[ \t]*listen 80;/ {
		print indent($0) "listen 127.0.0.1:" ENVIRON["R_REDIRECT"] ";"; seen["redirect"]++; next
	}
	/^[ \t]*listen 443 ssl http2;/ {
		ind = indent($0)
		print ind "listen 127.0.0.1:" ENVIRON["R_HTTPS"] " ssl http2;"
		print ind "listen 127.0.0.1:" ENVIRON["R_HTTP"] ";"
		if (ENVIRON["R_EXTRA"] != "") print ind ENVIRON["R_EXTRA"]
		seen["tls"]++; next
	}
	/^[ \t]*server unix:\/run\/timebridge\/fcgi\.sock/ {
		ind = indent($0); line = $0
		sub(/^[ \t]*server unix:\/run\/timebridge\/fcgi\.sock/, "", line)   # keep the parameters
		n = split(ENVIRON["R_ADDRS"], a, " ")
		for (i = 1; i <= n; i++) print ind "server " a[i] line
		seen["upstream"]++; next
	}
	{
		s = $0
		s = lit(s, "/usr/share/timebridge/www/", ENVIRON["R_WWW"])
		s = lit(s, "/etc/ssl/timebridge/fullchain.pem", ENVIRON["R_CERT"])
		s = lit(s, "/etc/ssl/timebridge/privkey.pem", ENVIRON["R_KEY"])
		s = lit(s, "/var/www/acme", ENVIRON["R_ACME"])
		print s
	}
	END {
		if (!seen["redirect"] || !seen["tls"] || !seen["upstream"]) {
			print "render-dev.sh: the site file no longer has the lines it rewrites" > "/dev/stderr"
			exit 1
		}
	}' "$1" >"$2"
}

case "$kind" in
nginx)
	[ -n "$https_port" ] && [ -n "$redirect_port" ] && [ -n "$cert" ] && [ -n "$key" ] \
		|| die "nginx needs --https-port, --redirect-port, --cert and --key"
	mkdir -p "$out/logs" "$out/tmp" "$out/acme"
	render_nginx "$site" "$out/timebridge.conf"
	if grep -nE '^[^#]*(/run/timebridge|/etc/ssl/timebridge|/usr/share/timebridge|listen (80|443))' "$out/timebridge.conf" >&2; then
		die "unrewritten production paths or ports left in $out/timebridge.conf"
	fi
	# The site includes fastcgi_params by relative name, as on a Debian host.
	cp /etc/nginx/fastcgi_params /etc/nginx/mime.types "$out/"
	cat >"$out/nginx.conf" <<EOF
# Generated by nginx/render-dev.sh: the main config around the rendered nginx/timebridge.conf.
daemon off;
worker_processes $workers;
pid $out/nginx.pid;
error_log $out/logs/error.log warn;
events { worker_connections 1024; }
http {
    include $out/mime.types;
    default_type application/octet-stream;
    log_format tb '\$remote_addr [\$time_local] "\$request" \$status \$body_bytes_sent '
                  'upstream=\$upstream_addr upstream_status=\$upstream_status rt=\$request_time';
    access_log $out/logs/access.log tb;
    client_body_temp_path $out/tmp/body;
    fastcgi_temp_path $out/tmp/fastcgi;
    proxy_temp_path $out/tmp/proxy;
    scgi_temp_path $out/tmp/scgi;
    uwsgi_temp_path $out/tmp/uwsgi;
    sendfile on;
    include $out/timebridge.conf;
}
EOF
	printf '%s\n' "$out/nginx.conf"
	;;
caddy)
	R_PORT=$http_port R_ADDRS=$caddy_addrs R_WWW=$www awk '
	function lit(s, from, to,   i) {
		while ((i = index(s, from)) > 0) s = substr(s, 1, i - 1) to substr(s, i + length(from))
		return s
	}
	/^\{[ \t]*$/ && !global { print; print "\tauto_https off"; print "\tadmin off"; global = 1; next }
	/^[ \t]*email / { next }                                  # no ACME account on loopback
	/^timebridge\.example\.com \{/ { print "http://127.0.0.1:" ENVIRON["R_PORT"] " {"; site = 1; next }
	{
		s = $0
		if (index(s, "unix//run/timebridge/fcgi.sock")) { s = lit(s, "unix//run/timebridge/fcgi.sock", ENVIRON["R_ADDRS"]); up = 1 }
		s = lit(s, "/usr/share/timebridge/www", ENVIRON["R_WWW"])
		print s
	}
	END {
		if (!global || !site || !up) {
			print "render-dev.sh: nginx/Caddyfile no longer has the lines it rewrites" > "/dev/stderr"
			exit 1
		}
	}' "$here/Caddyfile" >"$out/Caddyfile"
	printf '%s\n' "$out/Caddyfile"
	;;
*) die "unknown kind $kind (nginx or caddy)" ;;
esac
