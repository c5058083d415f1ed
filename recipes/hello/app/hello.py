"""hello — the smallest useful service for a lade image: stdlib only.

GET /healthz -> 200 {"status": "ok", "service": "hello"}
GET /        -> 200 a short text
Listens on 0.0.0.0:--port (default 8080); one access log line per request on stdout.
"""

import argparse
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVICE = "hello"


class Handler(BaseHTTPRequestHandler):
    server_version = "hello/1.0"

    def _send(self, status, body, content_type):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            body = json.dumps({"status": "ok", "service": SERVICE}, sort_keys=True)
            self._send(200, body, "application/json")
        elif self.path == "/":
            self._send(200, "hello from a lade image\n", "text/plain; charset=utf-8")
        else:
            self._send(404, "not found\n", "text/plain; charset=utf-8")

    do_HEAD = do_GET

    def log_message(self, format, *args):
        # Containers log to stdout, not stderr.
        sys.stdout.write("%s %s\n" % (self.address_string(), format % args))
        sys.stdout.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(description="hello HTTP service")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="0.0.0.0")
    args = parser.parse_args(argv)

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    # SIGTERM (docker stop) ends the loop cleanly instead of killing mid-request.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("hello: listening on %s:%d" % (args.host, args.port), flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
