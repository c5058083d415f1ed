#!/bin/bash
# lade build --sbom spdx|cyclonedx on a real image (fixture wheels in a venv on the Python base,
# plus app files). Each document must:
#   - validate with the official tools of the tools venv (.ci/tools-venv): SPDX with the SPDX
#     project's own validator (`pyspdxtools -i FILE`, PyPI spdx-tools) plus a structural check
#     written here (ids unique, relationships name existing elements); CycloneDX against the
#     1.5 JSON schema that PyPI cyclonedx-python-lib ships (found inside the installed package,
#     applied with jsonschema). Both must reject mutated copies (a required field missing, a
#     wrong version, relationship type or key);
#   - list exactly the Python distributions whose .dist-info the image layers hold, with the
#     wheel's sha256 and the pypi purl; the base image digest; every app file with its sha256;
#   - be attached: index.json has an artifact manifest (no ref name) whose subject is the
#     image manifest and whose one layer is the document, byte for byte what --sbom-out wrote;
# and skopeo still reads the image. Two builds give the same document bytes.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 skopeo sha256sum
export LC_ALL=C
umask 022

grep -q -- '--sbom' <<<"$("$LADE" build --help 2>&1)" || skip_all "this lade build has no --sbom option yet"
need_tools_venv
PYSPDXTOOLS=$LADE_TOOLS_VENV/bin/pyspdxtools
[ -x "$PYSPDXTOOLS" ] || skip_all "no pyspdxtools in $LADE_TOOLS_VENV (bash .ci/tools-venv)"
ensure_base

