"""employment-match HTTP API (FastAPI, served by uvicorn).

GET  /healthz  -> 200 {"status": "ok", "backend", "variant", "occupations", ...}
POST /match    {"skills": ["python", "machine learning"], "top": 5}
               -> 200 {"backend", "skills", "matches": [{"code", "title", "score"}...]}
               -> 422 for a body that is not {"skills": [non-empty strings], "top": 1..50}
"""

import os

from fastapi import FastAPI
from pydantic import BaseModel, Field

from . import __version__
from .matcher import Matcher


class MatchRequest(BaseModel):
    skills: list[str] = Field(min_length=1, max_length=100)
    top: int = Field(default=5, ge=1, le=50)


def create_app(matcher: Matcher) -> FastAPI:
    app = FastAPI(title="employment-match", version=__version__)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "variant": os.environ.get("EMPLOYMENT_MATCH_VARIANT", ""), **matcher.info()}

    @app.post("/match")
    def match(req: MatchRequest):
        return matcher.match(req.skills, req.top)

    return app
