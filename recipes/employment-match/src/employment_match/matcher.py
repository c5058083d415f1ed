"""Cosine similarity of a skill set against every occupation, with the best backend present.

Backends, tried in this order unless EMPLOYMENT_MATCH_BACKEND names one:
  torch   torch.nn.functional.cosine_similarity (production/full images, when torch imports)
  numpy   one matrix-vector product over the pre-normalised occupation matrix
  python  the same sums in pure Python (the lightweight image has no ML wheels)
All of them compute in float64 from the same float32 data, so they rank identically.
"""

import json
import math
import os
import struct

BACKENDS = ("torch", "numpy", "python")


def read_npy(path):
    """(rows, cols, flat list of floats) of a 2-D little-endian float32 .npy, without numpy."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise ValueError("%s: not a .npy file" % path)
    major = data[6]
    if major == 1:
        (hlen,) = struct.unpack_from("<H", data, 8)
        start = 10
    else:
        (hlen,) = struct.unpack_from("<I", data, 8)
        start = 12
    header = data[start:start + hlen].decode("latin1")
    # The header is a Python dict literal; only the three keys numpy writes matter.
    if "'<f4'" not in header or "'fortran_order': False" not in header:
        raise ValueError("%s: only C-order little-endian float32 is supported" % path)
    shape = header.split("'shape':")[1].split(")")[0].strip(" (")
    rows, cols = (int(x) for x in shape.split(",")[:2])
    body = data[start + hlen:]
    if len(body) != rows * cols * 4:
        raise ValueError("%s: %d data bytes, expected %d" % (path, len(body), rows * cols * 4))
    return rows, cols, list(struct.unpack("<%df" % (rows * cols), body))


class Matcher:
    def __init__(self, models_dir, backend=None):
        with open(os.path.join(models_dir, "labels.json"), encoding="utf-8") as f:
            labels = json.load(f)
        self.skills = labels["skills"]
        self.occupations = labels["occupations"]
        self.skill_index = {s: i for i, s in enumerate(self.skills)}
        self.backend, self.backend_notes = self._choose(backend or os.environ.get("EMPLOYMENT_MATCH_BACKEND", "auto"))
        self._load(models_dir)

    def _choose(self, wanted):
        notes = {}
        order = BACKENDS if wanted == "auto" else (wanted,)
        if wanted not in BACKENDS + ("auto",):
            raise ValueError("unknown backend '%s' (one of: auto, %s)" % (wanted, ", ".join(BACKENDS)))
        for name in order:
            if name == "python":
                return name, notes
            try:
                if name == "torch":
                    import torch  # noqa: F401
                    import torch.nn.functional  # noqa: F401
                else:
                    import numpy  # noqa: F401
                return name, notes
            except Exception as e:  # ImportError, or OSError from a missing shared library
                notes[name] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        raise RuntimeError("backend '%s' is not available: %s" % (wanted, notes.get(wanted, "")))

    def _load(self, models_dir):
        srows, dim, sflat = read_npy(os.path.join(models_dir, "skills.npy"))
        orows, odim, oflat = read_npy(os.path.join(models_dir, "occupations.npy"))
        if srows != len(self.skills) or orows != len(self.occupations) or odim != dim:
            raise ValueError("%s: embeddings do not match labels.json" % models_dir)
        self.dim = dim
        if self.backend == "python":
            self._svec = [sflat[i * dim:(i + 1) * dim] for i in range(srows)]
            self._ovec = []
            for i in range(orows):
                v = oflat[i * dim:(i + 1) * dim]
                n = math.sqrt(sum(x * x for x in v)) or 1.0
                self._ovec.append([x / n for x in v])
            return
        import numpy as np

        s = np.asarray(sflat, dtype=np.float64).reshape(srows, dim)
        o = np.asarray(oflat, dtype=np.float64).reshape(orows, dim)
        if self.backend == "numpy":
            self._svec = s
            self._ovec = o / np.maximum(np.linalg.norm(o, axis=1, keepdims=True), 1e-300)
        else:
            import torch

            self._svec = torch.from_numpy(s)
            self._ovec = torch.from_numpy(o)

    def scores(self, idx):
        """Cosine similarity of the mean of the skills `idx` with every occupation."""
        if self.backend == "python":
            q = [sum(self._svec[i][k] for i in idx) / len(idx) for k in range(self.dim)]
            n = math.sqrt(sum(x * x for x in q)) or 1.0
            return [sum(a * b for a, b in zip(q, o)) / n for o in self._ovec]
        if self.backend == "numpy":
            import numpy as np

            q = self._svec[idx].mean(axis=0)
            return (self._ovec @ (q / max(np.linalg.norm(q), 1e-300))).tolist()
        import torch
        import torch.nn.functional as F

        q = self._svec[idx].mean(dim=0, keepdim=True)
        return F.cosine_similarity(q.expand_as(self._ovec), self._ovec, dim=1).tolist()

    def match(self, skills, top=5):
        """{"matches": [...], "unknown": [...], "backend": ...}; ValueError when no skill is known."""
        known, unknown = [], []
        for s in skills:
            key = str(s).strip().lower()
            (known if key in self.skill_index else unknown).append(key)
        known = sorted(set(known), key=known.index)
        if not known:
            raise ValueError("none of the skills is known (%d skills in the model)" % len(self.skills))
        sc = self.scores([self.skill_index[s] for s in known])
        # Ties (never seen with this data) go to the lower index, so every backend agrees.
        order = sorted(range(len(sc)), key=lambda i: (-sc[i], i))[:top]
        return {
            "backend": self.backend,
            "skills": known,
            "unknown": unknown,
            "matches": [{"code": self.occupations[i]["code"], "title": self.occupations[i]["title"],
                         "score": round(sc[i], 6)} for i in order],
        }
