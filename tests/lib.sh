# tests/lib.sh — sourced by every integration and e2e test (bash).
#
# TAP output: `ok DESC`, `not_ok DESC`, `check DESC CMD...` (ok when CMD succeeds),
# `is GOT EXPECTED DESC`, `like GOT REGEX DESC`, `diag MSG`, then `done_testing` prints the plan
# and exits 1 when any test failed. `skip_all REASON` exits 77 (meson: skipped).
#
# Environment (set by tests/meson.build): LADE (the binary), LADE_SRCDIR, LADE_BUILDDIR.
# Every test gets a private temp dir $T, removed on exit (also after chmod games).
# shellcheck disable=SC2034 # RC, OUT, ERR, BASE_* are for the tests that source this
set -uo pipefail

: "${LADE_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${LADE_BUILDDIR:=$LADE_SRCDIR/build}"
: "${LADE:=$LADE_BUILDDIR/lade}"
export LADE LADE_SRCDIR LADE_BUILDDIR
# Python snippets import the fixture generators from here (`from wheelkit import mw`).
export PYTHONPATH=$LADE_SRCDIR/tests/fixtures${PYTHONPATH:+:$PYTHONPATH}

# wheelkit lock LOCK WHEEL... — a hashed lock of those wheels (tests/fixtures/wheelkit.py).
wheelkit() { python3 "$LADE_SRCDIR/tests/fixtures/wheelkit.py" "$@"; }
# The project's Python tools venv (.ci/tools-venv: the current pip, uv, spdx-tools,
# cyclonedx-python-lib, jsonschema).
: "${LADE_TOOLS_VENV:=$LADE_SRCDIR/.venv}"
export LADE_TOOLS_VENV

# need_tools_venv — skip unless the tools venv is there; sets TOOLS_PY (its python) and PIP_VERSION.
need_tools_venv() {
	TOOLS_PY=$LADE_TOOLS_VENV/bin/python
	PIP_VERSION=$("$TOOLS_PY" -m pip --version 2>/dev/null | cut -d' ' -f2) ||
		skip_all "no tools venv at $LADE_TOOLS_VENV (make it with: bash .ci/tools-venv)"
}

# pip_at_opt_venv STAGE PY PIP-ARGS... — `PY -m venv --without-pip /opt/venv`, then the tools
# venv's pip (need_tools_venv first) with --python /opt/venv/bin/python and PIP-ARGS, so shebangs
# and RECORD paths are the ones an image has: /opt is a tmpfs in a private mount namespace with
# STAGE bound on /opt/venv (the host's /opt is untouched). No pip configuration, cache or
# bytecode; needs root.
pip_at_opt_venv() {
	local stage=$1 py=$2
	shift 2
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$stage" LANG=C.UTF-8 \
		PIP_CONFIG_FILE=/dev/null PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 \
		unshare --mount --propagation private /bin/sh -ec '
			umask 022
			mount -t tmpfs tmpfs /opt
			mkdir /opt/venv
			mount --bind "$0" /opt/venv
			"$1" -m venv --without-pip /opt/venv
			shift 2
			exec "$@"' "$stage" "$py" -- "$TOOLS_PY" -m pip --python /opt/venv/bin/python \
		--disable-pip-version-check "$@"
}

# tap_from CMD... — turn CMD's "ok<TAB>desc", "not ok<TAB>desc" and other "<x><TAB>text" lines
# (diagnostics) into this test's TAP; CMD failing is a failure.
tap_from() {
	local kind desc
	while IFS=$'\t' read -r kind desc; do
		case $kind in
		ok) ok "$desc" ;;
		"not ok") not_ok "$desc" ;;
		*) diag "$desc" ;;
		esac
	done < <("$@" 2>&1 || printf 'not ok\t%s failed\n' "$*")
}

# Builds in tests never share a layer cache (it would hide non-determinism); tests of the
# cache give --cache DIR explicitly.
export LADE_NO_CACHE=1

_tap_n=0
_tap_failed=0
_tap_cleanups=()

diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

ok() {
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s\n' "$_tap_n" "$*"
}

not_ok() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	printf 'not ok %d - %s\n' "$_tap_n" "$*"
}

