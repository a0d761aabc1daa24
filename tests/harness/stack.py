#!/usr/bin/env python3
"""tests/harness/stack.py: start and stop a throw-away timebridge stack for the tests and the benchmark.

Pieces, each usable alone:
  Postgres(dir)                      a cluster on a Unix socket in dir (tests/harness/pg.sh does the work)
  App(build_dir, env, workdir, ...)  N timebridge-fcgi (--listen unix sockets) and M timebridge-worker
  Nginx(conf_template, port, upstream_sockets, ...)   real nginx with nginx/timebridge.conf rendered by
                                     nginx/render-dev.sh (ports and paths only)
  Caddy(port, upstream_sockets, ...) real caddy with nginx/Caddyfile rendered the same way
  Stack(...)                         all of the above wired together (what tests/e2e/conftest.py uses)
  find_build_dir()                   $TB_BUILD_DIR (set by ./dev check), default build/check

When run as root, PostgreSQL, the app, the worker, nginx and caddy run as the unprivileged user `timebridge`
(PostgreSQL refuses root). Every child is stopped at interpreter exit, and the log tail of a child that
failed, died or printed a sanitizer report is shown.

As a program, `stack.py up [--info FILE] [--nginx-extra DIRECTIVES] [--fcgi N] [--workers M]` starts a stack,
writes its addresses as JSON to FILE and runs until SIGTERM or SIGINT (bench/http.sh uses this).
"""
import argparse
import atexit
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "harness"
RENDER = ROOT / "nginx" / "render-dev.sh"
SERVICE_USER = os.environ.get("TB_SERVICE_USER", "timebridge")
IS_ROOT = os.geteuid() == 0

SANITIZER_PATTERNS = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer"
    r"|ThreadSanitizer")


class HarnessError(RuntimeError):
    """Something in the stack did not come up (the message carries the relevant log tail)."""


def find_build_dir():
    """The build tree whose programs the tests run: $TB_BUILD_DIR, default build/check."""
    d = Path(os.environ.get("TB_BUILD_DIR") or ROOT / "build" / "check")
    if not d.is_absolute():
        d = ROOT / d
    return d


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_service_kwargs():
    """Popen keyword arguments that run the child as the service user when we are root."""
    if IS_ROOT:
        return {"user": SERVICE_USER, "group": SERVICE_USER, "extra_groups": []}
    return {}


def chown_service(path):
    """Hand a path we created to the service user (no-op unless root)."""
    if IS_ROOT:
        shutil.chown(path, SERVICE_USER, SERVICE_USER)


def ensure_service_user():
    if IS_ROOT:
        subprocess.run(["bash", "-c", f'. "{HARNESS}/lib.sh"; tb_ensure_service_user'], check=True)


def make_workdir(prefix="tb-"):
    """A fresh directory the service user can use (pytest's own tmp dirs are private to root)."""
    ensure_service_user()
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TB_TMPDIR")))
    d.chmod(0o755)
    chown_service(d)
    return d


