#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fault-injecting HTTP(S) server for the mail-oauth2 tests. Stdlib only.

Listens on a loopback address only (127.0.0.1 by default; anything that is not
loopback is refused). Serves static files from --root (a test writes its
discovery document and JWKS there and may replace them at any time: key
rotation), and misbehaves on demand.

Usage:
  fault-server.py --root DIR --port-file F [--pid-file F] [--port N]
                  [--tls-dir DIR | --cert PEM --key KEY | --plain]
                  [--route PATH=SPEC]... [--proxy [--proxy-auth USER:PASS]]
                  [--parent-pid PID] [--verbose]

  --tls-dir DIR   DIR/server.pem and DIR/server.key (make-ca.sh DIR)
  --plain         plain HTTP, for the loopback http:// opt-in tests
  --port 0        (default) pick a free port; the port is written to
                  --port-file once the server listens (atomically)
  --parent-pid    exit when that process is gone (a crashed test)
  --proxy         also an HTTP proxy: CONNECT to a loopback address or
                  localhost opens a tunnel (counted in /_stats as
                  "CONNECT host:port"; the last Proxy-Authorization seen is
                  "_proxy_authorization" there)
  --proxy-auth    CONNECT without Proxy-Authorization: Basic of USER:PASS
                  gets 407

A route SPEC is "MODE[:ARG]" or a JSON object with these keys:
  mode           static (default) | echo | down | slow | status | garbage | huge
                 | raw | chunked
  delay          seconds to sleep before answering (any mode; slow = 5 s)
  status         HTTP status (mode status; default 500)
  location       Location header (default /moved when the status is 3xx)
  body           body text for the status mode
  cache_control, retry_after, content_type   response headers to send
  size           bytes of the huge body (default 10 MiB)
  no_length      true: huge without Content-Length (connection-delimited)
  file           file under --root to serve instead of the path
  raw            the bytes (a string, code points < 256) the raw mode sends
  abort          true: raw closes the TCP connection without TLS close_notify
  chunk          chunk size of the chunked mode (default 1000)
MODE:ARG shorthands: slow:SECONDS, status:CODE, huge:nolength.

Modes:
  static   the file --root/PATH (404 if missing), application/json for .json
  echo     JSON: method, path, query, headers (names lower-cased), body,
           form (parsed form body), client_port, connection_requests
  down     read the request, then close the connection without an answer
  garbage  200 with a body that is not JSON
  huge     200 with a body of `size` bytes
  status   the status with `body` (default a small JSON error)
  raw      `raw` as it is (a whole response, well-formed or not), then the
           connection is closed
  chunked  the static file (or `file`) with Transfer-Encoding: chunked

Control (never counted in the statistics):
  GET  /_stats           {"PATH": count, ...} requests received per path
                         (query excluded), plus "_refused": connections
                         closed at accept while down
  POST /_control JSON    or GET /_control?key=value&...
        {"path": "/jwks.json", "mode": "slow", "delay": 3}  set a route
        {"mode": ...} without "path"                          set the default
        {"path": "/x", "clear": true}                         drop a route
        {"reset": true}     drop runtime routes and zero the statistics
        {"reset_stats": true}
        {"down": true}      close every new connection at accept, before
                            TLS, and answer nothing on kept-alive ones
                            (but /_stats and /_control there)
  Signals: SIGUSR1 = down, SIGUSR2 = up again, SIGTERM/SIGINT = stop.