# check DESC CMD... — ok when CMD exits 0; its output is shown as diagnostics when it fails.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		not_ok "$desc"
		diag "command: $*"
		diag "$out"
	fi
}

# is GOT EXPECTED DESC
is() {
	if [ "$1" == "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		diag "got:      '$1'"
		diag "expected: '$2'"
	fi
}

# like GOT EXTENDED-REGEX DESC
like() {
	# a here-string, not a pipe: under pipefail, grep -q leaving early would SIGPIPE the writer
	# and turn a match into a failure
	if grep -Eq -- "$2" <<<"$1"; then
		ok "$3"
	else
		not_ok "$3"
		diag "got:           '$1'"
		diag "does not match '$2'"
	fi
}

skip_all() {
	echo "1..0 # SKIP $*"
	echo "skipped: $*" >&2
	exit 77
}

bail_out() {
	echo "Bail out! $*"
	exit 1
}

done_testing() {
	echo "1..$_tap_n"
	if [ "$_tap_failed" -gt 0 ]; then
		echo "# failed $_tap_failed of $_tap_n" >&2
		exit 1
	fi
	exit 0
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_all "needs '$c' (not installed)"
	done
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip_all "needs root ($*)"
}

# Run CMD as the unprivileged user 65534 (nobody) with no supplementary groups.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
}

# buildah_from NAME IMAGE — the test "buildah from IMAGE": a working container NAME of IMAGE
# (vfs storage under $T, chroot isolation, all removed at exit). Sets BUILDAH (buildah with those
# storage options, for `"${BUILDAH[@]}" run "$CTR" -- …`) and CTR (empty when it failed; the
# error is a diagnostic).
buildah_from() {
	export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
	BUILDAH=(buildah --root "$T/containers/root" --runroot "$T/containers/run" --storage-driver vfs)
	at_exit "${BUILDAH[*]} rm --all; ${BUILDAH[*]} rmi --all --force"
	CTR=$("${BUILDAH[@]}" from --quiet --name "$1" "$2" 2>"$T/buildah-from.err")
	if [ -n "$CTR" ]; then
		ok "buildah from ${2##*/}"
	else
		not_ok "buildah from ${2##*/}"
		diag "$(cat "$T/buildah-from.err")"
	fi
}

# Register a command to run at exit (before the temp dir goes away), last in first out.
at_exit() {
	_tap_cleanups=("$*" "${_tap_cleanups[@]}")
}

_tap_cleanup() {
	local c
	for c in "${_tap_cleanups[@]}"; do
		eval "$c" >/dev/null 2>&1 || true
	done
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		chmod -R u+rwx "$T" 2>/dev/null || true
		rm -rf "$T"
	fi
}
trap _tap_cleanup EXIT
trap 'exit 130' INT TERM

# The temp dir: world-traversable so tests can hand subdirectories to user 65534, and
# lowercase because buildah derives an image name from an oci: path.
_tap_mktemp() {
	local d
	for _ in 1 2 3 4 5 6 7 8; do
		d=${TMPDIR:-/tmp}/lade-test.$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')
		mkdir -m 0755 "$d" 2>/dev/null && { printf '%s' "$d"; return 0; }
	done
	return 1
}
T=$(_tap_mktemp) || bail_out "cannot create a temp dir under ${TMPDIR:-/tmp}"

[ -x "$LADE" ] || skip_all "lade binary not found at $LADE (build it first)"

# The test Python: /usr/bin/python3.11 where the host has it (Debian 12; the real wheel sets of
# setup-corpus.sh and the corpus are CPython 3.11), else /usr/bin/python3 (Debian 13: 3.13).
# The test base is made from it and the recipes of the tests name it. Exported for the Python
# fixtures (make-wheels.py tags its wheels with TEST_CPTAG).
#   TEST_PYVER  3.11         TEST_PY  /usr/bin/python3.11
#   TEST_CPTAG  cp311        TEST_PYC_TAG  cpython-311 (the .pyc and extension module suffix)
if [ -x /usr/bin/python3.11 ]; then
	TEST_PYVER=3.11
else
	TEST_PYVER=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') ||
		bail_out "no /usr/bin/python3 to run the tests with"
