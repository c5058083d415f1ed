#!/bin/bash
# End to end: the example recipes/employment-match, built the way its README says from the
# benchmark corpus (base image + wheelhouses under ${CORPUS_DIR:-/var/tmp/corpus}), its
# `lightweight` (corpus set small: no ML wheels, pure-Python maths) and `production` (set ml-cpu:
# numpy, scipy, CPU torch) variants started with `buildah run`: each answers POST /match with the
# top occupation this test computes on its own from the same data files, and says which backend
# it used. Variants whose wheel set is missing are skipped with a message; without the corpus
# base the whole test is skipped (making it needs debootstrap and a Debian mirror).
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd buildah python3 setsid
need_root "buildah from/run with vfs storage"
export LC_ALL=C

CORPUS_DIR=${CORPUS_DIR:-/var/tmp/corpus}
CORPUS_SRC=$(cd "$LADE_SRCDIR/.." && pwd)/shared/corpus
grep -q '"org.opencontainers.image.ref.name":"bookworm-python3.11"' "$CORPUS_DIR/base/oci/index.json" 2>/dev/null ||
	skip_all "no corpus base at $CORPUS_DIR/base/oci:bookworm-python3.11: make it with '$CORPUS_SRC/make-base.sh' (CORPUS_DIR=$CORPUS_DIR)"
variants=()
declare -A SET=([lightweight]=small [production]=ml-cpu)
for v in lightweight production; do
	if [ -f "$CORPUS_DIR/wheelhouse/${SET[$v]}/requirements-${SET[$v]}.txt" ]; then
		variants+=("$v")
	else
		diag "SKIP variant $v: no corpus set '${SET[$v]}' at $CORPUS_DIR/wheelhouse/${SET[$v]} (make it with '$CORPUS_SRC/make-wheelhouse.py --set ${SET[$v]}')"
	fi
