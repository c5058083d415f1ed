#!/bin/bash
# lade push / lade pull against the Debian docker-registry (CNCF distribution 2.8) configured for
# `auth: token`, in front of it a small token service written here (stdlib Python) that signs
# RS256 JWTs with the openssl CLI and names its certificate in the x5c header: the registry
# itself checks every token. Push and pull with --creds and an auth file, anonymous access as
# the service grants it, a wrong password, and tokens the registry must refuse (signed with
# another key, claims changed after signing).
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
source "$LADE_SRCDIR/tests/registry-lib.sh"
command -v openssl >/dev/null 2>&1 || skip_all "openssl not installed (apt-get install openssl)"
need_cmd skopeo python3 curl
ensure_base


# --- keys: the registry trusts cert.pem; other.pem is a key it has never seen ---------------
K=$T/keys
mkdir -p "$K"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=lade-test token signer" \
	-keyout "$K/key.pem" -out "$K/cert.pem" >"$T/openssl.log" 2>&1 ||
	bail_out "openssl req failed: $(cat "$T/openssl.log")"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/other.pem" >>"$T/openssl.log" 2>&1 ||
	bail_out "openssl genpkey failed: $(cat "$T/openssl.log")"

# --- the token service ------------------------------------------------------------------------
cat >"$T/token.py" <<'PY'
# A token service for distribution's `auth: token`.
# usage: token.py PORT KEYDIR LOG ANON_PULL_FLAG
# GET /token?service=S&scope=repository:NAME:ACTIONS... with optional Basic credentials.
# Users: bob (push+pull), mallory (same password; her tokens are signed with KEYDIR/other.pem,
# a key the registry does not trust), trudy (a good signature, but the claims are changed
# after signing). Anonymous callers get pull while the file ANON_PULL_FLAG exists, else
# nothing. A wrong password gets 401. Each grant is logged as
#   user=U service=S scope=SCOPE granted=ACTIONS
import base64, http.server, json, os, subprocess, sys, time, urllib.parse, uuid
port, keydir, logpath, anon_flag = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
PASSWORD = "t0ken-pw"
USERS = {"bob", "mallory", "trudy"}
ISSUER = "lade-test-issuer"

pem = open(os.path.join(keydir, "cert.pem")).read()
cert_b64 = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def jdump(o):
    return json.dumps(o, separators=(",", ":"), sort_keys=True).encode()

def sign(data, key):
    # RS256 is RSASSA-PKCS1-v1_5 over SHA-256: exactly what openssl dgst -sign does
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", os.path.join(keydir, key)],
                          input=data, stdout=subprocess.PIPE, check=True).stdout

def make_token(user, service, access):
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "x5c": [cert_b64]}
    claims = {"iss": ISSUER, "sub": user, "aud": service, "exp": now + 300, "nbf": now - 5,
              "iat": now, "jti": uuid.uuid4().hex, "access": access}
    signing_input = (b64url(jdump(header)) + "." + b64url(jdump(claims))).encode()
    sig = sign(signing_input, "other.pem" if user == "mallory" else "key.pem")
    if user == "trudy":
        claims["sub"] = "bob"
        claims["exp"] = now + 3000
        signing_input = (b64url(jdump(header)) + "." + b64url(jdump(claims))).encode()
    return signing_input.decode() + "." + b64url(sig)

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, fmt, *a):
        sys.stderr.write((fmt % a) + "\n"); sys.stderr.flush()
    def reply(self, code, body, headers=()):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log(self, line):
        with open(logpath, "a") as f:
            f.write(line + "\n")
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path != "/token":
            return self.reply(404, b'{"errors":[{"code":"NOT_FOUND","message":"no such path"}]}')
        q = urllib.parse.parse_qs(u.query)
        service = q.get("service", [""])[0]
        user = None
        auth = self.headers.get("Authorization", "")
        if auth:
            try:
                scheme, val = auth.split(None, 1)
                name, _, pw = base64.b64decode(val).decode().partition(":")
            except Exception:
                scheme, name, pw = "", "", ""
            if scheme.lower() != "basic" or name not in USERS or pw != PASSWORD:
                self.log("user=%s service=%s refused" % (name or "?", service))
                return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"invalid user name or password"}]}',
                                  [("WWW-Authenticate", 'Basic realm="lade-test token service"')])
            user = name
        access = []
        for scope in q.get("scope", []):
            parts = scope.split(":")
            if len(parts) < 3 or parts[0] != "repository":
                continue
            name, asked = ":".join(parts[1:-1]), parts[-1].split(",")
            if user:
                allowed = {"pull", "push"}
            else:
                allowed = {"pull"} if os.path.exists(anon_flag) else set()
            granted = [a for a in asked if a in allowed]
            self.log("user=%s service=%s scope=%s granted=%s" %
                     (user or "anonymous", service, scope, ",".join(granted) or "-"))
            if granted:
                access.append({"type": "repository", "name": name, "actions": granted})
        if not q.get("scope"):
            self.log("user=%s service=%s scope=- granted=-" % (user or "anonymous", service))
        tok = make_token(user or "", service, access)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.reply(200, jdump({"token": tok, "access_token": tok, "expires_in": 300, "issued_at": now}))