def tail(path, lines=40):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_for(predicate, timeout, what, proc=None):
    """Poll predicate until it is true; fail early, with the child's log, when proc dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and not proc.alive():
            raise HarnessError(f"{proc.name} exited ({proc.returncode()}) while waiting for {what}:\n"
                               f"{tail(proc.log_path)}")
        time.sleep(0.05)
    extra = f"\n{tail(proc.log_path)}" if proc is not None else ""
    raise HarnessError(f"timed out after {timeout}s waiting for {what}{extra}")


def unix_socket_ready(path):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(path))
        return True
    except OSError:
        return False


def tcp_ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Proc:
    """One child process, its output in a log file, stopped at exit if nobody else did."""
    _live = []

    def __init__(self, name, argv, log_path, env=None, cwd=None, as_service=True):
        self.name, self.argv, self.log_path = name, [str(a) for a in argv], Path(log_path)
        self.env, self.cwd, self.as_service = env, cwd, as_service
        self.popen = None

    def start(self):
        log = open(self.log_path, "ab")
        chown_service(self.log_path)
        kwargs = as_service_kwargs() if self.as_service else {}
        self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                      env=self.env, cwd=self.cwd, start_new_session=True, **kwargs)
        log.close()
        Proc._live.append(self)
        return self

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def returncode(self):
        return None if self.popen is None else self.popen.poll()

    def signal(self, sig):
        if self.alive():
            self.popen.send_signal(sig)

    def stop(self, timeout=20):
        """SIGTERM, wait, SIGKILL if needed. Returns a list of problems: a non-zero exit (now or earlier),
        a stop that needed SIGKILL, a sanitizer report in the log. Empty when all is well."""
        if self.popen is None:
            return []
        problems = []
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
                problems.append(f"{self.name} did not stop within {timeout}s of SIGTERM (killed)")
            else:
                if self.popen.returncode != 0:
                    problems.append(f"{self.name} exited with {self._describe()} on SIGTERM")
        elif self.popen.returncode != 0:
            problems.append(f"{self.name} had already exited with {self._describe()}")
        if self in Proc._live:
            Proc._live.remove(self)
        problems += self.sanitizer_problems()
        if problems:
            problems[-1] += f"\n--- last lines of {self.log_path} ---\n{tail(self.log_path)}"
        return problems

    def kill(self):
        """SIGKILL without judgement (used by tests that kill on purpose)."""
        if self.alive():
            self.popen.kill()
            self.popen.wait()
        if self in Proc._live:
            Proc._live.remove(self)

    def sanitizer_problems(self):
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [f"{self.name}: sanitizer report in {self.log_path}"] if SANITIZER_PATTERNS.search(text) else []

    def _describe(self):
        rc = self.popen.returncode
        return f"signal {-rc}" if rc is not None and rc < 0 else f"status {rc}"

    @classmethod
    def stop_all(cls):
        for p in list(cls._live):
            p.kill()


atexit.register(Proc.stop_all)


class Postgres:
    """A throw-away PostgreSQL cluster under dir, Unix socket only, fsync off, superuser `timebridge`."""

    def __init__(self, dir, port=None, dbname="timebridge"):
        self.dir = Path(dir)
        self.data = self.dir / "pgdata"
        self.sockdir = self.dir / "pgrun"
        self.port = port or free_port()
        self.dbname = dbname
        self.log_path = self.dir / "postgres.log"
        self._conn = None
        self._registered = False

    @property
    def conninfo(self):
        return f"host={self.sockdir} port={self.port} dbname={self.dbname} user=timebridge"

    def _pg(self, *args):
        r = subprocess.run([str(HARNESS / "pg.sh"), *map(str, args)], capture_output=True, text=True)
        if r.returncode != 0:
            raise HarnessError(f"pg.sh {args[0]} failed:\n{r.stdout}{r.stderr}\n{tail(self.log_path)}")

    def start(self):
        if not (self.data / "PG_VERSION").exists():
            self._pg("init", self.data, self.sockdir, self.port, "fast")
        self._pg("start", self.data, self.log_path)
        if not self._registered:
            atexit.register(self.stop)
            self._registered = True
        self._pg("createdb", self.sockdir, self.port, self.dbname)
        return self

    def stop(self):
        self._close()
        if (self.data / "postmaster.pid").exists():
            self._pg("stop", self.data)

    def restart(self):
        self.stop()
        self.start()

    def running(self):
        return (self.data / "postmaster.pid").exists()

    def _close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def sql(self, query, *params):
        """Run one statement with %s parameters (%% for a literal %); returns a list of row tuples.
        Uses psycopg2 when it is installed, else psql with -v variables (values come back as text)."""
        try:
            import psycopg2
        except ImportError:
            return self._sql_psql(query, params)
        for attempt in (1, 2):  # one retry on a connection lost to a restart
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg2.connect(self.conninfo)
                    self._conn.autocommit = True
                with self._conn.cursor() as cur:
                    cur.execute(query, params)
                    return cur.fetchall() if cur.description else []
            except psycopg2.OperationalError:
                self._close()
                if attempt == 2:
                    raise

    def _sql_psql(self, query, params):
        args = ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-F", "\x1f", self.conninfo]
        n = 0

        def var(_m):
            nonlocal n
            n += 1
            return f":'p{n}'"
        text = re.sub(r"%s", var, query).replace("%%", "%")
        for i, p in enumerate(params, 1):
            args[1:1] = ["-v", f"p{i}={'' if p is None else p}"]
        r = subprocess.run(args, input=text, capture_output=True, text=True)
        if r.returncode != 0:
            raise HarnessError(f"psql failed: {r.stderr.strip()}")
        return [tuple(line.split("\x1f")) for line in r.stdout.splitlines()]


def app_env(pg, public_url, **extra):
    """A clean environment for the app: nothing leaks in from the caller's TIMEBRIDGE_* settings."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "TIMEBRIDGE_DATABASE": pg.conninfo,
        "TIMEBRIDGE_PUBLIC_URL": public_url,
        "TIMEBRIDGE_SECRET_KEY": secrets.token_hex(32),
        "TIMEBRIDGE_SQL_DIR": str(ROOT / "sql"),
        "TIMEBRIDGE_TEMPLATE_DIR": str(ROOT / "templates"),
        "TIMEBRIDGE_LOG_LEVEL": "info",
        # Sanitizer builds (./dev check): stop at the first report so a test sees it.
        "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1:abort_on_error=0"),
        "UBSAN_OPTIONS": os.environ.get("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1"),
    }
    for name in ("LSAN_OPTIONS", "TIMEBRIDGE_FCGI_THREADS"):  # passed through: suppressions, bench runs
        if os.environ.get(name):
            env[name] = os.environ[name]
    env.update({k: str(v) for k, v in extra.items()})
    return env


