#!/bin/bash
# Conformance with the current pip on real PyPI wheels: the venv lade installs from a real set of
# recipes/employment-match/setup-corpus.sh (${CORPUS_DIR:-/var/tmp/corpus}/real/<set>) must be
# the tree that the tools venv's pip (>= 25.1) makes with
#   pip install --no-deps --require-hashes --no-index --find-links WHEELS -r requirements.txt
# in a `python3.11 -m venv --without-pip` venv at the same path (/opt/venv, in a private mount
# namespace): file by file, byte for byte, modes and symlinks included, RECORD rows too
# (tests/fixtures/pip-venv-compare.py says what is exempt and why).
#
# LADE_REAL_SET picks the set: lightweight (default, a few MB: the integration suite runs
# setup-corpus.sh for it when it is missing, which needs the local wheel store or PyPI), or
# production / full (GB-scale, suite 'real': skipped with a message unless setup-corpus.sh made
# them).
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 umoci unshare
need_root "unshare --mount for pip at /opt/venv, umoci unpack"
export LC_ALL=C
umask 022

SET=${LADE_REAL_SET:-lightweight}
TOOLS=${LADE_TOOLS_VENV:-$LADE_SRCDIR/.venv}
CORPUS_DIR=${CORPUS_DIR:-/var/tmp/corpus}
need_py311 "wheels-real (setup-corpus.sh's real sets)"
PY=$TEST_PY # the interpreter of the test base image and of the wheels (cp311)
need_tools_venv
pipv=$PIP_VERSION
diag "pip $pipv from $TOOLS"

D=$CORPUS_DIR/real/$SET
if [ ! -f "$D/.complete" ]; then
	[ "$SET" = lightweight ] ||
		skip_all "no real set '$SET' at $D: make it with recipes/employment-match/setup-corpus.sh $SET (GB-scale)"
	# A copy of the recipe dir, so the corpus link setup-corpus.sh makes is not in the checkout.
	mkdir -p "$T/recipe"
	tar -C "$LADE_SRCDIR/recipes/employment-match" --exclude=./out --exclude=./corpus -cf - . | tar -C "$T/recipe" -xf -
	if ! out=$(CORPUS_DIR=$CORPUS_DIR LADE_TOOLS_VENV=$TOOLS "$T/recipe/setup-corpus.sh" "$SET" 2>&1); then
		skip_all "setup-corpus.sh $SET failed (needs the local wheel store or PyPI): $(tail -n 5 <<<"$out")"
	fi
fi
ok "the real set '$SET': $(ls "$D/wheels" | wc -l) wheels in $D"
ensure_base

# lade's install: the test base (the host's Python 3.11) + the set's hashed requirements.
R=$T/lade
mkdir -p "$R"
cat >"$R/recipe.yaml" <<YAML
name: wheels-real
tag: t
base: {oci: "$BASE_REF"}
python: {interpreter: $PY, version: "3.11", venv: /opt/venv, lock: $D/requirements.txt, wheelhouse: [$D/wheels],
  compiler: $PY}
YAML
run_lade build "$R/recipe.yaml" -o "$R/out" -q
is "$RC" 0 "[$SET] lade build exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
if out=$(umoci unpack --image "$R/out:t" "$R/bundle" 2>&1); then
	ok "[$SET] umoci unpack"
else
	not_ok "[$SET] umoci unpack"
	diag "$out"
	done_testing
fi

# pip's install at /opt/venv (tests/lib.sh: a private mount namespace, no configuration).
mkdir -p "$T/pip"
if out=$(pip_at_opt_venv "$T/pip" "$PY" install --quiet --no-deps --require-hashes --no-index \
	--find-links "$D/wheels" -r "$D/requirements.txt" 2>&1); then
	ok "[$SET] venv + pip $pipv install at /opt/venv"
else
	not_ok "[$SET] venv + pip $pipv install"
	diag "$out"
	done_testing
fi

n=$(find "$T/pip" -type f | wc -l)
diag "[$SET] pip installed $n files"
[ "$n" -gt 100 ] && ok "[$SET] pip installed $n files" || not_ok "[$SET] pip installed only $n files"
tap_from python3 "$LADE_SRCDIR/tests/fixtures/pip-venv-compare.py" "$R/bundle/rootfs/opt/venv" "$T/pip" "$SET"

done_testing