http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY

TPORT=$(free_port)
TLOG=$T/token-grants.log
ANON=$T/anonymous-may-pull
: >"$TLOG"
python3 "$T/token.py" "$TPORT" "$K" "$TLOG" "$ANON" >"$T/token-http.log" 2>&1 &
at_exit "kill $!"
wait_http "http://127.0.0.1:$TPORT/token?service=lade-test" || bail_out "the token service does not start"
: >"$TLOG"

# --- the registry -----------------------------------------------------------------------------
start_registry tok "auth:
  token:
    realm: http://127.0.0.1:$TPORT/token
    service: lade-test
    issuer: lade-test-issuer
    rootcertbundle: $K/cert.pem"
REG=127.0.0.1:$PORT_tok

# The set-up itself: the registry challenges, and accepts a token from the service.
challenge=$(curl -s -D - -o /dev/null "http://$REG/v2/" | tr -d '\r' | grep -i '^www-authenticate:')
like "$challenge" "Bearer realm=\"http://127.0.0.1:$TPORT/token\",service=\"lade-test\"" \
	"the registry challenges with the token service as realm"
[ -n "$challenge" ] || bail_out "the registry does not answer a challenge: $(tail -5 "$T/reg-tok/log")"
tok=$(curl -s -u bob:t0ken-pw "http://127.0.0.1:$TPORT/token?service=lade-test" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
is "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "http://$REG/v2/")" 200 \
	"the registry accepts a token signed by openssl with the x5c certificate"
: >"$TLOG"

R=$T/hello
hello_recipe "$R"
run_lade build "$R/recipe.yaml" -o "$T/out" -q
is "$RC" 0 "lade build hello exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
local_digest=$(printed_digest "$OUT")

# --- push -------------------------------------------------------------------------------------
run_lade push "$T/out:1.0" "$REG/hello:1.0"
is "$RC" 1 "push without credentials fails"
like "$ERR" "registry $REG: authentication required for repository hello" \
	"anonymous push: the registry and repository are named"
diag "lade said: $ERR"
like "$(cat "$TLOG")" "user=anonymous service=lade-test scope=repository:hello:pull,push granted=-" \
	"anonymous push: the service was asked and granted nothing"

run_lade push --creds bob:wrong "$T/out:1.0" "$REG/hello:1.0"
is "$RC" 1 "push with a wrong password fails"
like "$ERR" "registry $REG: the token service http://127.0.0.1:$TPORT/token refused the credentials of user bob \\(HTTP 401 UNAUTHORIZED: invalid user name or password\\)" \
	"wrong password: the token service and the user are named"
diag "lade said: $ERR"
is "$(grep -c '^user=bob .*refused' "$TLOG")" 1 "wrong password: one request to the token service"

: >"$TLOG"
run_lade push --creds bob:t0ken-pw "$T/out:1.0" "$REG/hello:1.0"
is "$RC" 0 "push with --creds exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
is "$OUT" "$local_digest" "push prints the local digest"
like "$(cat "$TLOG")" "user=bob service=lade-test scope=repository:hello:pull,push granted=pull,push" \
	"the service saw the push scope for service lade-test"
skopeo inspect --raw --tls-verify=false --creds bob:t0ken-pw "docker://$REG/hello:1.0" >"$T/raw.json" 2>"$T/skopeo.err"
is "sha256:$(sha256_file "$T/raw.json")" "$local_digest" "skopeo inspect --raw --creds: the registry has the same manifest"
[ -s "$T/raw.json" ] || diag "$(cat "$T/skopeo.err")"
check "skopeo without credentials cannot read it" \
	bash -c "! skopeo inspect --raw --tls-verify=false docker://$REG/hello:1.0 >/dev/null 2>&1"

: >"$TLOG"
auth=$(printf '%s' 'bob:t0ken-pw' | base64)
printf '{"auths": {"%s": {"auth": "%s"}}}' "$REG" "$auth" >"$T/auth.json"
REGISTRY_AUTH_FILE=$T/auth.json run_lade push "$T/out:1.0" "$REG/team/app:2"
is "$RC" 0 "push with REGISTRY_AUTH_FILE (base64 auth) exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$(cat "$TLOG")" "user=bob service=lade-test scope=repository:team/app:pull,push granted=pull,push" \
	"auth file: the token was asked for as bob with the push scope"
skopeo inspect --raw --tls-verify=false --creds bob:t0ken-pw "docker://$REG/team/app:2" >"$T/raw2.json" 2>/dev/null
is "sha256:$(sha256_file "$T/raw2.json")" "$local_digest" "auth file: the image is in the registry"

# --- pull -------------------------------------------------------------------------------------
: >"$TLOG"
run_lade pull "$REG/hello:1.0" -o "$T/p-denied"
is "$RC" 1 "anonymous pull fails while anonymous callers get nothing"
like "$ERR" "registry $REG: authentication required for repository hello" \
	"anonymous pull refused: the registry and repository are named"
like "$(cat "$TLOG")" "user=anonymous service=lade-test scope=repository:hello:pull granted=-" \
	"anonymous pull: the service was asked for the pull scope"

touch "$ANON"
: >"$TLOG"
run_lade pull "$REG/hello:1.0" -o "$T/pulled"
is "$RC" 0 "anonymous pull works once anonymous callers may pull"
[ "$RC" -eq 0 ] || diag "$ERR"
is "$OUT" "$local_digest" "pull prints the pushed digest"
is "$(skopeo inspect --format '{{.Digest}}' "oci:$T/pulled:$REG/hello:1.0" 2>&1)" "$local_digest" \
	"the stored image has the pushed digest"
check "lade verify on the pulled layout" "$LADE" verify "$T/pulled"
like "$(cat "$TLOG")" "user=anonymous service=lade-test scope=repository:hello:pull granted=pull" \
	"anonymous pull: a pull-only token"

REGISTRY_AUTH_FILE=$T/auth.json run_lade pull "$REG/team/app:2" -o "$T/pulled2"
is "$RC" 0 "pull with REGISTRY_AUTH_FILE exits 0"
is "$OUT" "$local_digest" "pull with the auth file: same digest"

run_lade push "$T/out:1.0" "$REG/hello:anon"
is "$RC" 1 "anonymous push still fails when anonymous callers may pull"
like "$ERR" "registry $REG: authentication required for repository hello" \
	"anonymous push with a pull-only token: clear error"

# --- tokens the registry must refuse ------------------------------------------------------------
mark=$(($(wc -l <"$T/reg-tok/log") + 1))
run_lade push --creds mallory:t0ken-pw "$T/out:1.0" "$REG/hello:mallory"
is "$RC" 1 "a token signed with an untrusted key: push fails"
like "$ERR" "registry $REG: refused the token that http://127.0.0.1:$TPORT/token issued for user mallory \\(invalid_token" \
	"untrusted signature: lade says the registry refused the token"
diag "lade said: $ERR"
like "$(tail -n +"$mark" "$T/reg-tok/log")" "unable to verify token signature: invalid RS256 signature" \
	"the registry log: mallory's token has a bad signature"
like "$(grep -c '^user=mallory .*granted=pull,push' "$TLOG")" "^[1-9]" \
	"the token service did grant mallory push (the registry is what refused)"

mark=$(($(wc -l <"$T/reg-tok/log") + 1))
run_lade pull --creds trudy:t0ken-pw "$REG/hello:1.0" -o "$T/p-trudy"
is "$RC" 1 "a token whose claims were changed after signing: pull fails"
like "$ERR" "registry $REG: refused the token that http://127.0.0.1:$TPORT/token issued for user trudy \\(invalid_token" \
	"changed claims: lade says the registry refused the token"
diag "lade said: $ERR"
like "$(tail -n +"$mark" "$T/reg-tok/log")" "unable to verify token signature: invalid RS256 signature" \
	"the registry log: trudy's token has a bad signature"
check "nothing was tagged by the refused pushes" \
	bash -c "! skopeo inspect --raw --tls-verify=false --creds bob:t0ken-pw docker://$REG/hello:mallory >/dev/null 2>&1"

done_testing