fi
TEST_PY=/usr/bin/python$TEST_PYVER
TEST_CPTAG=cp${TEST_PYVER/./}
TEST_PYC_TAG=cpython-${TEST_PYVER/./}
export TEST_PYVER TEST_PY TEST_CPTAG TEST_PYC_TAG

# need_py311 WHAT — skip unless the test Python is 3.11: for tests whose content is CPython 3.11
# itself (the cp311 wheel sets of setup-corpus.sh, the bookworm corpus base).
need_py311() {
	[ "$TEST_PYVER" = 3.11 ] ||
		skip_all "$* is CPython 3.11 content (cp311 wheels); this host's test Python is $TEST_PY ($TEST_PYVER, no /usr/bin/python3.11)"
}

# buildah ARGS... — buildah, with a `run` that runc could not start because sealing its memfd
# copy of itself failed ("Close_Fd sealing memfd copy: Device or resource busy": runc's
# cloned-binary protection racing another runc on a busy machine; the container never ran)
# tried again, up to three times. Every other outcome, output and exit status is buildah's.
buildah() {
	local a is_run=0
	for a in "$@"; do
		[ "$a" = -- ] && break
		[ "$a" = run ] && is_run=1 && break
	done
	[ "$is_run" = 1 ] || { command buildah "$@"; return; }
	local try rc err
	for try in 1 2 3; do
		err=$(mktemp "$T/.buildah-err.XXXXXX")
		command buildah "$@" 2>"$err"
		rc=$?
		if [ "$rc" -ne 0 ] && [ "$try" -lt 3 ] && grep -q 'sealing memfd copy' "$err"; then
			rm -f "$err"
			sleep 1
			continue
		fi
		cat "$err" >&2
		rm -f "$err"
		return "$rc"
	done
}

# lade ARGS... — the binary under test.
lade() {
	"$LADE" "$@"
}

# Under -Db_sanitize a report on stderr is a failure even when lade exits 0.
_sanitizer_check() {
	case $ERR in
	*"ERROR: AddressSanitizer"* | *"ERROR: LeakSanitizer"* | *"runtime error:"*)
		not_ok "no sanitizer report from: lade $*"
		diag "$ERR"
		;;
	esac
}

# run_lade ARGS... — runs lade, keeps stdout in $OUT, stderr in $ERR, exit status in $RC.
# A sanitizer report on stderr adds a failing test.
run_lade() {
	local o e
	o=$(mktemp "$T/.out.XXXXXX")
	e=$(mktemp "$T/.err.XXXXXX")
	"$LADE" "$@" >"$o" 2>"$e"
	RC=$?
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	rm -f "$o" "$e"
	_sanitizer_check "$@"
}

# Like run_lade, as user 65534.
run_lade_as_nobody() {
	local o e
	o=$(mktemp "$T/.out.XXXXXX")
	e=$(mktemp "$T/.err.XXXXXX")
	chmod 0666 "$o" "$e"
	as_nobody "$LADE" "$@" >"$o" 2>"$e"
	RC=$?
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	rm -f "$o" "$e"
	_sanitizer_check "$@"
}

# The shared Python base image, made once per build dir by tests/fixtures/make-base.sh from
# $TEST_PY. Sets BASE_DIR, BASE_OCI (the layout dir), BASE_TAG (its tag, python$TEST_PYVER),
# BASE_REF ($BASE_OCI:$BASE_TAG) and BASE_ARCHIVE (docker-archive, tag python:$TEST_PYVER).
# Skips the whole test when the base cannot be made here.
ensure_base() {
	BASE_DIR=$LADE_BUILDDIR/test-base
	local rc=0 log
	log=$(PYVER=$TEST_PYVER bash "$LADE_SRCDIR/tests/fixtures/make-base.sh" "$BASE_DIR" 2>&1) || rc=$?
	case $rc in
	0) ;;
	77) skip_all "base image: $log" ;;
	*) bail_out "make-base.sh failed ($rc): $log" ;;
	esac
	BASE_OCI=$BASE_DIR/oci
	BASE_TAG=python$TEST_PYVER
	BASE_REF=$BASE_OCI:$BASE_TAG
	BASE_ARCHIVE=$BASE_DIR/docker-archive.tar
}