# The CycloneDX JSON schemas as cyclonedx-python-lib ships them.
CDX_SCHEMA=$("$TOOLS_PY" -c '
import os, cyclonedx.schema._res as r
print(os.path.dirname(r.__file__))' 2>/dev/null) && [ -f "$CDX_SCHEMA/bom-1.5.SNAPSHOT.schema.json" ] ||
	skip_all "cyclonedx-python-lib in $LADE_TOOLS_VENV ships no bom-1.5 JSON schema"
diag "SPDX: $("$TOOLS_PY" -m pip show spdx-tools 2>/dev/null | grep -m1 ^Version), CycloneDX schemas: $CDX_SCHEMA"

R=$T/recipe
W=$R/wheels
python3 "$LADE_SRCDIR/tests/fixtures/make-wheels.py" "$W" >"$T/make-wheels.log" 2>&1 ||
	bail_out "make-wheels.py failed: $(cat "$T/make-wheels.log")"
python3 - "$W" >"$R/requirements.lock" <<'PY' || bail_out "cannot write the lock"
import glob, hashlib, os, sys
for pat in ("datapkg-*.whl", "platpkg-*.whl", "abipkg-*.whl"):
    for w in glob.glob(os.path.join(sys.argv[1], pat)):
        name, version = os.path.basename(w).split("-")[:2]
        print(f"{name}=={version} --hash=sha256:{hashlib.sha256(open(w, 'rb').read()).hexdigest()}")
PY
mkdir -p "$R/app/lib"
printf 'print("hello")\n' >"$R/app/main.py"
printf 'X = 1\n' >"$R/app/lib/util.py"
cat >"$R/recipe.yaml" <<YAML
name: sbom
tag: t
base: {oci: "$BASE_REF"}
python:
  interpreter: $TEST_PY
  version: "$TEST_PYVER"
  venv: /opt/venv
  lock: requirements.lock
  wheelhouse: [wheels/]
files:
  - {src: app/, dst: /app}
config:
  entrypoint: ["/opt/venv/bin/python", "/app/main.py"]
YAML

BASE_DIGEST=sha256:$(skopeo inspect --raw "oci:$BASE_REF" | sha256sum | cut -d' ' -f1)

# The facts the documents are checked against, from the image itself and the inputs.
cat >"$T/facts.py" <<'PY'
import glob, hashlib, io, json, os, sys, tarfile
layout, ref, wheels, app = sys.argv[1:5]
blob = lambda d: os.path.join(layout, "blobs/sha256", d.split(":")[1])
index = json.load(open(os.path.join(layout, "index.json")))
(m,) = [x for x in index["manifests"]
        if x.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref]
manifest = json.load(open(blob(m["digest"])))
dists = {}
for layer in manifest["layers"]:
    with tarfile.open(blob(layer["digest"]), "r:*") as tf:
        for ti in tf:
            parts = ti.name.lstrip("./").split("/")
            if (ti.isfile() and parts[0] == "opt" and len(parts) >= 2 and
                    parts[-2].endswith(".dist-info") and parts[-1] == "METADATA"):
                meta = tf.extractfile(ti).read().decode()
                hdr = dict(l.split(": ", 1) for l in meta.split("\n\n")[0].splitlines() if ": " in l)
                dists[hdr["Name"]] = hdr["Version"]
def norm(n):
    import re
    return re.sub(r"[-_.]+", "-", n).lower()
sha = {}
for w in glob.glob(os.path.join(wheels, "*.whl")):
    name, version = os.path.basename(w).split("-")[:2]
    sha[(norm(name), version)] = hashlib.sha256(open(w, "rb").read()).hexdigest()
files = {}
for d, _, fs in os.walk(app):
    for f in fs:
        p = os.path.join(d, f)
        files["/app/" + os.path.relpath(p, app)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
json.dump({"image": m["digest"], "dists": {norm(k): v for k, v in dists.items()},
           "wheel_sha": {f"{k[0]}@{k[1]}": v for k, v in sha.items()}, "files": files},
          open(sys.argv[5], "w"), sort_keys=True)
PY

# validate_spdx DOC FACTS BASE_DIGEST — the SPDX 2.3 structural check.
cat >"$T/check-spdx.py" <<'PY'
import copy, json, re, sys, urllib.parse
doc = json.load(open(sys.argv[1])); facts = json.load(open(sys.argv[2])); base = sys.argv[3]
errors = []
def need(cond, msg):
    if not cond:
        errors.append(msg)
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ID = re.compile(r"^SPDXRef-[A-Za-z0-9.-]+$")
TOP = {"SPDXID", "spdxVersion", "dataLicense", "name", "documentNamespace", "creationInfo",
       "packages", "files", "relationships", "comment", "externalDocumentRefs",
       "hasExtractedLicensingInfos", "annotations", "documentDescribes", "snippets"}
def structure(doc, need):
    for k in ("SPDXID", "creationInfo", "dataLicense", "name", "spdxVersion", "documentNamespace"):
        need(k in doc, f"missing {k}")
    need(not set(doc) - TOP, f"unknown top-level keys {set(doc) - TOP}")
    need(doc.get("spdxVersion") == "SPDX-2.3", "spdxVersion")
    need(doc.get("dataLicense") == "CC0-1.0", "dataLicense")
    need(doc.get("SPDXID") == "SPDXRef-DOCUMENT", "document SPDXID")
    need(re.match(r"^[a-z]+://[^#\s]+$", doc.get("documentNamespace", "")), "namespace is a URI without #")
    ci = doc.get("creationInfo", {})
    need(DATE.match(ci.get("created", "")), "created date")
    need(ci.get("creators") and all(re.match(r"^(Tool|Person|Organization): .+", c) for c in ci["creators"]),
         "creators")
    ids = {"SPDXRef-DOCUMENT"}
    PKG = {"SPDXID", "name", "downloadLocation", "versionInfo", "filesAnalyzed", "checksums",
           "externalRefs", "licenseConcluded", "licenseDeclared", "licenseComments", "copyrightText",
           "packageFileName", "primaryPackagePurpose", "comment", "supplier", "originator",
           "homepage", "summary", "description", "sourceInfo", "packageVerificationCode"}
    ALGS = {"SHA1", "SHA224", "SHA256", "SHA384", "SHA512", "MD5", "SHA3-256", "BLAKE2b-256"}
    def checksums(cs, where, need_one):
        need(isinstance(cs, list) and (cs or not need_one), f"{where}: checksums")
        for c in cs or []:
            need(set(c) == {"algorithm", "checksumValue"} and c["algorithm"] in ALGS and
                 re.match(r"^[0-9a-f]+$", c["checksumValue"]), f"{where}: checksum {c}")
    for p in doc.get("packages", []):
        w = f"package {p.get('name')}"
        for k in ("SPDXID", "name", "downloadLocation"):
            need(k in p, f"{w}: missing {k}")
        need(not set(p) - PKG, f"{w}: unknown keys {set(p) - PKG}")
        need(ID.match(p.get("SPDXID", "")) and p["SPDXID"] not in ids, f"{w}: SPDXID")
        ids.add(p.get("SPDXID"))
        if p.get("filesAnalyzed", True):
            need("packageVerificationCode" in p, f"{w}: filesAnalyzed needs a verification code")
        checksums(p.get("checksums", []), w, False)
        for r in p.get("externalRefs", []):
            need(set(r) <= {"referenceCategory", "referenceType", "referenceLocator", "comment"} and
                 r["referenceCategory"] in ("PACKAGE-MANAGER", "SECURITY", "PERSISTENT-ID", "OTHER") and
                 " " not in r["referenceLocator"], f"{w}: externalRef {r}")
        need(p.get("primaryPackagePurpose", "OTHER") in
             ("APPLICATION", "FRAMEWORK", "LIBRARY", "CONTAINER", "OPERATING-SYSTEM", "DEVICE",
              "FIRMWARE", "SOURCE", "ARCHIVE", "FILE", "INSTALL", "OTHER"), f"{w}: purpose")
    for f in doc.get("files", []):
        w = f"file {f.get('fileName')}"
        need(set(f) <= {"SPDXID", "fileName", "checksums", "licenseConcluded", "copyrightText",
                        "fileTypes", "comment", "licenseInfoInFiles", "noticeText"}, f"{w}: keys")
        need(ID.match(f.get("SPDXID", "")) and f["SPDXID"] not in ids, f"{w}: SPDXID")
        ids.add(f.get("SPDXID"))
        need(f.get("fileName", "").startswith("./"), f"{w}: fileName relative (./)")
        checksums(f.get("checksums"), w, True)
    TYPES = {"DESCRIBES", "CONTAINS", "DESCENDANT_OF", "DEPENDS_ON", "OTHER", "ANCESTOR_OF"}
    for r in doc.get("relationships", []):
        need(set(r) <= {"spdxElementId", "relationshipType", "relatedSpdxElement", "comment"} and
             r["relationshipType"] in TYPES and r["spdxElementId"] in ids and
             r["relatedSpdxElement"] in ids, f"relationship {r}")
    rels = {(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"])
            for r in doc.get("relationships", [])}
    described = [b for a, t, b in rels if a == "SPDXRef-DOCUMENT" and t == "DESCRIBES"]
    need(described, "the document DESCRIBES something")
    return described, rels
described, rels = structure(doc, need)
# The checker must be able to fail: copies lacking a required field are rejected.
for what, drop in (("documentNamespace", lambda d: d.pop("documentNamespace", 0)),
                   ("creationInfo.created", lambda d: d.get("creationInfo", {}).pop("created", 0)),
                   ("a package's downloadLocation",
                    lambda d: (d.get("packages") or [{}])[0].pop("downloadLocation", 0)),
                   ("a file's checksums", lambda d: (d.get("files") or [{}])[0].pop("checksums", 0))):
    bad = copy.deepcopy(doc); drop(bad); found = []
    structure(bad, lambda cond, msg: cond or found.append(msg))
    need(found, f"self-check: a copy without {what} must fail the structural check")
# Content
pk = {p["SPDXID"]: p for p in doc["packages"]}
pypi = {}
for p in doc["packages"]:
    purls = [r["referenceLocator"] for r in p.get("externalRefs", [])
             if r["referenceType"] == "purl" and r["referenceLocator"].startswith("pkg:pypi/")]
    if purls:
        name, _, ver = purls[0][len("pkg:pypi/"):].partition("@")
        ver = urllib.parse.unquote(ver)
        pypi[name] = (ver, p)
        need(p["checksums"] == [{"algorithm": "SHA256",
                                 "checksumValue": facts["wheel_sha"].get(f"{name}@{ver}")}],
             f"{name}: wheel sha256")
        need(("SPDXRef-Image", "CONTAINS", p["SPDXID"]) in rels, f"{name}: image CONTAINS it")
need({k: v[0] for k, v in pypi.items()} == facts["dists"],
     f"pypi packages {sorted((k, v[0]) for k, v in pypi.items())} != dist-info {sorted(facts['dists'].items())}")
if "platpkg" in pypi:
    need(pypi["platpkg"][1].get("licenseDeclared") == "BSD-3-Clause", "platpkg license from METADATA")
bases = [p for p in doc["packages"] if p.get("versionInfo") == base]
need(len(bases) == 1 and bases[0]["primaryPackagePurpose"] == "CONTAINER", "base image with its digest")
img = [p for p in doc["packages"] if p["SPDXID"] in described and p.get("primaryPackagePurpose") == "CONTAINER"]
need(len(img) == 1 and img[0]["checksums"][0]["checksumValue"] == facts["image"].split(":")[1],
     "the described image carries the manifest digest")
files = {f["fileName"][1:]: [c["checksumValue"] for c in f["checksums"] if c["algorithm"] == "SHA256"][0]
         for f in doc.get("files", [])}
for path, sha in facts["files"].items():
    need(files.get(path) == sha, f"app file {path} listed with its sha256")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY

# check-spdx-tools.py PYSPDXTOOLS validate|selfcheck DOC — the SPDX project's validator
# (pyspdxtools -i). validate exits 0 when the document is valid, 1 otherwise (and prints what
# pyspdxtools said). selfcheck: each mutated copy must be refused by it.
cat >"$T/check-spdx-tools.py" <<'PY'
import copy, json, os, subprocess, sys, tempfile
tool, mode, doc_file = sys.argv[1:4]
def run(path):
    p = subprocess.run([tool, "-i", path], capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr).strip()
if mode == "validate":
    rc, out = run(doc_file)
    if rc != 0:
        print(out[-3000:])
    sys.exit(0 if rc == 0 else 1)
doc = json.load(open(doc_file))
def first(d, key):
    return (d.get(key) or [{}])[0]
mutations = (
    ("without documentNamespace", lambda d: d.pop("documentNamespace", 0)),
    ("without creationInfo.created", lambda d: d.get("creationInfo", {}).pop("created", 0)),
    ("without a package's downloadLocation", lambda d: first(d, "packages").pop("downloadLocation", 0)),
    ("without a file's checksums", lambda d: first(d, "files").pop("checksums", 0)),
    ("without a file's SHA1 (clause 8.4)",
     lambda d: first(d, "files").update(checksums=[c for c in first(d, "files").get("checksums", []) if c.get("algorithm") != "SHA1"])),
    ("with spdxVersion SPDX-1.2", lambda d: d.update(spdxVersion="SPDX-1.2")),
    ("with relationshipType CONTAINED_BY_NOTHING",
     lambda d: first(d, "relationships").update(relationshipType="CONTAINED_BY_NOTHING")),
    ("with a relationship to an unknown element",
     lambda d: first(d, "relationships").update(relatedSpdxElement="SPDXRef-not-there")),
)
failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for what, mutate in mutations:
        bad = copy.deepcopy(doc)
        mutate(bad)
        path = os.path.join(tmp, "bad.spdx.json")
        json.dump(bad, open(path, "w"))
        rc, out = run(path)
        if rc == 0:
            print(f"pyspdxtools accepts a copy {what}")
            failed = 1
sys.exit(failed)
PY

cat >"$T/check-cdx.py" <<'PY'
import json, sys, urllib.parse
doc = json.load(open(sys.argv[1])); facts = json.load(open(sys.argv[2])); base = sys.argv[3]
schema_dir = sys.argv[4]
errors = []
def need(cond, msg):
    if not cond:
        errors.append(msg)
if True:
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource
    res = [json.load(open(f"{schema_dir}/{n}.SNAPSHOT.schema.json"))
           for n in ("bom-1.5", "spdx", "jsf-0.82")]
    reg = Registry().with_resources([(r["$id"], Resource.from_contents(r)) for r in res])
    v = Draft7Validator(res[0], registry=reg)
    # The validator must be able to fail: an unknown key is rejected by the 1.5 schema.
    bad = json.loads(json.dumps(doc)); bad["lade-not-in-schema"] = 1
    need(list(v.iter_errors(bad)), "schema self-check: an unknown key must fail")
    for e in v.iter_errors(doc):
        errors.append(f"schema: {e.json_path}: {e.message[:300]}")
need(doc.get("specVersion") == "1.5" and doc.get("bomFormat") == "CycloneDX", "1.5 header")
comps = doc.get("components", [])
libs = {}
for c in comps:
    if c.get("purl", "").startswith("pkg:pypi/"):
        name, _, ver = c["purl"][len("pkg:pypi/"):].partition("@")
        ver = urllib.parse.unquote(ver)
        libs[name] = (ver, c)
        need(c["type"] == "library", f"{name}: library")
        need(c.get("hashes") == [{"alg": "SHA-256", "content": facts["wheel_sha"].get(f"{name}@{ver}")}],
             f"{name}: wheel sha256")
need({k: v[0] for k, v in libs.items()} == facts["dists"],
     f"pypi components {sorted((k, v[0]) for k, v in libs.items())} != dist-info {sorted(facts['dists'].items())}")
if "platpkg" in libs:
    need(libs["platpkg"][1].get("licenses") == [{"expression": "BSD-3-Clause"}], "platpkg license")
need([c for c in comps if c["type"] == "container" and c.get("version") == base], "base container")
img = doc.get("metadata", {}).get("component", {})
need(img.get("type") == "container" and
     img.get("hashes", [{}])[0].get("content") == facts["image"].split(":")[1], "image component")
files = {c["name"]: c["hashes"][0]["content"] for c in comps if c["type"] == "file"}
for path, sha in facts["files"].items():
    need(files.get(path) == sha, f"app file {path} listed with its sha256")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY

# check_attached LAYOUT IMAGE_DIGEST DOC MEDIA_TYPE
cat >"$T/check-attached.py" <<'PY'
import hashlib, json, os, sys
layout, image, doc, mt = sys.argv[1:5]
blob = lambda d: os.path.join(layout, "blobs/sha256", d.split(":")[1])
index = json.load(open(os.path.join(layout, "index.json")))
arts = []
for e in index["manifests"]:
    m = json.load(open(blob(e["digest"])))
    if m.get("subject", {}).get("digest") == image:
        arts.append((e, m))
assert len(arts) == 1, f"{len(arts)} manifests have the image as subject"
e, m = arts[0]
assert "org.opencontainers.image.ref.name" not in e.get("annotations", {}), e
assert e["mediaType"] == "application/vnd.oci.image.manifest.v1+json", e
assert hashlib.sha256(open(blob(e["digest"]), "rb").read()).hexdigest() == e["digest"].split(":")[1]
assert m["artifactType"] == mt, m
assert m["subject"]["mediaType"] == "application/vnd.oci.image.manifest.v1+json", m
assert m["subject"]["size"] == os.path.getsize(blob(image)), m
assert m["config"]["mediaType"] == "application/vnd.oci.empty.v1+json", m
assert m["config"]["digest"] == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", m
assert open(blob(m["config"]["digest"]), "rb").read() == b"{}"
(l,) = m["layers"]
assert l["mediaType"] == mt, l
data = open(blob(l["digest"]), "rb").read()
assert data == open(doc, "rb").read(), "the attached document differs from --sbom-out"
assert l["size"] == len(data) and hashlib.sha256(data).hexdigest() == l["digest"].split(":")[1]
PY

for fmt in spdx cyclonedx; do
	case $fmt in
	spdx) mt=application/spdx+json ;;
	cyclonedx) mt=application/vnd.cyclonedx+json ;;
	esac
	out=$T/out-$fmt
	run_lade build "$R/recipe.yaml" -o "$out" -q --compression gzip --sbom $fmt --sbom-out "$T/$fmt.json"
	is "$RC" 0 "$fmt: lade build --sbom $fmt --sbom-out"
	if [ "$RC" -ne 0 ]; then
		diag "$ERR"
		continue
	fi
	image=$(printf '%s\n' "$OUT" | head -n1 | cut -d' ' -f1)
	check "$fmt: --sbom-out wrote a JSON document" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/$fmt.json"
	python3 "$T/facts.py" "$out" t "$W" "$R/app" "$T/facts-$fmt.json" 2>"$T/facts.err" ||
		bail_out "cannot read the image: $(cat "$T/facts.err")"
	is "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["image"])' "$T/facts-$fmt.json")" \
		"$image" "$fmt: the built image is the one in index.json"
	like "$(python3 -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1]))["dists"])))' "$T/facts-$fmt.json")" \
		"datapkg" "$fmt: the image holds the fixture distributions"
	if [ $fmt = spdx ]; then
		check "spdx: SPDX 2.3 structure (required fields, ids, enums; copies lacking one fail) and content" \
			python3 "$T/check-spdx.py" "$T/$fmt.json" "$T/facts-$fmt.json" "$BASE_DIGEST"
		check "spdx: pyspdxtools refuses copies lacking a required field or with a wrong version, relationship type or target" \
			"$TOOLS_PY" "$T/check-spdx-tools.py" "$PYSPDXTOOLS" selfcheck "$T/$fmt.json"
		check "spdx: valid for the SPDX project's validator (pyspdxtools -i)" \
			"$TOOLS_PY" "$T/check-spdx-tools.py" "$PYSPDXTOOLS" validate "$T/$fmt.json"
	else
		check "cyclonedx: valid against cyclonedx-python-lib's CycloneDX 1.5 JSON schema, content exact" \
			"$TOOLS_PY" "$T/check-cdx.py" "$T/$fmt.json" "$T/facts-$fmt.json" "$BASE_DIGEST" "$CDX_SCHEMA"
	fi
	check "$fmt: attached as an OCI 1.1 artifact with the image as subject, = --sbom-out" \
		python3 "$T/check-attached.py" "$out" "$image" "$T/$fmt.json" "$mt"
	raw=$(skopeo inspect --raw "oci:$out:t" 2>&1)
	is "sha256:$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)" "$image" "$fmt: skopeo inspect --raw still reads the image"
	check "$fmt: skopeo inspect reads the image" skopeo inspect "oci:$out:t"

	# The same build again: the same document, byte for byte.
	run_lade build "$R/recipe.yaml" -o "$T/again-$fmt" -q --compression gzip --sbom $fmt --sbom-out "$T/$fmt-again.json"
	is "$RC" 0 "$fmt: second build"
	check "$fmt: deterministic document" cmp "$T/$fmt.json" "$T/$fmt-again.json"
done

run_lade build "$R/recipe.yaml" -o "$T/bad" -q --sbom swid
like "$RC:$ERR" "^2:.*swid" "an unknown --sbom format is a usage error naming it"

done_testing