"""

import argparse
import http.server
import ipaddress
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse

TEN_MIB = 10 * 1024 * 1024
MAX_REQUEST_BODY = 1024 * 1024
MODES = ("static", "echo", "down", "slow", "status", "garbage", "huge", "raw", "chunked")


class Config:
    """Routes, statistics and the down flag, shared by the handler threads."""

    def __init__(self, root):
        self.root = os.path.realpath(root)
        self.lock = threading.Lock()
        self.routes = {}          # path -> route dict (from --route)
        self.runtime_routes = {}  # path -> route dict (from /_control)
        self.default_route = {}
        self.counts = {}
        self.refused = 0
        self.down = False
        self.proxy_authorization = None

    def route_for(self, path):
        with self.lock:
            if path in self.runtime_routes:
                route = dict(self.runtime_routes[path])
            elif path in self.routes:
                route = dict(self.routes[path])
            else:
                route = dict(self.default_route)
        route.setdefault("mode", "static")
        return route

    def count(self, path):
        with self.lock:
            self.counts[path] = self.counts.get(path, 0) + 1

    def stats(self):
        with self.lock:
            stats = dict(self.counts)
            stats["_refused"] = self.refused
            if self.proxy_authorization is not None:
                stats["_proxy_authorization"] = self.proxy_authorization
            return stats

    def control(self, req):
        with self.lock:
            if req.pop("reset", False):
                self.runtime_routes.clear()
                self.default_route = {}
                self.counts.clear()
                self.refused = 0
            if req.pop("reset_stats", False):
                self.counts.clear()
                self.refused = 0
            if "down" in req:
                self.down = truthy(req.pop("down"))
            path = req.pop("path", None)
            if req.pop("clear", False):
                if path is None:
                    self.default_route = {}
                else:
                    self.runtime_routes.pop(path, None)
                return
            if not req:
                return
            route = normalise_route(req)
            if path is None:
                self.default_route = route
            else:
                self.runtime_routes[path] = route


def truthy(value):
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes", "on")
    return bool(value)


def normalise_route(route):
    route = dict(route)
    mode = route.setdefault("mode", "static")
    if mode not in MODES:
        raise ValueError("unknown mode %r" % mode)
    for key, kind in (("delay", float), ("status", int), ("size", int), ("chunk", int)):
        if key in route:
            route[key] = kind(route[key])
    for key in ("no_length", "abort"):
        if key in route:
            route[key] = truthy(route[key])
    if mode == "slow":
        route.setdefault("delay", 5.0)
    return route


def parse_route_spec(spec):
    if spec.startswith("{"):
        return normalise_route(json.loads(spec))
    mode, _, arg = spec.partition(":")
    route = {"mode": mode}
    if arg:
        if mode == "slow":
            route["delay"] = arg
        elif mode == "status":
            route["status"] = arg
        elif mode == "huge" and arg == "nolength":
            route["no_length"] = True
        else:
            raise ValueError("bad route argument %r" % spec)
    return normalise_route(route)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, so clients can reuse
    server_version = "fault-server/1"
    timeout = 30                    # idle keep-alive connections end

    def setup(self):
        super().setup()
        self.connection_requests = 0

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fault-server: %s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def do_CONNECT(self):
        if not self.server.proxy:
            self.close_connection = True
            return self.send_json(405, {"error": "not a proxy"})
        host, _, port = self.path.rpartition(":")
        host = host.strip("[]")
        config = self.server.config
        auth = self.headers.get("Proxy-Authorization")
        with config.lock:
            config.counts["CONNECT " + self.path] = config.counts.get("CONNECT " + self.path, 0) + 1
            config.proxy_authorization = auth
        self.close_connection = True
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback or not port.isdigit():
            return self.send_json(403, {"error": "loopback targets only"})
        if self.server.proxy_auth is not None and auth != self.server.proxy_auth:
            return self.send_json(407, {"error": "proxy authentication required"})
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            return self.send_json(502, {"error": "cannot connect"})
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        self.tunnel(upstream)

    def tunnel(self, upstream):
        import selectors
        client = self.connection
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, upstream)
        sel.register(upstream, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _ in sel.select(timeout=30):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            pass
        finally:
            sel.close()
            upstream.close()

    def handle_any(self):
        self.connection_requests += 1
        url = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        if body is None:
            return
        try:
            if url.path == "/_stats":
                return self.send_json(200, self.server.config.stats())
            if url.path == "/_control":
                return self.handle_control(url, body)
            if self.server.config.down:
                # kept-alive connections are down too: no answer
                self.close_connection = True
                return
            self.server.config.count(url.path)
            route = self.server.config.route_for(url.path)
            if route.get("delay"):
                time.sleep(route["delay"])
            getattr(self, "mode_" + route["mode"])(route, url, body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True

    def read_body(self):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.send_json(411, {"error": "chunked request bodies not supported"})
            return None
        try:
            length = int(length) if length is not None else 0
        except ValueError:
            length = -1
        if length < 0 or length > MAX_REQUEST_BODY:
            self.close_connection = True
            self.send_json(413, {"error": "request body size"})
            return None
        return self.rfile.read(length) if length else b""

    def handle_control(self, url, body):
        try:
            if body:
                req = json.loads(body.decode("utf-8"))
                if not isinstance(req, dict):
                    raise ValueError("control body must be a JSON object")
            else:
                req = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            self.server.config.control(req)
        except (ValueError, TypeError) as exc:
            return self.send_json(400, {"error": str(exc)})
        self.send_json(200, {"ok": True})

    # ---------------------------------------------------------------- modes

    def route_file(self, route, url):
        """The path and bytes of the route's file, or None after a 404."""
        name = route.get("file", url.path).lstrip("/")
        root = self.server.config.root
        path = os.path.realpath(os.path.join(root, name))
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            self.send_json(404, {"error": "not_found"}, route)
            return None, None
        with open(path, "rb") as f:
            return path, f.read()

    def mode_static(self, route, url, body):
        path, data = self.route_file(route, url)
        if path is None:
            return
        ctype = "application/json" if path.endswith(".json") else "application/octet-stream"
        self.send_bytes(200, data, route, ctype)

    mode_slow = mode_static

    def mode_echo(self, route, url, body):
        text = body.decode("utf-8", errors="replace")
        form = None
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            try:
                form = dict(urllib.parse.parse_qsl(text, keep_blank_values=True,
                                                   strict_parsing=bool(text)))
            except ValueError:
                form = None
        self.send_json(200, {
            "method": self.command,
            "path": url.path,
            "query": url.query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": text,
            "form": form,
            "client_port": self.client_address[1],
            "connection_requests": self.connection_requests,
        }, route)

    def mode_down(self, route, url, body):
        self.close_connection = True   # no answer at all

    def mode_garbage(self, route, url, body):
        self.send_bytes(200, b"<html><body>this is not JSON {", route,
                        "application/json")

    def mode_status(self, route, url, body):
        status = route.get("status", 500)
        if 300 <= status < 400:
            route.setdefault("location", "/moved")
        data = route.get("body")
        if data is None:
            data = json.dumps({"error": "injected", "status": status})
        self.send_bytes(status, data.encode("utf-8"), route, "application/json")

    def mode_huge(self, route, url, body):
        size = route.get("size", TEN_MIB)
        no_length = route.get("no_length", False)
        self.send_response(200)
        self.send_route_headers(route, "application/json")
        if no_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b"x" * 65536
        sent = 0
        while sent < size:
            piece = chunk[:min(len(chunk), size - sent)]
            self.wfile.write(piece)
            sent += len(piece)

    def mode_raw(self, route, url, body):
        self.close_connection = True
        self.wfile.write(route.get("raw", "").encode("latin-1"))
        self.wfile.flush()
        if route.get("abort"):
            # TCP FIN without close_notify: a truncated TLS stream
            self.connection.shutdown(socket.SHUT_RDWR)

    def mode_chunked(self, route, url, body):
        path, data = self.route_file(route, url)
        if path is None:
            return
        size = max(1, route.get("chunk", 1000))
        self.send_response(200)
        self.send_route_headers(route, "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(0, len(data), size):
            piece = data[i:i + size]
            self.wfile.write(b"%x;n=%d\r\n%s\r\n" % (len(piece), i, piece))
        self.wfile.write(b"0\r\nX-Trailer: end\r\n\r\n")

    # ---------------------------------------------------------------- output

    def send_route_headers(self, route, content_type):
        self.send_header("Content-Type", route.get("content_type", content_type))
        for key, name in (("cache_control", "Cache-Control"),
                          ("retry_after", "Retry-After"),
                          ("location", "Location")):
            if key in route:
                self.send_header(name, str(route[key]))

    def send_bytes(self, status, data, route, content_type):
        self.send_response(status)
        self.send_route_headers(route or {}, content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status, obj, route=None):
        self.send_bytes(status, json.dumps(obj).encode("utf-8"), route,
                        "application/json")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, family, config, tls_context, verbose, proxy=False,
                 proxy_auth=None):
        self.address_family = family
        self.config = config
        self.tls_context = tls_context
        self.verbose = verbose
        self.proxy = proxy
        self.proxy_auth = proxy_auth
        super().__init__(address, Handler)

    def server_bind(self):
        # HTTPServer.server_bind would look up the FQDN: a DNS query.
        http.server.socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "localhost", self.server_address[1]

    def verify_request(self, request, client_address):
        if self.config.down:
            with self.config.lock:
                self.config.refused += 1
            return False   # closed at once, before any TLS handshake
        return True

    def finish_request(self, request, client_address):
        # TLS is set up here, in the connection's own thread, so that a slow
        # or broken client never blocks the accept loop.
        if self.tls_context is not None:
            request.settimeout(10)
            try:
                request = self.tls_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                if self.verbose:
                    sys.stderr.write("fault-server: TLS handshake failed: %s\n" % exc)
                return
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            if self.tls_context is not None:
                self.close_tls(request)

    @staticmethod
    def close_tls(request):
        try:
            request.settimeout(1)
            request.unwrap()   # close_notify, so EOF-delimited bodies end cleanly
        except (ssl.SSLError, OSError, ValueError):
            pass
        try:
            request.close()
        except OSError:
            pass

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def loopback_family(host):
    if host == "localhost":
        return "127.0.0.1", socket.AF_INET
    addr = ipaddress.ip_address(host)
    if not addr.is_loopback:
        raise SystemExit("fault-server: refusing to listen on %s: loopback only" % host)
    return host, socket.AF_INET6 if addr.version == 6 else socket.AF_INET


