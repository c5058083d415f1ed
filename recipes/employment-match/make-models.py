#!/usr/bin/env python3
"""Write the employment-match embeddings into models/ (python3 stdlib only, deterministic).

    make-models.py [OUTDIR]        (default: the models/ directory next to this script)

Output:
  skills.npy        float32 (S, 64): one unit vector per skill
  occupations.npy   float32 (200, 64): one unit vector per occupation, the normalised sum of
                    its essential skills' vectors (weight 1.0) and optional ones (0.5) plus a
                    little noise, so a request naming an occupation's skills finds it
  labels.json       {"dim", "skills": [...], "occupations": [{"code", "title", "skills"}]}

The occupations are ESCO-style (ISCO-08 group code + a title) but made up: the point is a
realistic data layout and size, not the taxonomy. Everything comes from random.Random(SEED),
so a rerun writes the same bytes; the generated files are committed, the recipe builds from a
checkout without running this.
"""
import json
import math
import os
import random
import struct
import sys

SEED = 20240601
DIM = 64
N_OCCUPATIONS = 200

SKILLS = [
    "python", "sql", "java", "javascript", "typescript", "c", "c++", "rust", "go", "bash",
    "linux", "docker", "kubernetes", "terraform", "aws", "azure", "gcp", "networking",
    "security", "git", "ci/cd", "testing", "machine learning", "deep learning", "statistics",
    "data analysis", "data visualisation", "excel", "spark", "hadoop", "etl", "pytorch",
    "tensorflow", "nlp", "computer vision", "r", "matlab", "react", "html", "css",
    "ux design", "graphic design", "figma", "project management", "agile", "scrum",
    "stakeholder management", "budgeting", "accounting", "bookkeeping", "payroll", "tax law",
    "auditing", "financial modelling", "sales", "negotiation", "customer service",
    "marketing", "seo", "copywriting", "social media", "public speaking", "teaching",
    "curriculum design", "mentoring", "recruitment", "labour law", "nursing", "patient care",
    "first aid", "pharmacology", "phlebotomy", "surgery assistance", "elderly care",
    "child care", "cooking", "food safety", "baking", "hospitality", "cleaning",
    "forklift operation", "logistics", "inventory management", "procurement",
    "supply chain", "truck driving", "welding", "carpentry", "plumbing", "electrical wiring",
    "hvac", "masonry", "painting", "cnc machining", "quality control", "lean manufacturing",
    "autocad", "mechanical design", "electronics", "plc programming", "agriculture",
    "animal care", "horticulture", "landscaping", "translation", "german", "french",
    "spanish", "legal research", "contract drafting", "journalism", "photography",
    "video editing", "music", "research", "laboratory techniques", "chemistry", "biology",
]