class App:
    """N timebridge-fcgi listening on Unix sockets in workdir, and M timebridge-worker."""

    def __init__(self, build_dir, env, workdir, fcgi=1, workers=1, name="app"):
        self.build_dir, self.env, self.workdir = Path(build_dir), dict(env), Path(workdir)
        self.n_fcgi, self.n_workers, self.name = fcgi, workers, name
        self.fcgi, self.workers = [], []

    def bin(self, prog):
        path = self.build_dir / "src" / prog
        if not path.exists():
            raise HarnessError(f"{path} does not exist: build first (./dev check, or make in {self.build_dir})")
        return path

    @property
    def sockets(self):
        return [self.workdir / f"{self.name}-fcgi{i}.sock" for i in range(self.n_fcgi)]

    def run(self, prog, *args, input=None, env=None, timeout=60):
        """Run one of the programs to completion as the service user; returns CompletedProcess (text)."""
        return subprocess.run([str(self.bin(prog)), *map(str, args)], input=input, capture_output=True,
                              text=True, env=env or self.env, timeout=timeout, stdin=None if input is not None
                              else subprocess.DEVNULL, **as_service_kwargs())

    def cli(self, *args, input=None, check=True):
        """`timebridge ARGS`; raises with its output when check and it fails."""
        r = self.run("timebridge", *args, input=input)
        if check and r.returncode != 0:
            raise HarnessError(f"timebridge {' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}{r.stderr}")
        return r

    def migrate(self):
        return self.cli("migrate", "--sql-dir", ROOT / "sql")

    def start(self):
        fcgi_bin, worker_bin = self.bin("timebridge-fcgi"), self.bin("timebridge-worker")
        reach = subprocess.run(["test", "-x", str(fcgi_bin)], **as_service_kwargs())
        if reach.returncode != 0:
            raise HarnessError(f"user {SERVICE_USER} cannot run {fcgi_bin}: make its directories searchable "
                               "(./dev check does this)")
        for i, sock in enumerate(self.sockets):
            if sock.exists():
                sock.unlink()
            p = Proc(f"{self.name}-fcgi{i}", [fcgi_bin, "--listen", sock],
                     self.workdir / f"{self.name}-fcgi{i}.log", env=self.env).start()
            self.fcgi.append(p)
        for i in range(self.n_workers):
            p = Proc(f"{self.name}-worker{i}", [worker_bin], self.workdir / f"{self.name}-worker{i}.log",
                     env=self.env).start()
            self.workers.append(p)
        for p, sock in zip(self.fcgi, self.sockets):
            wait_for(lambda: unix_socket_ready(sock), 30, f"{sock}", p)
        time.sleep(0.2)
        for p in self.workers:
            if not p.alive():
                raise HarnessError(f"{p.name} exited ({p.returncode()}) at start:\n{tail(p.log_path)}")
        return self

    def procs(self):
        return self.fcgi + self.workers

    def stop(self):
        problems = []
        for p in self.fcgi + self.workers:
            problems += p.stop()
        return problems