# fixture_lock DIR — the fixture wheels in DIR/wheels and DIR/requirements.lock pinning
# datapkg, platpkg and the two nvidia-* namespace wheels by their sha256.
fixture_lock() {
	python3 "$LADE_SRCDIR/tests/fixtures/make-wheels.py" "$1/wheels" >"$T/make-wheels.log" 2>&1 ||
		bail_out "make-wheels.py failed: $(cat "$T/make-wheels.log")"
	python3 - "$1/wheels" >"$1/requirements.lock" <<'PY' || bail_out "cannot write the lock"
import glob, hashlib, os, sys
for pat in ("datapkg-*.whl", "platpkg-*.whl", "nvidia_cublas_cu12-*.whl",
            "nvidia_cudnn_cu12-*.whl"):
    for w in glob.glob(os.path.join(sys.argv[1], pat)):
        name, version = os.path.basename(w).split("-")[:2]
        print(f"{name}=={version} --hash=sha256:{hashlib.sha256(open(w, 'rb').read()).hexdigest()}")
PY
}

# hello_recipe DIR [BASE-YAML] — copy recipes/hello to DIR with its base replaced (default:
# the shared OCI base) and no output dir, so tests choose one with -o.
hello_recipe() {
	local dir=$1 base=${2:-"{oci: \"$BASE_REF\"}"}
	mkdir -p "$dir"
	cp -a "$LADE_SRCDIR/recipes/hello/." "$dir/"
	rm -rf "$dir/out"
	sed -i -e "s|^base:.*|base: $base|" -e '/^output:/,$d' "$dir/recipe.yaml"
	grep -q "^base: $base\$" "$dir/recipe.yaml" || bail_out "cannot rewrite the base of $dir/recipe.yaml"
}

# The digest lade printed for the first image ("<digest> <layout>:<ref>").
printed_digest() {
	local first=${1%%$'\n'*}
	printf '%s' "${first%% *}"
}

# Number of layers of oci:DIR:TAG according to skopeo.
skopeo_layers() {
	skopeo inspect --format '{{len .Layers}}' "$1"
}

# The layer digests of an image (skopeo transport:ref), one per line, base first.
skopeo_layer_digests() {
	skopeo inspect "$1" | json_get '.Layers[]'
}

# The rootfs diff_ids of an image (skopeo transport:ref), one per line, base first.
skopeo_diff_ids() {
	skopeo inspect --config "$1" | json_get '.rootfs.diff_ids[]'
}

# OCI layouts, read by tests/fixtures/oci.py (the one walk of index → manifest → config).
# REF is a tag, a manifest digest, or omitted when the index holds exactly one manifest.
# Each prints to stdout and fails (message on stderr) when the layout does not have it.
_oci() { python3 "$LADE_SRCDIR/tests/fixtures/oci.py" "$@"; }
oci_refs() { _oci refs "$@"; }                       # LAYOUT — "TAG DIGEST" lines, sorted
oci_manifest_digest() { _oci manifest-digest "$@"; } # LAYOUT [REF] — sha256:<hex>
oci_manifest() { _oci manifest "$@"; }               # LAYOUT [REF] — the manifest blob
oci_config() { _oci config "$@"; }                   # LAYOUT [REF] — the config blob
oci_layers() { _oci layers "$@"; }                   # LAYOUT [REF] — layer digests, a line each
oci_diff_ids() { _oci diff-ids "$@"; }               # LAYOUT [REF] — config diff_ids, a line each

# oci_blob LAYOUT DIGEST — the path of a blob (DIGEST as sha256:<hex> or bare hex).
oci_blob() {
	printf '%s/blobs/sha256/%s' "$1" "${2#sha256:}"
}

# json_get EXPR [FILE] — EXPR (a jq subset: .key ."dotted.key" .key? [N] [N:M] [] |length
# |keys) of the JSON in FILE or on stdin; strings print raw, other values as sorted JSON, one a
# line. A missing key (without ?) or an index out of range fails.
json_get() { _oci json-get "$@"; }

sha256_file() {
	sha256sum "$1" | cut -d' ' -f1
}