done
[ ${#variants[@]} -gt 0 ] || skip_all "neither the small nor the ml-cpu corpus set is in $CORPUS_DIR/wheelhouse"

export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
BUILDAH=(buildah --root "$T/containers/root" --runroot "$T/containers/run" --storage-driver vfs)
at_exit "${BUILDAH[*]} rm --all; ${BUILDAH[*]} rmi --all --force"

# The recipe as a checkout has it, plus the corpus link its README makes.
R=$T/employment-match
mkdir -p "$R"
# Not out/ (a developer's build may be gigabytes) nor a corpus link of the checkout.
tar -C "$LADE_SRCDIR/recipes/employment-match" --exclude=./out --exclude=./corpus -cf - . | tar -C "$R" -xf - ||
	bail_out "cannot copy recipes/employment-match"
check "setup-corpus.sh links the corpus" env CORPUS_DIR="$CORPUS_DIR" "$R/setup-corpus.sh"
is "$(readlink "$R/corpus")" "$(cd "$CORPUS_DIR" && pwd)" "corpus -> \$CORPUS_DIR"

vargs=()
for v in "${variants[@]}"; do vargs+=(--variant "$v"); done
run_lade build "$R/recipe.yaml" "${vargs[@]}" -q
is "$RC" 0 "lade build ${vargs[*]} exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
check "lade verify passes on the layout" "$LADE" verify "$R/out"
refs=$(python3 -c 'import json,sys; print(" ".join(sorted(m["annotations"]["org.opencontainers.image.ref.name"] for m in json.load(open(sys.argv[1]))["manifests"])))' "$R/out/index.json")
want=$(for v in "${variants[@]}"; do echo "1.0-$v"; done; [[ " ${variants[*]} " == *" production "* ]] && echo 1.0)
is "$refs" "$(echo "$want" | sort | xargs)" "the layout holds one ref per built variant (and 1.0 for the default, production)"

# expected SKILL... — the top occupation code, computed here from models/ without the app's code:
# the .npy files parsed with struct, cosine of the mean skill vector, in float64.
expected() {
	python3 - "$R/models" "$@" <<'PY'
import json, math, struct, sys
d = sys.argv[1]
def npy(path):
    b = open(path, "rb").read()
    hl = struct.unpack_from("<H", b, 8)[0]
    rows, cols = eval(b[10:10 + hl].decode("latin1"))["shape"]
    v = struct.unpack("<%df" % (rows * cols), b[10 + hl:])
    return [v[i * cols:(i + 1) * cols] for i in range(rows)]
labels = json.load(open(d + "/labels.json"))
S, O = npy(d + "/skills.npy"), npy(d + "/occupations.npy")
idx = [labels["skills"].index(s) for s in sys.argv[2:]]
q = [sum(S[i][k] for i in idx) / len(idx) for k in range(len(S[0]))]
cos = [sum(a * b for a, b in zip(q, o)) / math.sqrt(sum(x * x for x in q) * sum(x * x for x in o)) for o in O]
best = max(range(len(O)), key=lambda i: (cos[i], -i))
print(labels["occupations"][best]["code"], labels["occupations"][best]["title"])
PY
}
EXP1=$(expected python sql)
EXP2=$(expected welding "forklift operation" logistics)
diag "expected top occupations: [python, sql] -> $EXP1; [welding, forklift operation, logistics] -> $EXP2"

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

# http METHOD URL [JSON-BODY] — "STATUS BODY" (BODY compact JSON), waiting up to 60 s for the
# server to come up.
http() {
	python3 - "$@" <<'PY'
import json, sys, time, urllib.request, urllib.error
method, url = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
deadline = time.time() + 60
while True:
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, body = r.status, r.read()
        break
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
        break
    except OSError as e:
        if time.time() > deadline:
            print("timeout", e)
            sys.exit(0)
        time.sleep(0.3)
print(status, json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")))
PY
}
# field JSON EXPR — EXPR evaluated with j = the parsed JSON.
field() {
	python3 -c 'import json, sys; j = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>&1
}

for v in "${variants[@]}"; do
	ctr=$("${BUILDAH[@]}" from --quiet --name "lade-e2e-em-$v" "oci:$R/out:1.0-$v" 2>"$T/from.err")
	if [ -z "$ctr" ]; then
		not_ok "$v: buildah from oci:out:1.0-$v"
		diag "$(cat "$T/from.err")"
		continue
	fi
	ok "$v: buildah from oci:out:1.0-$v"
	# buildah 1.28's run does not apply the image's entrypoint: spell it out from the config.
	mapfile -t argv < <("${BUILDAH[@]}" inspect --type container "$ctr" |
		python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["OCIv1"]["config"].get("Entrypoint") or []))')
	is "${argv[*]}" "/opt/venv/bin/python -m employment_match" "$v: the entrypoint runs the app with the venv python"
	if [ "$v" = lightweight ]; then
		is "$("${BUILDAH[@]}" run "$ctr" -- /opt/venv/bin/python -c '
import importlib.util as u
print([m for m in ("numpy", "torch", "scipy") if u.find_spec(m)])' 2>&1)" "[]" \
			"lightweight: no numpy, torch or scipy in the image"
	else
		is "$("${BUILDAH[@]}" run "$ctr" -- /opt/venv/bin/python -c 'import numpy; print(numpy.__version__)' 2>&1)" \
			"1.24.2" "production: numpy imports"
	fi
	port=$(free_port)
	setsid "${BUILDAH[@]}" run "$ctr" -- "${argv[@]}" --port "$port" >"$T/$v.log" 2>&1 &
	SERVER_PID=$!
	health=$(http GET "http://127.0.0.1:$port/healthz")
	like "$health" '^200 .*"status":"ok"' "$v: GET /healthz answers 200"
	is "$(field "${health#* }" 'j["variant"], j["occupations"]')" "('$v', 200)" \
		"$v: /healthz names the variant (from the image env) and the 200 occupations"
	diag "$v: /healthz: ${health#* }"
	ans=$(http POST "http://127.0.0.1:$port/match" '{"skills": ["python", "SQL"], "top": 3}')
	like "$ans" '^200 ' "$v: POST /match answers 200"
	is "$(field "${ans#* }" 'j["matches"][0]["code"] + " " + j["matches"][0]["title"]')" "$EXP1" \
		"$v: the top occupation for [python, sql] is the one computed independently"
	is "$(field "${ans#* }" 'len(j["matches"])')" "3" "$v: top: 3 gives three matches"
	backend=$(field "${ans#* }" 'j["backend"]')
	if [ "$v" = lightweight ]; then
		is "$backend" "python" "lightweight: the answer says it used the pure-Python backend"
	else
		like "$backend" '^(numpy|torch)$' "production: the answer says it used numpy or torch"
		diag "production: backend $backend; torch: $(field "${health#* }" 'j["backend_notes"].get("torch", "imported")')"
	fi
	ans=$(http POST "http://127.0.0.1:$port/match" '{"skills": ["welding", "forklift operation", "logistics", "juggling"]}')
	is "$(field "${ans#* }" 'j["matches"][0]["code"] + " " + j["matches"][0]["title"]')" "$EXP2" \
		"$v: the top occupation for [welding, forklift operation, logistics] is the one computed independently"
	is "$(field "${ans#* }" 'j["unknown"], len(j["matches"])')" "(['juggling'], 5)" \
		"$v: an unknown skill is reported, five matches by default"
	like "$(http POST "http://127.0.0.1:$port/match" '{"skills": ["juggling"]}')" '^400 .*none of the skills is known' \
		"$v: no known skill is a 400 with a message"
	stop_server
	like "$(cat "$T/$v.log")" "backend $backend, 200 occupations, listening on 0\\.0\\.0\\.0:$port" \
		"$v: the server logged its backend and port"
done

done_testing
