# shellcheck shell=bash disable=SC2015
# tests/harness/lib.sh: shell helpers shared by ./dev, bench/http.sh and the Python harness (via pg.sh):
# package installs, the unprivileged service user, a throw-away PostgreSQL cluster on a Unix socket,
# a self-signed certificate, free ports and waiting for sockets. Source it; it defines tb_* functions only.

TB_ROOT=${TB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TB_SERVICE_USER=${TB_SERVICE_USER:-timebridge}

tb_say() { printf '%s\n' "$*"; }
tb_warn() { printf '%s\n' "$*" >&2; }
tb_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, else through sudo.
tb_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# tb_apt_ensure PKG[:PATH] ...: install the Debian packages that are missing. A package counts as present
# when dpkg says so, or when PATH (a file, e.g. /usr/sbin/nginx) exists. `apt-get update` runs only when
# something has to be installed, and once per process.
tb_apt_ensure() {
	local spec pkg path missing=()
	for spec in "$@"; do
		pkg=${spec%%:*}
		path=${spec#*:}
		[ "$path" = "$spec" ] && path=
		if [ -n "$path" ] && [ -e "$path" ]; then continue; fi
		if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then continue; fi
		missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	command -v apt-get >/dev/null || tb_die "missing packages (${missing[*]}) and no apt-get to install them"
	tb_say "installing: ${missing[*]}"
	if [ -z "${TB_APT_UPDATED:-}" ]; then
		tb_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || tb_die "apt-get update failed"
		TB_APT_UPDATED=1
	fi
	tb_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
		|| tb_die "apt-get install ${missing[*]} failed"
}

# The user that runs PostgreSQL, the app, the worker and nginx: `timebridge` when we are root (PostgreSQL
# refuses to run as root, and the app should not), else ourselves.
tb_service_user() {
	if [ "$(id -u)" -eq 0 ]; then printf '%s\n' "$TB_SERVICE_USER"; else id -un; fi
}

# Create the unprivileged system user when running as root and it does not exist yet.
# tb_bench_prepare ROOT: what every bench/*.sh needs first. TB_BUILD_DIR defaults to an optimised build
# in ROOT/build/dev (built by ./dev build) and is exported; a sanitizer build is refused, because its
# figures would mean nothing (build/dev configured by hand with --enable-sanitizers once went unnoticed);
# the service user exists and can reach ROOT and the build.
tb_bench_prepare() {
	if [ -z "${TB_BUILD_DIR:-}" ]; then
		(cd "$1" && ./dev build >/dev/null)
		TB_BUILD_DIR=$1/build/dev
	fi
	export TB_BUILD_DIR
	if ldd "$TB_BUILD_DIR/src/timebridge-fcgi" | grep -q 'libasan\|libubsan'; then
		echo "bench: $TB_BUILD_DIR is a sanitizer build; its figures would mean nothing (rm -rf it and run again)" >&2
		exit 1
	fi
	tb_ensure_service_user
	tb_make_reachable "$1"
	tb_make_reachable "$TB_BUILD_DIR"
}

tb_ensure_service_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	getent passwd "$TB_SERVICE_USER" >/dev/null && return 0
	local group=--user-group
	getent group "$TB_SERVICE_USER" >/dev/null && group="--gid=$TB_SERVICE_USER"
	useradd --system "$group" --home-dir /nonexistent --no-create-home \
		--shell /usr/sbin/nologin "$TB_SERVICE_USER" || tb_die "useradd $TB_SERVICE_USER failed"
}

# TB_AS: a command prefix that runs what follows as the service user, the environment kept; empty when
# we are not root. setpriv execs, so `"${TB_AS[@]}" prog &` leaves the real program's pid in $!.
TB_AS=()
if [ "$(id -u)" -eq 0 ]; then
	TB_AS=(setpriv --reuid="$TB_SERVICE_USER" --regid="$TB_SERVICE_USER" --init-groups --)
fi

# tb_as_service_user CMD...: run CMD in the foreground as the service user.
tb_as_service_user() {
	"${TB_AS[@]}" "$@"
}

# tb_own DIR...: hand directories to the service user (no-op unless root).
tb_own() {
	[ "$(id -u)" -eq 0 ] || return 0
	chown -R "$TB_SERVICE_USER:$TB_SERVICE_USER" "$@"
}

# tb_make_reachable PATH: when root, make sure the service user can reach PATH (a checkout under /root,
# say). Adds o+x (search, not read) to each ancestor directory that lacks it, and says so.
tb_make_reachable() {
	[ "$(id -u)" -eq 0 ] || return 0
	local target p='' part
	target=$(cd "$1" && pwd)
	tb_as_service_user test -x "$target" && return 0
	# Top down, so each directory is judged with its parents already searchable.
	local IFS=/
	for part in ${target#/}; do
		p=$p/$part
		if ! tb_as_service_user test -x "$p" 2>/dev/null; then
			tb_say "making $p searchable (o+x) for user $TB_SERVICE_USER"
			chmod o+x "$p"
		fi
	done
	tb_as_service_user test -x "$target" || tb_die "user $TB_SERVICE_USER cannot reach $target"
}

# The newest PostgreSQL server bin directory (Debian layout).
tb_pg_bindir() {
	local d
	d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] && [ -x "$d/initdb" ] || tb_die "no PostgreSQL server found under /usr/lib/postgresql"
	printf '%s\n' "$d"
}

# tb_pg_init DATADIR SOCKDIR PORT [fast]: create a cluster owned by the service user, listening on a Unix
# socket in SOCKDIR only (no TCP), trust authentication on that socket, TCP rejected. `fast` turns off
# fsync and friends (tests). The superuser is called `timebridge`.
tb_pg_init() {
	local data=$1 sock=$2 port=$3 mode=${4:-} bin
	bin=$(tb_pg_bindir)
	mkdir -p "$data" "$sock"
	tb_own "$data" "$sock"
	chmod 700 "$data"
	tb_as_service_user "$bin/initdb" -D "$data" -U timebridge -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=reject >"$data.initdb.log" 2>&1 \
		|| { cat "$data.initdb.log" >&2; tb_die "initdb failed"; }
	rm -f "$data.initdb.log"
	{
		printf '\n# added by tests/harness/lib.sh\n'
		printf "listen_addresses = ''\n"
		printf "unix_socket_directories = '%s'\n" "$sock"
		printf 'port = %s\n' "$port"
		printf 'max_connections = 100\n'
		if [ "$mode" = fast ]; then
			printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n'
		fi
	} >>"$data/postgresql.conf"
}

# tb_pg_start DATADIR LOGFILE: start the cluster and wait until it accepts connections.
tb_pg_start() {
	local data=$1 log=$2 bin
	bin=$(tb_pg_bindir)
	touch "$log"
	tb_own "$log"
	tb_as_service_user "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null \
		|| { tail -n 20 "$log" >&2; tb_die "PostgreSQL did not start (log: $log)"; }
}

# tb_pg_stop DATADIR: fast shutdown; quiet when it is not running.
tb_pg_stop() {
	local data=$1 bin
	bin=$(tb_pg_bindir)
	[ -f "$data/postmaster.pid" ] || return 0
	tb_as_service_user "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

# tb_pg_createdb SOCKDIR PORT NAME: create database NAME unless it exists.
tb_pg_createdb() {
	local sock=$1 port=$2 name=$3 have
	have=$(psql -h "$sock" -p "$port" -U timebridge -d postgres -XAtq -v name="$name" \
		<<<"SELECT 1 FROM pg_database WHERE datname = :'name'") || tb_die "cannot reach PostgreSQL in $sock"
	[ "$have" = 1 ] && return 0
	psql -h "$sock" -p "$port" -U timebridge -d postgres -Xq -v ON_ERROR_STOP=1 -v name="$name" \
		<<<'CREATE DATABASE :"name"' || tb_die "CREATE DATABASE $name failed"
}

# tb_selfsigned_cert DIR: DIR/cert.pem and DIR/key.pem for localhost/127.0.0.1, made once.
tb_selfsigned_cert() {
	local dir=$1
	mkdir -p "$dir"
	if [ ! -s "$dir/cert.pem" ] || [ ! -s "$dir/key.pem" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
			-subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
			-keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1 || tb_die "openssl req failed"
	fi
	chmod 600 "$dir/key.pem"
	tb_own "$dir"
}

# tb_free_port: print a TCP port on 127.0.0.1 that nobody listens on right now.
tb_free_port() {
	local port
	for _ in $(seq 50); do
		port=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	tb_die "no free port found"
}

# tb_wait_for_socket PATH [SECONDS] [PID]: wait for a Unix socket to appear; fail early if PID dies.
tb_wait_for_socket() {
	local path=$1 secs=${2:-30} pid=${3:-} i
	for ((i = 0; i < secs * 10; i++)); do
		[ -S "$path" ] && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
		sleep 0.1
	done
	return 1
}

# tb_wait_for_file PATH [SECONDS] [PID]: wait for a non-empty file (port files of the fakes).
tb_wait_for_file() {
	local path=$1 secs=${2:-30} pid=${3:-} i
	for ((i = 0; i < secs * 10; i++)); do
		[ -s "$path" ] && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
		sleep 0.1
	done
	return 1
}

# tb_wait_for_http URL [SECONDS]: wait until URL answers (any HTTP status).
tb_wait_for_http() {
	local url=$1 secs=${2:-30} i
	for ((i = 0; i < secs * 10; i++)); do
		curl -ks -o /dev/null --max-time 2 "$url" && return 0
		sleep 0.1
	done
	return 1
}