class Nginx:
    """Real nginx running the shipped site config, rewritten for loopback by nginx/render-dev.sh."""

    def __init__(self, conf_template=None, port=None, upstream_sockets=(), workdir=None, extra="",
                 www=ROOT / "www", https_port=None, redirect_port=None):
        self.conf_template = Path(conf_template or ROOT / "nginx" / "timebridge.conf")
        self.port = port or free_port()
        self.https_port = https_port or free_port()
        self.redirect_port = redirect_port or free_port()
        self.upstream_sockets = list(upstream_sockets)
        self.workdir = Path(workdir or make_workdir("tb-nginx-"))
        self.dir = self.workdir / f"nginx-{self.port}"
        self.extra, self.www = extra, Path(www)
        self.proc = None

    url = property(lambda self: f"http://127.0.0.1:{self.port}")
    https_url = property(lambda self: f"https://127.0.0.1:{self.https_port}")
    redirect_url = property(lambda self: f"http://127.0.0.1:{self.redirect_port}")

    def start(self):
        tls = self.workdir / "tls"
        subprocess.run(["bash", "-c", f'. "{HARNESS}/lib.sh"; tb_selfsigned_cert "$1"', "-", str(tls)], check=True)
        args = [str(RENDER), "nginx", str(self.dir), "--site", str(self.conf_template),
                "--http-port", str(self.port), "--https-port", str(self.https_port),
                "--redirect-port", str(self.redirect_port), "--www", str(self.www),
                "--cert", str(tls / "cert.pem"), "--key", str(tls / "key.pem")]
        for s in self.upstream_sockets:
            args += ["--socket", str(s)]
        if self.extra:
            args += ["--extra", self.extra]
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode != 0:
            raise HarnessError(f"render-dev.sh failed:\n{r.stderr}")
        conf = r.stdout.strip()
        if IS_ROOT:
            subprocess.run(["chown", "-R", f"{SERVICE_USER}:{SERVICE_USER}", str(self.dir)], check=True)
        self.proc = Proc(f"nginx-{self.port}", ["nginx", "-p", self.dir, "-c", conf, "-e", self.dir / "logs" / "error.log"],
                         self.workdir / f"nginx-{self.port}.log").start()
        wait_for(lambda: tcp_ready(self.port) and tcp_ready(self.https_port), 20, f"nginx on {self.port}", self.proc)
        return self

    def access_log(self):
        p = self.dir / "logs" / "access.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def error_log(self):
        return tail(self.dir / "logs" / "error.log", 200)

    def stop(self):
        return self.proc.stop() if self.proc else []


