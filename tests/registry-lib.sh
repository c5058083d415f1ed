# tests/registry-lib.sh — registries for the integration tests, sourced after tests/lib.sh:
# Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1 with its own storage, config
# and access log under $T/reg-NAME, and the fault-injecting front tests/fixtures/registry-front.py.
command -v docker-registry >/dev/null 2>&1 ||
	skip_all "docker-registry not installed (apt-get install docker-registry)"
need_cmd python3 curl

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL — until something answers on URL (at most 10 s).
wait_http() {
	for _ in $(seq 1 100); do
		curl -sk -o /dev/null "$1" && return 0
		sleep 0.1
	done
	return 1
}

# start_registry NAME [EXTRA-YAML] — a registry with its own storage and log; sets PORT_<NAME>.
# A fixed http.secret keeps upload URLs valid across a restart (restart_registry NAME).
start_registry() {
	local name=$1 extra=${2:-} port
	port=$(free_port)
	mkdir -p "$T/reg-$name/data"
	cat >"$T/reg-$name/config.yml" <<-EOF
		version: 0.1
		log:
		  level: info
		  accesslog:
		    disabled: false
		storage:
		  filesystem:
		    rootdirectory: $T/reg-$name/data
		http:
		  addr: 127.0.0.1:$port
		  secret: lade-test-secret-$name
		$extra
	EOF
	printf -v "PORT_$name" '%s' "$port"
	restart_registry "$name"
}

restart_registry() {
	local name=$1 port
	port=$(sed -n 's/^  addr: 127.0.0.1://p' "$T/reg-$name/config.yml")
	docker-registry serve "$T/reg-$name/config.yml" >>"$T/reg-$name/log" 2>&1 &
	echo $! >"$T/reg-$name/pid"
	at_exit "kill $(cat "$T/reg-$name/pid") 2>/dev/null"
	wait_http "http://127.0.0.1:$port/v2/" || wait_http "https://127.0.0.1:$port/v2/" ||
		bail_out "registry $name does not start: $(tail -3 "$T/reg-$name/log")"
}

# stop_registry NAME [SIGNAL]
stop_registry() {
	kill -"${2:-TERM}" "$(cat "$T/reg-$1/pid")" 2>/dev/null
	wait "$(cat "$T/reg-$1/pid")" 2>/dev/null
	return 0
}

# start_front NAME UPSTREAM_PORT MODE... — the front (see the fixture's header) on a free port;
# sets FRONT (host:port); its log is $T/front-NAME.log.
start_front() {
	local name=$1 upstream=$2 port
	shift 2
	port=$(free_port)
	python3 "$LADE_SRCDIR/tests/fixtures/registry-front.py" "$port" "$upstream" "$T/front-$name" "$@" \
		>"$T/front-$name.log" 2>&1 &
	at_exit "kill $!"
	wait_http "http://127.0.0.1:$port/v2/" || bail_out "the front $name does not start"
	FRONT=127.0.0.1:$port
}

# Blob upload requests (POST/PUT/PATCH on blobs/uploads) in a registry log since line $2.
uploads_since() {
	tail -n +"$2" "$T/reg-$1/log" | grep -cE '"(POST|PUT|PATCH) /v2/[^ ]*/blobs/uploads/[^ ]* HTTP' || true
}
