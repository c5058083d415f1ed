"""employment-match HTTP API (stdlib http.server).

POST /match   {"skills": ["python", "sql"], "top": 5}
              -> 200 {"backend": "numpy", "matches": [{"code", "title", "score"}...],
                      "skills": [...known...], "unknown": [...]}
              -> 400 {"error": ...} for bad JSON, no known skill, top outside 1..50
GET /healthz  -> 200 {"status": "ok", "backend": ..., "occupations": N, "skills": N}
GET /skills   -> 200 {"skills": [...]}
"""

import argparse
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import __version__
from .matcher import Matcher

MAX_BODY = 64 * 1024


class Handler(BaseHTTPRequestHandler):
    server_version = "employment-match/" + __version__
    matcher = None

    def _json(self, status, obj):
        data = (json.dumps(obj, sort_keys=True) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        m = self.matcher
        if self.path == "/healthz":
            self._json(200, {"status": "ok", "backend": m.backend, "backend_notes": m.backend_notes,
                             "occupations": len(m.occupations), "skills": len(m.skills),
                             "variant": os.environ.get("EMPLOYMENT_MATCH_VARIANT", "")})
        elif self.path == "/skills":
            self._json(200, {"skills": m.skills})
        else:
            self._json(404, {"error": "not found: %s" % self.path})

    def do_POST(self):
        if self.path != "/match":
            return self._json(404, {"error": "not found: %s" % self.path})
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            return self._json(400, {"error": "Content-Length must be 0..%d" % MAX_BODY})
        try:
            req = json.loads(self.rfile.read(n) or b"null")
        except ValueError as e:
            return self._json(400, {"error": "body is not JSON: %s" % e})
        if not isinstance(req, dict) or not isinstance(req.get("skills"), list):
            return self._json(400, {"error": "body must be {\"skills\": [...]}"})
        top = req.get("top", 5)
        if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= 50:
            return self._json(400, {"error": "top must be an integer 1..50"})
        try:
            self._json(200, self.matcher.match(req["skills"], top))
        except ValueError as e:
            self._json(400, {"error": str(e)})

    def log_message(self, format, *args):
        sys.stdout.write("%s %s\n" % (self.address_string(), format % args))
        sys.stdout.flush()


def main(argv=None):
    p = argparse.ArgumentParser(prog="employment_match", description="skill-matching HTTP API")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--models", default=os.environ.get("EMPLOYMENT_MATCH_MODELS", "/models"))
    p.add_argument("--backend", default=None, help="auto (default), torch, numpy or python")
    p.add_argument("--match", metavar="SKILL", nargs="+",
                   help="print the JSON answer for these skills and exit (no server)")
    args = p.parse_args(argv)

    matcher = Matcher(args.models, args.backend)
    if args.match:
        print(json.dumps(matcher.match(args.match), sort_keys=True))
        return 0
    Handler.matcher = matcher
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("employment-match: backend %s, %d occupations, listening on %s:%d"
          % (matcher.backend, len(matcher.occupations), args.host, args.port), flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0
