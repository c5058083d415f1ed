#!/bin/bash
# Conformance with pip: the venv lade installs into an image must be the tree that
# `pip install --no-compile --no-index --no-deps -r LOCK` makes in a `python3 -m venv
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

PY=/usr/bin/python3.11 # the interpreter of the test base image
[ -x "$PY" ] || skip_all "$PY is not installed on this host"
"$PY" -c 'import venv' 2>/dev/null || skip_all "$PY has no venv module"

# The pip that installs: the host's `python3 -m pip --python VENV/bin/python` (pip >= 22.3),
# else Debian's pip wheel run by the venv's own python.
HOSTPY=$(python3 -c 'import sys; print(sys.executable)') # not a pyenv shim: env -i below
PIP_MODE=
if pipv=$("$HOSTPY" -m pip --version 2>/dev/null) &&
	"$HOSTPY" -m pip install --help 2>/dev/null | grep -q -- '--python'; then
	PIP_MODE=host
	diag "pip: $pipv (via --python)"
elif pipwhl=$(compgen -G '/usr/share/python-wheels/pip-*.whl' | head -n 1) && [ -n "$pipwhl" ]; then
	PIP_MODE=wheel
	diag "pip: $pipwhl run by the venv's python"
else
	skip_all "no pip: neither 'python3 -m pip' with --python nor /usr/share/python-wheels/pip-*.whl"
fi

W=$T/wheels
python3 "$LADE_SRCDIR/tests/fixtures/make-wheels.py" "$W" >"$T/make-wheels.log" 2>&1 ||
	bail_out "make-wheels.py failed: $(cat "$T/make-wheels.log")"
[ -s "$T/make-wheels.log" ] && diag "make-wheels.py: $(cat "$T/make-wheels.log")"


# purepkg requires requests: a stub makes the lock complete.
python3 - "$W" <<'PY' || bail_out "cannot make the requests stub wheel"
import sys, wheelkit
wheelkit.mw.simple(sys.argv[1], "requests", "2.31.0",
                   {"requests/__init__.py": b"__version__ = '2.31.0'\n"})
PY

# The comparison: prints "ok<TAB>desc", "not ok<TAB>desc" or "#<TAB>diag" lines.
cat >"$T/compare.py" <<'PY'
import csv, hashlib, io, os, stat, sys
from pipcompare import record_rows, scan

lade_root, pip_root, label = sys.argv[1], sys.argv[2], sys.argv[3]
VENV_ONLY = {"bin/activate", "bin/activate.csh", "bin/activate.fish", "bin/Activate.ps1"}
SKELETON = {"bin/python", "bin/python3", "lib64", "pyvenv.cfg"}


def out(kind, msg):
    print(f"{kind}\t[{label}] {msg}")


def skeleton(rel):
    return rel in SKELETON or rel.startswith("bin/python3.")


def resolve(tree, rel, depth=0):
    """Follow symlinks inside the venv until an absolute target (the interpreter)."""
    kind, _, target = tree.get(rel, (None, None, None))
    if kind != "symlink" or depth > 10:
        return rel if kind else None
    if target.startswith("/"):
        return target
    return resolve(tree, os.path.normpath(os.path.join(os.path.dirname(rel), target)), depth + 1)


L, P = scan(lade_root), scan(pip_root)
fails = 0
# Debian's venv module makes an empty include/python3.X: part of the venv, not of pip's install.
deb_include = {r for r in P if r.startswith("include/python3.") and P[r][0] == "dir"
               and not any(q.startswith(r + "/") for q in P)}
only_pip = sorted(r for r in P if r not in L and r not in VENV_ONLY and r not in deb_include
                  and not r.endswith(".dist-info/direct_url.json"))
only_lade = sorted(r for r in L if r not in P)
for r in only_pip:
    out("not ok", f"{r}: installed by pip, missing in the lade image")
for r in only_lade:
    out("not ok", f"{r}: in the lade image, not installed by pip")
if not only_pip and not only_lade:
    out("ok", f"same set of {len(L)} paths")
fails += len(only_pip) + len(only_lade)

