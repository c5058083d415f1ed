#!/bin/bash
# Conformance with the current pip (the tools venv's): the venv lade installs into an image must be the tree that
# `pip install --no-index --no-deps -r LOCK` makes (bytecode included: pip compiles by default) in a `python3 -m venv
# --without-pip` venv at the same path (/opt/venv). pip runs in a private mount namespace with a
# tmpfs on /opt, so shebangs and RECORD paths are the ones the image has and the host's /opt is
# untouched. The lade image is unpacked with umoci. Two sets: the fixture wheels of
# tests/fixtures/make-wheels.py (console/gui scripts, .data scripts/headers/data/purelib, a C
# extension, abi3, local versions, two wheels sharing a file) and the real pip and setuptools
# wheels Debian ships in /usr/share/python-wheels.
#
# Everything installed must agree in path set, type, mode and content, except: RECORD (compared
# as a set of rows without the INSTALLER and direct_url.json rows), INSTALLER (lade vs pip),
# direct_url.json (pip only), the activate scripts and Debian's empty include/python3.X of the
# venv module. The venv skeleton itself is checked separately: the bin/python* links must reach
# the same interpreter (the chain of links depends on the name venv was started by), and
# pyvenv.cfg must agree except for the micro version and the command line.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 umoci unshare sha256sum
need_root "unshare --mount for pip at /opt/venv, umoci unpack"
ensure_base
export LC_ALL=C
umask 022

PY=$TEST_PY # the interpreter of the test base image
[ -x "$PY" ] || skip_all "$PY is not installed on this host"
"$PY" -c 'import venv' 2>/dev/null || skip_all "$PY has no venv module"

# The pip that installs: the current pip of the tools venv, `pip --python VENV/bin/python`.
need_tools_venv
diag "pip $PIP_VERSION from $LADE_TOOLS_VENV (via --python)"

W=$T/wheels
python3 "$LADE_SRCDIR/tests/fixtures/make-wheels.py" "$W" >"$T/make-wheels.log" 2>&1 ||
	bail_out "make-wheels.py failed: $(cat "$T/make-wheels.log")"
[ -s "$T/make-wheels.log" ] && diag "make-wheels.py: $(cat "$T/make-wheels.log")"


# purepkg requires requests: a stub makes the lock complete. scriptshim has console scripts
# named like pip's and setuptools' own, with versioned ones for another Python (3.9): pip
# writes pip, pip3, pip3.X, easy_install and easy_install-3.X for the target instead.
python3 - "$W" <<'PY' || bail_out "cannot make the requests stub and scriptshim wheels"
import sys, wheelkit
wheelkit.mw.simple(sys.argv[1], "requests", "2.31.0",
                   {"requests/__init__.py": b"__version__ = '2.31.0'\n"})
wheelkit.mw.simple(sys.argv[1], "scriptshim", "1.0",
                   {"scriptshim/__init__.py": b"def main():\n    return 0\n"},
                   entry_points="[console_scripts]\n" + "".join(
                       f"{n} = scriptshim:main\n" for n in
                       ("pip", "pip3", "pip3.9", "pip-shim", "easy_install",
                        "easy_install-3.9", "easy_install-x")))
PY


# compare_set LABEL WHEELHOUSE LOCK — lade build + umoci unpack, venv + pip, compare.
compare_set() {
	local label=$1 wh=$2 lock=$3 d=$T/$1
	mkdir -p "$d"
	cat >"$d/recipe.yaml" <<YAML
name: wheels-pip
tag: t
base: {oci: "$BASE_REF"}
python: {interpreter: $PY, version: "$TEST_PYVER", venv: /opt/venv, lock: $lock, wheelhouse: [$wh]}
YAML
	run_lade build "$d/recipe.yaml" -o "$d/out" -q
	is "$RC" 0 "[$label] lade build exits 0"
	if [ "$RC" -ne 0 ]; then
		diag "$ERR"
		return
	fi
	local out
	if ! out=$(umoci unpack --image "$d/out:t" "$d/bundle" 2>&1); then
		not_ok "[$label] umoci unpack"
		diag "$out"
		return
	fi
	ok "[$label] umoci unpack"
	[ -d "$d/bundle/rootfs/opt/venv" ] || { not_ok "[$label] the image has /opt/venv"; return; }

	mkdir -p "$d/pip"
	if ! out=$(pip_at_opt_venv "$d/pip" "$PY" install --quiet --no-index \
		--no-deps --find-links "$wh" -r "$lock" 2>&1); then
		not_ok "[$label] venv + pip install"
		diag "$out"
		return
	fi
	ok "[$label] venv + pip install at /opt/venv"

	tap_from python3 "$LADE_SRCDIR/tests/fixtures/pip-venv-compare.py" "$d/bundle/rootfs/opt/venv" "$d/pip" "$label"
}

# Set 1: the fixture wheels that fit a glibc CPython $TEST_PYVER x86_64 target (muslpkg does not; one
# local variant of localpkg, as make-wheels.py's own lock has).
fixtures=()
for w in "$W"/*.whl; do
	case ${w##*/} in
	hostile_* | muslpkg-* | *+cu121*) ;;
	*) fixtures+=("${w##*/}") ;;
	esac
done
wheelkit lock "$T/fixtures.lock" "${fixtures[@]/#/$W/}" || bail_out "cannot write the fixture lock"
diag "fixture set: ${fixtures[*]}"
compare_set fixtures "$W" "$T/fixtures.lock"

# Set 2: Debian's pip and setuptools wheels.
mapfile -t debian < <(compgen -G '/usr/share/python-wheels/pip-*.whl'; compgen -G '/usr/share/python-wheels/setuptools-*.whl')
if [ ${#debian[@]} -eq 2 ]; then
	mkdir -p "$T/debian-wheels"
	cp "${debian[@]}" "$T/debian-wheels/"
	wheelkit lock "$T/debian.lock" "$T"/debian-wheels/*.whl || bail_out "cannot write the debian lock"
	compare_set debian-wheels "$T/debian-wheels" "$T/debian.lock"
else
	ok "# SKIP pip/setuptools: /usr/share/python-wheels lacks them (python3-pip-whl, python3-setuptools-whl)"
fi

done_testing
