"""python -m employment_match [--port N] [--host H] [--data DIR] [--backend B] [--match SKILL...]"""

import argparse
import json
import os
import sys

from .matcher import Matcher


def main(argv=None):
    p = argparse.ArgumentParser(prog="employment_match", description="skill-to-occupation matching API")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--data", default=os.environ.get("EMPLOYMENT_MATCH_DATA", "/data"),
                   help="the precomputed embeddings (default $EMPLOYMENT_MATCH_DATA or /data)")
    p.add_argument("--backend", default=None, help="auto (default), embedding or keyword")
    p.add_argument("--match", metavar="SKILL", nargs="+", help="print the JSON answer for these skills and exit")
    args = p.parse_args(argv)

    matcher = Matcher(args.data, args.backend)
    if args.match:
        print(json.dumps(matcher.match(args.match), sort_keys=True))
        return 0
    import uvicorn

    from .app import create_app

    print("employment-match: backend %s, %d occupations, listening on %s:%d"
          % (matcher.backend, len(matcher.occupations), args.host, args.port), flush=True)
    uvicorn.run(create_app(matcher), host=args.host, port=args.port, log_level="warning")
    return 0


sys.exit(main())