def write_atomically(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def parse_args(argv):
    p = argparse.ArgumentParser(description="mail-oauth2 fault-injecting test server")
    p.add_argument("--root", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--pid-file")
    p.add_argument("--tls-dir")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--plain", action="store_true")
    p.add_argument("--route", action="append", default=[], metavar="PATH=SPEC")
    p.add_argument("--parent-pid", type=int)
    p.add_argument("--proxy", action="store_true")
    p.add_argument("--proxy-auth", metavar="USER:PASS")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.tls_dir:
        args.cert = args.cert or os.path.join(args.tls_dir, "server.pem")
        args.key = args.key or os.path.join(args.tls_dir, "server.key")
    if not args.plain and not (args.cert and args.key):
        p.error("give --tls-dir, --cert and --key, or --plain")
    return args


def main(argv):
    args = parse_args(argv)
    config = Config(args.root)
    for spec in args.route:
        path, sep, route = spec.partition("=")
        if not sep or not path.startswith("/"):
            raise SystemExit("fault-server: bad --route %r (PATH=SPEC)" % spec)
        config.routes[path] = parse_route_spec(route)

    tls_context = None
    if not args.plain:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.minimum_version = ssl.TLSVersion.TLSv1_2
        tls_context.load_cert_chain(args.cert, args.key)

    host, family = loopback_family(args.host)
    proxy_auth = None
    if args.proxy_auth is not None:
        import base64
        proxy_auth = "Basic " + base64.b64encode(args.proxy_auth.encode("utf-8")).decode("ascii")
    server = Server((host, args.port), family, config, tls_context, args.verbose,
                    args.proxy, proxy_auth)

    stop = threading.Event()

    def on_stop(signum, frame):
        stop.set()

    def on_down(signum, frame):
        config.down = signum == signal.SIGUSR1

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGUSR1, on_down)
    signal.signal(signal.SIGUSR2, on_down)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    if args.pid_file:
        write_atomically(args.pid_file, "%d\n" % os.getpid())
    write_atomically(args.port_file, "%d\n" % server.server_address[1])

    while not stop.wait(0.2):
        if args.parent_pid and os.getppid() != args.parent_pid:
            break
    server.shutdown()
    server.server_close()
    for path in (args.port_file, args.pid_file):
        if path:
            try:
                os.unlink(path)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
