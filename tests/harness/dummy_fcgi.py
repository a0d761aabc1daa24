#!/usr/bin/env python3
"""tests/harness/dummy_fcgi.py: a tiny FastCGI responder that answers every request with its FastCGI
params as JSON. It lets the tests check what nginx and Caddy, with the shipped configs, pass to the app
(SCRIPT_NAME, PATH_INFO, DOCUMENT_URI, REQUEST_URI, HTTPS...) without the C program.

    python3 dummy_fcgi.py --listen /path/to.sock
"""
import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6
KEEP_CONN = 1


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_record(conn):
    _version, rtype, req_id, clen, plen, _ = struct.unpack("!BBHHBB", read_exact(conn, 8))
    content = read_exact(conn, clen) if clen else b""
    if plen:
        read_exact(conn, plen)
    return rtype, req_id, content


def write_record(conn, rtype, req_id, content):
    for off in range(0, max(len(content), 1), 65535):
        part = content[off:off + 65535]
        conn.sendall(struct.pack("!BBHHBB", 1, rtype, req_id, len(part), 0, 0) + part)


def parse_params(data):
    params, i = {}, 0
    while i < len(data):
        lens = []
        for _ in range(2):
            if data[i] >> 7:
                lens.append(struct.unpack("!I", data[i:i + 4])[0] & 0x7FFFFFFF)
                i += 4
            else:
                lens.append(data[i])
                i += 1
        name = data[i:i + lens[0]].decode("latin-1")
        i += lens[0]
        params[name] = data[i:i + lens[1]].decode("latin-1")
        i += lens[1]
    return params


def serve(conn):
    with conn:
        try:
            while True:  # one request per loop; more only when the web server asked to keep the connection
                params_raw, body, keep = b"", b"", False
                while True:
                    rtype, req_id, content = read_record(conn)
                    if rtype == BEGIN_REQUEST:
                        keep = bool(content[2] & KEEP_CONN)
                    elif rtype == PARAMS:
                        params_raw += content
                    elif rtype == STDIN:
                        if not content:
                            break
                        body += content
                params = parse_params(params_raw)
                params["_body_length"] = str(len(body))
                out = json.dumps(params, sort_keys=True).encode()
                head = b"Status: 200 OK\r\nContent-Type: application/json\r\n\r\n"
                write_record(conn, STDOUT, req_id, head + out)
                write_record(conn, STDOUT, req_id, b"")
                write_record(conn, END_REQUEST, req_id, struct.pack("!IB3x", 0, 0))
                if not keep:
                    return
        except (EOFError, ConnectionError):
            return


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True, help="Unix socket path")
    args = ap.parse_args()
    if os.path.exists(args.listen):
        os.unlink(args.listen)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.listen)
    os.chmod(args.listen, 0o666)
    srv.listen(64)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