same = 0
for r in sorted(set(L) & set(P)):
    if skeleton(r):
        continue
    (lk, lm, ld), (pk, pm, pd) = L[r], P[r]
    if lk != pk:
        out("not ok", f"{r}: a {lk} in the lade image, a {pk} from pip")
        fails += 1
        continue
    if lm != pm:
        out("not ok", f"{r}: mode {lm:04o} in the lade image, {pm:04o} from pip")
        fails += 1
        continue
    if lk == "symlink" and ld != pd:
        out("not ok", f"{r}: link to {ld} in the lade image, {pd} from pip")
        fails += 1
        continue
    if lk != "file":
        same += 1
        continue
    base = r.rsplit("/", 1)[-1]
    if base == "INSTALLER" and ".dist-info/" in r:
        if ld != b"lade\n":
            out("not ok", f"{r}: INSTALLER is {ld!r}, expected b'lade\\n'")
            fails += 1
        else:
            same += 1
        continue
    if base == "RECORD" and ".dist-info/" in r:
        lr, pr = record_rows(ld), record_rows(pd)
        if lr != pr:
            out("not ok", f"{r}: RECORD rows differ")
            for row in sorted(lr - pr):
                out("#", f"  lade only: {','.join(row)}")
            for row in sorted(pr - lr):
                out("#", f"  pip only:  {','.join(row)}")
            fails += 1
        else:
            same += 1
        continue
    if ld != pd:
        out("not ok", f"{r}: content differs (lade sha256 {hashlib.sha256(ld).hexdigest()[:16]}, "
                      f"pip {hashlib.sha256(pd).hexdigest()[:16]})")
        if len(ld) < 4096 and len(pd) < 4096:
            import difflib
            for line in difflib.unified_diff(pd.decode(errors="replace").splitlines(),
                                             ld.decode(errors="replace").splitlines(),
                                             "pip", "lade", lineterm="", n=1):
                out("#", "  " + line)
        fails += 1
        continue
    same += 1
out("ok" if fails == 0 else "not ok",
    f"{same} installed paths identical in type, mode and content, {fails} differences")

# The skeleton: the python links reach the same interpreter, lib64 -> lib, pyvenv.cfg.
for r in sorted(x for x in set(L) | set(P) if skeleton(x) and x != "pyvenv.cfg"):
    lr, pr = resolve(L, r), resolve(P, r)
    if lr == pr and lr is not None:
        out("ok", f"{r} resolves to {lr} in both")
        if L[r][2] != P[r][2]:
            out("#", f"  {r}: link to {L[r][2]} in the lade image, {P[r][2]} from venv")
    else:
        out("not ok", f"{r} resolves to {lr} in the lade image, {pr} with venv+pip")


def cfg(tree):
    kind, _, data = tree.get("pyvenv.cfg", (None, None, None))
    if kind != "file":
        return None
    d = {}
    for line in data.decode().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            d[k.strip()] = v.strip()
    d.pop("command", None)  # "-m venv --without-pip /opt/venv" vs "-m venv /opt/venv"
    if "version" in d:  # venv knows the micro version, a recipe says "3.11"
        d["version"] = ".".join(d["version"].split(".")[:2])
    return d


lc, pc = cfg(L), cfg(P)
if lc is not None and lc == pc:
    out("ok", "pyvenv.cfg agrees (home, executable, include-system-site-packages, X.Y version)")
else:
    out("not ok", f"pyvenv.cfg: lade {lc}, venv {pc}")
PY

# compare_set LABEL WHEELHOUSE LOCK — lade build + umoci unpack, venv + pip, compare.
compare_set() {
	local label=$1 wh=$2 lock=$3 d=$T/$1
	mkdir -p "$d"
	cat >"$d/recipe.yaml" <<YAML
name: wheels-pip
tag: t
base: {oci: "$BASE_OCI:python3.11"}
python: {interpreter: $PY, version: "3.11", venv: /opt/venv, lock: $lock, wheelhouse: [$wh]}
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

	# pip at /opt/venv: a tmpfs on /opt in a private mount namespace, the stage dir bound on
	# /opt/venv. No host configuration, no cache, no network.
	mkdir -p "$d/pip"
	local -a pip
	if [ "$PIP_MODE" = host ]; then
		pip=("$HOSTPY" -m pip --python /opt/venv/bin/python)
	else
		pip=(/opt/venv/bin/python "$pipwhl/pip")
	fi
	if ! out=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$d" LANG=C.UTF-8 \
		PIP_CONFIG_FILE=/dev/null PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 \
		unshare --mount --propagation private /bin/sh -ec '
			umask 022
			mount -t tmpfs tmpfs /opt
			mkdir /opt/venv
			mount --bind "$0" /opt/venv
			"$1" -m venv --without-pip /opt/venv
			shift 2
			exec "$@"' "$d/pip" "$PY" -- "${pip[@]}" install --quiet --no-compile --no-index \
		--no-deps --disable-pip-version-check --find-links "$wh" -r "$lock" 2>&1); then
		not_ok "[$label] venv + pip install"
		diag "$out"
		return
	fi
	ok "[$label] venv + pip install at /opt/venv"

	local kind desc
	while IFS=$'\t' read -r kind desc; do
		case $kind in
		ok) ok "$desc" ;;
		"not ok") not_ok "$desc" ;;
		*) diag "$desc" ;;
		esac
	done < <(python3 "$T/compare.py" "$d/bundle/rootfs/opt/venv" "$d/pip" "$label" 2>&1 ||
		printf 'not ok\t[%s] compare.py failed\n' "$label")
}

# Set 1: the fixture wheels that fit a glibc CPython 3.11 x86_64 target (muslpkg does not; one
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
