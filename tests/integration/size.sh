#!/bin/bash
# Size as a CI signal, on the fixture wheels installed on the Python base:
# - budgets: output.max-size (per variant) and --max-size compare config + layers (compressed,
#   base included) with the budget, to the byte; over, the build fails naming max-size and the
#   biggest distribution, the layout is still written and nothing is pushed;
# - lade diff --by package: a distribution trimmed by python.exclude between two builds has a
#   negative delta equal to the RECORD bytes that went away;
# - lade inspect --html: one self-contained page, rendered by headless Chromium (not blank, and
#   the page names the biggest distribution).
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3
export LC_ALL=C
umask 022

isnt() { # GOT NOT-EXPECTED DESC
	if [ "$1" != "$2" ]; then ok "$3"; else not_ok "$3"; diag "got '$1'"; fi
}
unlike() { # GOT EXTENDED-REGEX DESC
	if grep -Eq -- "$2" <<<"$1"; then not_ok "$3"; diag "got '$1'"; else ok "$3"; fi
}

ensure_base

R=$T/recipe
fixture_lock "$R"
mkdir -p "$R/app"
printf 'print("hello")\n' >"$R/app/main.py"
write_recipe() { # EXCLUDE — the recipe, with python.exclude EXCLUDE (a YAML list)
	cat >"$R/recipe.yaml" <<YAML
name: size
tag: t
base: {oci: "$BASE_REF"}
python:
  interpreter: $TEST_PY
  version: "$TEST_PYVER"
  venv: /opt/venv
  lock: requirements.lock
  wheelhouse: [wheels/]
  exclude: $1
files:
  - {src: app/, dst: /app}
output:
  max-size: 1GB
variants:
  roomy:
    default: true
  tight:
    output: {max-size: 1.5KiB}
YAML
}
write_recipe '[]'

# --- budgets ----------------------------------------------------------------------------
run_lade build "$R/recipe.yaml" -o "$T/out" -q --variant roomy
is "$RC" 0 "under output.max-size 1GB: the build succeeds"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }

# What a node pulls: config + layers of the manifest, from the layout itself.
pull_size() { # LAYOUT REF
	python3 - "$1" "$2" <<'PY'
import json, sys
from oci import Layout
L = Layout(sys.argv[1])
m = json.loads(L.blob(L.manifest_digest(sys.argv[2])))
print(m["config"]["size"] + sum(l["size"] for l in m["layers"]))
PY
}
S=$(pull_size "$T/out" t-roomy)
like "$S" '^[0-9]+$' "the image pulls $S bytes"

run_lade build "$R/recipe.yaml" -o "$T/exact" -q --variant roomy --max-size "$S"
is "$RC" 0 "--max-size of exactly the image's size: the build succeeds"
run_lade build "$R/recipe.yaml" -o "$T/over" -q --variant roomy --max-size "$((S - 1))" \
	--push 127.0.0.1:9/size/never
isnt "$RC" 0 "--max-size one byte under the image's size: the build fails"
like "$ERR" "over --max-size $((S - 1)) \\($((S - 1)) bytes\\)" "the error names --max-size"
unlike "$ERR" "127\\.0\\.0\\.1:9" "nothing was pushed (the dead registry was never asked)"
over_err=$ERR
run_lade inspect "$T/over:t-roomy" --json --by package
is "$RC" 0 "the layout over budget is written and can be inspected"
biggest=$(json_get '.images[0].packages[0].name' <<<"$OUT")
like "$biggest" '^[A-Za-z0-9_.-]+$' "the biggest distribution is $biggest"
like "$(printf '%s\n' "$over_err" | grep -A1 'biggest Python distributions (installed bytes')" \
	"^ +[0-9.]+ [KMG]?i?B  $biggest " "the error lists $biggest first among the distributions"
like "$over_err" "biggest layers \\(compressed, unpacked\\):" "the error lists the biggest layers"
like "$over_err" "unpacked [0-9.]+ [KMG]iB" "the error shows the unpacked size"

run_lade build "$R/recipe.yaml" -o "$T/tight" -q --variant tight
isnt "$RC" 0 "variant tight over its output.max-size 1.5KiB: the build fails"
like "$ERR" "image t-tight \\(linux/amd64\\) is .* over output.max-size 1.5KiB \\(1536 bytes\\)" \
	"the error names output.max-size as written and in bytes"
like "$(oci_refs "$T/tight")" "t-tight" "the layout is written (index.json names t-tight)"
run_lade build "$R/recipe.yaml" -o "$T/tight2" -q --variant tight --max-size 1GB
is "$RC" 0 "--max-size overrides the variant's output.max-size"
run_lade build "$R/recipe.yaml" -o "$T/bad" -q --max-size 12parsecs
is "$RC" 2 "--max-size that is not a size is a usage error"

# --- diff --by package ---------------------------------------------------------------------
# A second build of the same recipe with platpkg's C extension excluded: its RECORD shrinks.
write_recipe '["**/platpkg/_speedups*.so"]'
run_lade build "$R/recipe.yaml" -o "$T/trim" -q --variant roomy
is "$RC" 0 "build with python.exclude trimming platpkg"
run_lade inspect "$T/trim:t-roomy" --json --by package
trim_json=$OUT
run_lade inspect "$T/out:t-roomy" --json --by package
full_json=$OUT
pk_bytes() { python3 -c 'import json,sys; print(sum(p["bytes"] for p in json.loads(sys.argv[1])["images"][0]["packages"] if p["name"]==sys.argv[2]))' "$1" "$2"; }
want=$(($(pk_bytes "$trim_json" platpkg) - $(pk_bytes "$full_json" platpkg)))
like "$want" '^-[0-9]+$' "inspect --by package: platpkg lost $want bytes"