class Caddy:
    """Real caddy running the shipped nginx/Caddyfile, rewritten for loopback by nginx/render-dev.sh."""

    def __init__(self, port=None, upstream_sockets=(), workdir=None, www=ROOT / "www"):
        self.port = port or free_port()
        self.upstream_sockets = list(upstream_sockets)
        self.workdir = Path(workdir or make_workdir("tb-caddy-"))
        self.dir = self.workdir / f"caddy-{self.port}"
        self.www = Path(www)
        self.proc = None

    url = property(lambda self: f"http://127.0.0.1:{self.port}")

    def start(self):
        args = [str(RENDER), "caddy", str(self.dir), "--http-port", str(self.port), "--www", str(self.www)]
        for s in self.upstream_sockets:
            args += ["--socket", str(s)]
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode != 0:
            raise HarnessError(f"render-dev.sh failed:\n{r.stderr}")
        if IS_ROOT:
            subprocess.run(["chown", "-R", f"{SERVICE_USER}:{SERVICE_USER}", str(self.dir)], check=True)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.dir), "XDG_DATA_HOME": str(self.dir),
               "XDG_CONFIG_HOME": str(self.dir)}
        self.proc = Proc(f"caddy-{self.port}", ["caddy", "run", "--adapter", "caddyfile", "--config", r.stdout.strip()],
                         self.workdir / f"caddy-{self.port}.log", env=env).start()
        wait_for(lambda: tcp_ready(self.port), 20, f"caddy on {self.port}", self.proc)
        return self

    def stop(self):
        return self.proc.stop() if self.proc else []


class Stack:
    """PostgreSQL + migrations + App (fcgi, workers) + nginx, in one fresh work directory."""

    def __init__(self, build_dir=None, fcgi=1, workers=1, env=None, nginx_extra="", workdir=None):
        self.build_dir = Path(build_dir or find_build_dir())
        self.workdir = Path(workdir or make_workdir("tb-stack-"))
        self.pg = Postgres(self.workdir / "pg")
        self.pg.dir.mkdir(exist_ok=True)
        chown_service(self.pg.dir)
        self.nginx = Nginx(upstream_sockets=[], workdir=self.workdir, extra=nginx_extra)
        self.env = app_env(self.pg, self.nginx.url, **(env or {}))
        self.app = App(self.build_dir, self.env, self.workdir, fcgi=fcgi, workers=workers)
        self.nginx.upstream_sockets = self.app.sockets
        self.extra_procs = []

    def start(self):
        try:
            self.pg.start()
            self.app.migrate()
            self.app.start()
            self.nginx.start()
        except Exception:
            self.stop()
            raise
        return self

    def logs(self, lines=30):
        """Tails of every log in the stack, for a failing test's report."""
        out = []
        for p in self.app.procs() + [self.nginx.proc] + self.extra_procs:
            if p is not None:
                out.append(f"--- {p.log_path.name} ---\n{tail(p.log_path, lines)}")
        out.append(f"--- nginx error.log ---\n{tail(self.nginx.dir / 'logs' / 'error.log', lines)}")
        out.append(f"--- postgres.log ---\n{tail(self.pg.log_path, lines)}")
        return "\n".join(out)

    def stop(self):
        problems = self.nginx.stop() + self.app.stop()
        for p in self.extra_procs:
            problems += p.stop()
        self.pg.stop()
        if not problems and not os.environ.get("TB_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)
        return problems


def main():
    ap = argparse.ArgumentParser(description="start a throw-away timebridge stack and run until signalled")
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up")
    up.add_argument("--build-dir", help="build tree (default $TB_BUILD_DIR or build/check)")
    up.add_argument("--fcgi", type=int, default=1)
    up.add_argument("--workers", type=int, default=1)
    up.add_argument("--nginx-extra", default="", help="directives added to the main nginx server (bench)")
    up.add_argument("--info", help="write the stack's addresses here as JSON once it is up")
    args = ap.parse_args()

    stack = Stack(build_dir=args.build_dir, fcgi=args.fcgi, workers=args.workers, nginx_extra=args.nginx_extra)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    stack.start()
    info = {"url": stack.nginx.url, "https_url": stack.nginx.https_url, "conninfo": stack.pg.conninfo,
            "workdir": str(stack.workdir), "sockets": [str(s) for s in stack.app.sockets]}
    if args.info:
        Path(args.info).write_text(json.dumps(info) + "\n")
    print(json.dumps(info), flush=True)
    while not stopping:
        dead = [p.name for p in stack.app.procs() + [stack.nginx.proc] if not p.alive()]
        if dead:
            print(f"stack: {', '.join(dead)} exited", file=sys.stderr)
            break
        time.sleep(0.2)
    problems = stack.stop()
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
