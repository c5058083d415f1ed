#!/bin/bash
# End to end: build recipes/hello, start the image with buildah (chroot isolation, so it
# shares the host network) and talk to it over HTTP: once with an explicit command, once
# with the image's own entrypoint + cmd (buildah 1.28's `run` needs a command, so the test
# reads them from the image config and passes them, moving the port to a free one).
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd buildah python3 setsid
need_root "buildah from/run with vfs storage"
ensure_base

export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
BUILDAH=(buildah --root "$T/containers/root" --runroot "$T/containers/run" --storage-driver vfs)

R=$T/hello
hello_recipe "$R"
run_lade build "$R/recipe.yaml" -o "$T/out" -q
is "$RC" 0 "lade build recipes/hello exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }

ctr=$("${BUILDAH[@]}" from --quiet --name lade-e2e-hello "oci:$T/out:1.0" 2>"$T/from.err")
if [ -z "$ctr" ]; then
	not_ok "buildah from oci:out:1.0"
	diag "$(cat "$T/from.err")"
	done_testing
fi
ok "buildah from oci:out:1.0"
at_exit "${BUILDAH[*]} rm $ctr; ${BUILDAH[*]} rmi --all --force"

# The image's configuration is what a runtime applies.
is "$("${BUILDAH[@]}" run "$ctr" -- id -u 2>&1)" "10001" "the process runs as the configured user 10001"
is "$("${BUILDAH[@]}" run "$ctr" -- /bin/sh -c 'pwd' 2>&1)" "/app" "the working directory is /app"
is "$("${BUILDAH[@]}" run "$ctr" -- /bin/sh -c 'echo $PYTHONUNBUFFERED:$LANG' 2>&1)" "1:C.UTF-8" \
	"the environment has PYTHONUNBUFFERED and the base's LANG"
is "$("${BUILDAH[@]}" run "$ctr" -- /usr/bin/python3 -c 'import ssl, os; print(os.stat("/app/hello.py").st_uid)' 2>&1)" \
	"10001" "python3 with ssl runs in the image and /app/hello.py is owned by 10001"

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

# serve NAME PORT ARGV... — run ARGV in the container in its own process group, wait up to
# 20 s for /healthz, check the answers and the log, stop it.
serve() {
	local name=$1 port=$2 body
	shift 2
	setsid "${BUILDAH[@]}" run "$ctr" -- "$@" >"$T/$name.log" 2>&1 &
	SERVER_PID=$!
	body=$(python3 - "$port" <<'PY'
import sys, time, urllib.request
url = "http://127.0.0.1:%s/healthz" % sys.argv[1]
deadline = time.time() + 20
while True:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            print(r.status, r.headers.get("Content-Type"), r.read().decode())
            break
    except OSError:
        if time.time() > deadline:
            print("timeout")
            break
        time.sleep(0.2)
PY
)
	is "$body" '200 application/json {"service": "hello", "status": "ok"}' \
		"$name: GET /healthz answers 200 with the JSON status"
	is "$(python3 -c '
import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())
except OSError as e:
    print(e)' "http://127.0.0.1:$port/" 2>&1)" "hello from a lade image" "$name: GET / answers the text"
	is "$(python3 -c '
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=5)
    print("no error")
except urllib.error.HTTPError as e:
    print(e.code)
except OSError as e:
    print(e)' "http://127.0.0.1:$port/nope" 2>&1)" "404" "$name: an unknown path is 404"
	stop_server
	like "$(cat "$T/$name.log")" "listening on 0\\.0\\.0\\.0:$port" "$name: it logged where it listens (stdout)"
	like "$(cat "$T/$name.log")" '"GET /healthz HTTP/1\.1" 200' "$name: it logged the request (stdout)"
	if python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) else 1)' "$port"; then
		ok "$name: stopped: the port is closed again"
	else
		not_ok "$name: stopped: the port is closed again"
	fi
}

port=$(free_port)
serve "explicit command" "$port" /usr/bin/python3 /app/hello.py --port "$port"

# The configured entrypoint + cmd, with the cmd's port moved to a free one.
"${BUILDAH[@]}" inspect --type container "$ctr" | json_get .OCIv1.config >"$T/config.json"
is "$(json_get .Entrypoint "$T/config.json" 2>&1) $(json_get .Cmd "$T/config.json" 2>&1)" \
	'["/usr/bin/python3", "/app/hello.py"] ["--port", "8080"]' "the image's entrypoint and cmd"
port=$(free_port)
mapfile -t argv < <(json_get '.Entrypoint[]' "$T/config.json" &&
	json_get '.Cmd[]' "$T/config.json" | sed "s/^8080\$/$port/")
if [ ${#argv[@]} -gt 0 ]; then
	serve "entrypoint+cmd" "$port" "${argv[@]}"
else
	not_ok "entrypoint+cmd: the image config gives a command line"
fi

done_testing