# (ISCO-08 unit group, title stem, core skills) — each family gives several occupations.
FAMILIES = [
    ("2511", "systems analyst", ["sql", "project management", "stakeholder management", "agile"]),
    ("2512", "software developer", ["python", "java", "git", "testing", "ci/cd"]),
    ("2513", "web developer", ["javascript", "typescript", "react", "html", "css"]),
    ("2514", "applications programmer", ["c", "c++", "rust", "go", "linux"]),
    ("2521", "database designer", ["sql", "etl", "data analysis", "python"]),
    ("2522", "systems administrator", ["linux", "bash", "networking", "security", "docker"]),
    ("2523", "network engineer", ["networking", "security", "linux", "bash"]),
    ("2529", "cloud engineer", ["aws", "azure", "gcp", "terraform", "kubernetes", "docker"]),
    ("2120", "data scientist", ["python", "statistics", "machine learning", "sql", "data analysis"]),
    ("2120", "machine learning engineer", ["python", "pytorch", "deep learning", "machine learning", "docker"]),
    ("2120", "statistician", ["statistics", "r", "research", "data analysis"]),
    ("2166", "graphic designer", ["graphic design", "figma", "photography", "ux design"]),
    ("2166", "ux designer", ["ux design", "figma", "research", "html"]),
    ("1213", "project manager", ["project management", "budgeting", "stakeholder management", "scrum"]),
    ("2411", "accountant", ["accounting", "tax law", "auditing", "excel"]),
    ("4311", "bookkeeper", ["bookkeeping", "payroll", "excel", "accounting"]),
    ("2413", "financial analyst", ["financial modelling", "excel", "statistics", "data analysis"]),
    ("3322", "sales representative", ["sales", "negotiation", "customer service"]),
    ("2431", "marketing specialist", ["marketing", "seo", "social media", "copywriting"]),
    ("2341", "primary school teacher", ["teaching", "curriculum design", "child care", "public speaking"]),
    ("2423", "recruiter", ["recruitment", "labour law", "negotiation", "public speaking"]),
    ("2221", "nurse", ["nursing", "patient care", "first aid", "pharmacology"]),
    ("3212", "laboratory technician", ["laboratory techniques", "phlebotomy", "chemistry", "biology"]),
    ("5322", "home care aide", ["elderly care", "patient care", "first aid", "cleaning"]),
    ("5120", "cook", ["cooking", "food safety", "baking", "hospitality"]),
    ("9112", "cleaner", ["cleaning", "hospitality", "customer service"]),
    ("8344", "forklift driver", ["forklift operation", "logistics", "inventory management"]),
    ("4321", "warehouse clerk", ["inventory management", "logistics", "procurement", "excel"]),
    ("8332", "truck driver", ["truck driving", "logistics", "first aid"]),
    ("7212", "welder", ["welding", "quality control", "cnc machining"]),
    ("7115", "carpenter", ["carpentry", "painting", "masonry"]),
    ("7126", "plumber", ["plumbing", "hvac", "customer service"]),
    ("7411", "electrician", ["electrical wiring", "electronics", "plc programming"]),
    ("2144", "mechanical engineer", ["mechanical design", "autocad", "lean manufacturing", "matlab"]),
    ("6113", "gardener", ["horticulture", "landscaping", "agriculture"]),
    ("2643", "translator", ["translation", "german", "french", "spanish"]),
    ("2611", "lawyer", ["legal research", "contract drafting", "labour law", "negotiation"]),
    ("2642", "journalist", ["journalism", "copywriting", "photography", "research"]),
    ("2654", "video editor", ["video editing", "photography", "music"]),
    ("2131", "biologist", ["biology", "research", "laboratory techniques", "statistics"]),
]
LEVELS = ["junior", "", "senior", "lead", "trainee"]


def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def write_npy(path, rows):
    """A version 1.0 .npy file, little-endian float32, C order (what numpy.load reads)."""
    shape = "(%d, %d)" % (len(rows), len(rows[0]))
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape
    # magic (6) + version (2) + header length (2) + header + padding + \n: a multiple of 64
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * (pad % 64) + "\n"
    with open(path + ".tmp", "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        for r in rows:
            f.write(struct.pack("<%df" % len(r), *r))
    os.replace(path + ".tmp", path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(SEED)
    svec = {s: unit([rnd.gauss(0.0, 1.0) for _ in range(DIM)]) for s in SKILLS}

    occupations = []
    i = 0
    while len(occupations) < N_OCCUPATIONS:
        code, stem, core = FAMILIES[i % len(FAMILIES)]
        level = LEVELS[(i // len(FAMILIES)) % len(LEVELS)]
        i += 1
        title = (level + " " + stem).strip()
        essential = sorted(rnd.sample(core, max(2, len(core) - rnd.randrange(2))))
        optional = sorted(rnd.sample([s for s in SKILLS if s not in core], 2))
        v = [0.0] * DIM
        for s, w in [(s, 1.0) for s in essential] + [(s, 0.5) for s in optional]:
            v = [a + w * b for a, b in zip(v, svec[s])]
        v = unit([a + rnd.gauss(0.0, 0.15) for a in v])
        occupations.append(({"code": "%s.%d" % (code, len(occupations) + 1), "title": title,
                             "skills": essential + optional}, v))

    write_npy(os.path.join(out, "skills.npy"), [svec[s] for s in SKILLS])
    write_npy(os.path.join(out, "occupations.npy"), [v for _, v in occupations])
    labels = {"dim": DIM, "skills": SKILLS, "occupations": [o for o, _ in occupations]}
    with open(os.path.join(out, "labels.json.tmp"), "w") as f:
        json.dump(labels, f, sort_keys=True, indent=1)
        f.write("\n")
    os.replace(os.path.join(out, "labels.json.tmp"), os.path.join(out, "labels.json"))
    print("%s: %d skills, %d occupations, dim %d" % (out, len(SKILLS), len(occupations), DIM))


if __name__ == "__main__":
    main()
