"""The occupations the service ranks (occupations.json, hand-written, shipped with the app) and
the text each is embedded from: the same function is used by embed.py when the embeddings are
precomputed and by the service when it checks that they belong to this catalogue."""

import hashlib
import json
import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "occupations.json")


def load(path=PATH):
    with open(path, "rb") as f:
        raw = f.read()
    return json.loads(raw)["occupations"], hashlib.sha256(raw).hexdigest()


def text(o):
    """What an occupation is embedded as: its label, description and essential skills."""
    return "%s. %s Skills: %s." % (o["title"], o["description"], ", ".join(o["skills"]))