run_lade diff "$T/out:t-roomy" "$T/trim:t-roomy" --by package --json
is "$RC" 1 "diff --by package of the two builds exits 1 (different)"
[ "$RC" -le 1 ] || diag "$ERR"
printf '%s\n' "$OUT" >"$T/diff.json"
check "platpkg: delta $want, same version, status changed; its row is first (sorted by |delta|)" \
	python3 - "$T/diff.json" "$want" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
rows = j["rows"]
(p,) = [r for r in rows if r["kind"] == "package" and r["name"] == "platpkg"]
assert p["delta"] == int(sys.argv[2]) and p["delta"] == p["b_bytes"] - p["a_bytes"], p
assert p["a_version"] == p["b_version"] == "2.0" and p["status"] == "changed", p
deltas = [abs(r["delta"]) for r in rows]
assert deltas == sorted(deltas, reverse=True), deltas
assert rows[0] is not None and rows[0]["name"] == "platpkg", rows[0]
others = [r for r in rows if r is not p]
assert all(r["status"] == "unchanged" and r["delta"] == 0 for r in others), others
assert any(r["kind"] == "layer" for r in rows), "no layer rows"
assert j["delta"] == p["delta"], j["delta"]
PY
run_lade diff "$T/out:t-roomy" "$T/trim:t-roomy" --by package
like "$OUT" "^~ platpkg +2\.0 .* -[0-9.]+ K?i?B$" "the text shows platpkg with a negative delta"
run_lade diff "$T/out:t-roomy" "$T/exact:t-roomy" --by package
is "$RC" 0 "diff --by package of two identical builds exits 0"
run_lade diff "$T/out:t-roomy" "$T/trim:t-roomy" --by files
is "$RC" 2 "--by files is a usage error"

# --- inspect --html ------------------------------------------------------------------------
# Both variants in one layout: the page also says what they share.
run_lade build "$R/recipe.yaml" -o "$T/both" -q --max-size 1GB
is "$RC" 0 "build both variants into one layout"
run_lade inspect "$T/both" --html "$T/page.html"
is "$RC" 0 "lade inspect LAYOUT --html FILE"
[ -s "$T/page.html" ] || bail_out "no page written: $ERR"
run_lade inspect "$T/both" --json --by package
biggest=$(json_get '.images[0].packages[0].name' <<<"$OUT")
check "the page is self-contained: an <svg>, inline script and style, no URL it would load" \
	python3 - "$T/page.html" <<'PY'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
assert "<svg" in html and "<script>" in html and "<style>" in html
# nothing fetched: no src=/href= attributes, no @import or url() in the style, no link tags
assert not re.search(r"""\b(src|href)\s*=""", html, re.I), "an attribute loads something"
assert not re.search(r"<link\b|@import|url\(", html, re.I), "a stylesheet or url()"
assert "t-roomy" in html and "t-tight" in html and "share" in html
PY
chromium_bin=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium_bin" ]; then
	not_ok "chromium is installed (Debian package chromium; .ci/setup installs it)"
else
	# Offline: a proxy that does not exist and no network service; the page must not care.
	chrome() {
		timeout 120 "$chromium_bin" --headless --no-sandbox --disable-gpu \
			--user-data-dir="$T/chromium" --proxy-server=127.0.0.1:9 \
			--window-size=1200,900 --virtual-time-budget=5000 "$@" 2>>"$T/chromium.log"
	}
	(cd "$T" && chrome --screenshot="$T/shot.png" "file://$T/page.html") >/dev/null
	[ -s "$T/shot.png" ] || diag "$(tail -n 20 "$T/chromium.log")"
	check "Chromium renders the page: the screenshot is not blank (many colours)" \
		python3 - "$T/shot.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, chunks, ihdr = 8, [], None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        ihdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        chunks.append(body)
    pos += 12 + n
w, h, depth, ctype = ihdr[:4]
assert depth == 8 and ctype in (2, 6), ihdr
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(b"".join(chunks))
stride, prev, colours = w * bpp, bytearray(w * bpp), set()
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    if y % 4 == 0:
        for x in range(0, w, 4):
            colours.add(bytes(line[x * bpp:x * bpp + 3]))
    prev = line
print(f"{len(colours)} colours")
assert len(colours) >= 8, f"only {len(colours)} colours: blank"
PY
	chrome --dump-dom "file://$T/page.html" >"$T/dom.html"
	check "the rendered treemap (SVG drawn by the script) names the biggest distribution, $biggest" \
		python3 - "$T/dom.html" "$biggest" <<'PY'
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
svg = re.search(r"<svg id=\"map\".*?</svg>", dom, re.S)
assert svg, "no svg in the DOM"
rects = svg.group(0).count("<rect")
assert rects >= 3, f"{rects} rectangles"
assert re.search(r"<text[^>]*>layer \d", svg.group(0)), "no layer named in the map"
assert sys.argv[2] in dom, "the page does not name " + sys.argv[2]
PY
	if [ -n "${LADE_KEEP_HTML:-}" ]; then cp "$T/page.html" "$T/shot.png" "$LADE_KEEP_HTML/"; fi
fi
run_lade inspect "$T/both" --html "$T/page2.html" --json
is "$RC" 2 "--html with --json is a usage error"

done_testing
