#!/bin/bash
# `python: {site-packages: system}`: the locked wheels installed into the base interpreter's own
# site directory, as `pip install` run as root by that interpreter would. The base is the shared
# test base ($TEST_PY, Debian's) with one layer added by tests/fixtures/add-layer.py:
# the whiteout of /usr/lib/python3.X/EXTERNALLY-MANAGED and Debian's /usr/lib/python3/
# dist-packages, so lade picks Debian's posix_local scheme (/usr/local/lib/python3.X/
# dist-packages, /usr/local/bin). The installed tree (the paths the lade layers add to the base)
# must be what the current pip (the tools venv's, run by that interpreter) lays out with
# `--root`: path set, types, modes, content, RECORD rows (without INSTALLER and direct_url.json), no venv, no VIRTUAL_ENV, the
# base's PATH. Then the refusals: the unchanged base (PEP 668 marker), a base without any site
# directory, another version of a locked distribution in the base; a same-version one is kept.
# Last, with buildah, the image runs: python imports the packages, a console script runs from
# /usr/local/bin.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd python3 umoci sha256sum
need_root "umoci unpack keeps owners; the shared base needs buildah as root"
ensure_base
export LC_ALL=C
umask 022

PY=$TEST_PY # the interpreter of the test base image
[ -x "$PY" ] || skip_all "$PY is not installed on this host"
need_tools_venv
diag "pip $PIP_VERSION from $LADE_TOOLS_VENV run with --python $PY --root"

W=$T/wheels
python3 "$LADE_SRCDIR/tests/fixtures/make-wheels.py" "$W" >"$T/make-wheels.log" 2>&1 ||
	bail_out "make-wheels.py failed: $(cat "$T/make-wheels.log")"
# purepkg requires requests: a stub makes the lock complete.
python3 - "$W" <<'PY' || bail_out "cannot make the requests stub wheel"
import os, sys
from wheelkit import mw
mw.simple(sys.argv[1], "requests", "2.31.0", {"requests/__init__.py": b"__version__ = '2.31.0'\n"})
PY

# lock FILE WHEEL... — name==version --hash lines.
lock() {
	local out=$1 w
	shift
	: >"$out"
	for w in "$@"; do
		local b=${w##*/}
		printf '%s==%s --hash=sha256:%s\n' "${b%%-*}" "$(cut -d- -f2 <<<"$b")" \
			"$(sha256_file "$w")" >>"$out"
	done
}
# The fixture wheels that fit a glibc CPython $TEST_PYVER x86_64 target, as wheels-pip.sh takes them.
fixtures=()
for w in "$W"/*.whl; do
	case ${w##*/} in
	hostile_* | muslpkg-* | *+cu121*) ;;
	*) fixtures+=("$w") ;;
	esac
done
lock "$T/fixtures.lock" "${fixtures[@]}"
diag "fixture set: $(cd "$W" && echo "${fixtures[@]##*/}")"

# add_layer NAME ITEM... — the shared base plus one layer, as oci:$T/bases/NAME:t.
add_layer() {
	local name=$1 out
	shift
	if ! out=$(python3 "$LADE_SRCDIR/tests/fixtures/add-layer.py" "$BASE_REF" \
		"$T/bases/$name:t" "$@" 2>&1); then
		bail_out "add-layer.py $name: $out"
	fi
}
UNMANAGED=(whiteout:usr/lib/python$TEST_PYVER/EXTERNALLY-MANAGED dir:usr/lib/python3/dist-packages)
DP=usr/local/lib/python$TEST_PYVER/dist-packages
add_layer system "${UNMANAGED[@]}"
add_layer nosite whiteout:usr/lib/python$TEST_PYVER/EXTERNALLY-MANAGED
add_layer same "${UNMANAGED[@]}" "dir:$DP/purepkg-1.0.dist-info" \
	"file:$DP/purepkg-1.0.dist-info/METADATA=Metadata-Version: 2.1
Name: purepkg
Version: 1.0
" "file:$DP/purepkg/__init__.py=# from the base
"
add_layer other "${UNMANAGED[@]}" "dir:$DP/PurePkg-0.9.dist-info"
python3 "$LADE_SRCDIR/tests/fixtures/add-layer.py" "$BASE_REF" "$T/bases/again:t" \
	"${UNMANAGED[@]}" >/dev/null 2>&1
check "add-layer.py is deterministic (the same items give the same layout)" \
	diff -r "$T/bases/system" "$T/bases/again"

# recipe DIR BASE [LOCK] — a site-packages: system recipe over oci:$T/bases/BASE:t.
recipe() {
	mkdir -p "$1"
	cat >"$1/recipe.yaml" <<YAML
name: wheels-system
tag: t
base: {oci: "$T/bases/$2:t"}
python:
  interpreter: $PY
  version: "$TEST_PYVER"
  site-packages: system
  lock: ${3:-$T/fixtures.lock}
  wheelhouse: [$W]
YAML
}

# --- the install, against the current pip --root
R=$T/sys
recipe "$R" system
run_lade build "$R/recipe.yaml" -o "$R/out"
is "$RC" 0 "lade build with site-packages: system exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
like "$ERR" "python site directory /$DP \(scripts in /usr/local/bin\)" \
	"the build names the site directory it installs into"
digest1=$(printed_digest "$OUT")
run_lade build "$R/recipe.yaml" -o "$R/out2" -q
is "$(printed_digest "$OUT")" "$digest1" "a second build gives the same manifest digest"

check "umoci unpack of the image" umoci unpack --image "$R/out:t" "$R/bundle"
check "umoci unpack of the base" umoci unpack --image "$T/bases/system:t" "$R/base"
[ -d "$R/bundle/rootfs/$DP" ] || { not_ok "the image has /$DP"; done_testing; }

cfg=$(json_get '.process.env[]' "$R/bundle/config.json")
like "$cfg" "^PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin$" \
	"the config keeps the base's PATH"
if grep -q VIRTUAL_ENV <<<"$cfg"; then not_ok "no VIRTUAL_ENV in the config"; else ok "no VIRTUAL_ENV in the config"; fi
if [ -e "$R/bundle/rootfs/opt/venv" ] || [ -n "$(find "$R/bundle/rootfs" -name pyvenv.cfg)" ]; then
	not_ok "no venv in the image"
else
	ok "no venv in the image (no /opt/venv, no pyvenv.cfg)"
fi
layers=$(oci_config "$R/out" | json_get '.history[2:][].created_by' | paste -sd '|')
like "$layers" "^lade install [^|]*(\|lade install [^|]*)*$" \
	"the layers after the base install wheels only (no venv skeleton): $layers"

mkdir -p "$R/pip"
if ! out=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$R" LANG=C.UTF-8 \
	PIP_CONFIG_FILE=/dev/null PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 \
	"$TOOLS_PY" -m pip --python "$PY" install --quiet --root "$R/pip" --no-index --no-deps \
	--no-warn-script-location --disable-pip-version-check --find-links "$W" \
	-r "$T/fixtures.lock" 2>&1); then
	not_ok "pip install --root"
	diag "$out"
	done_testing
fi
ok "pip $PIP_VERSION install --root with $PY"

cat >"$T/compare.py" <<'PY'
import csv, hashlib, io, os, stat, sys
from pipcompare import pyc_differs, record_rows, scan

lade_root, base_root, pip_root = sys.argv[1:4]


def out(kind, msg):
    print(f"{kind}\t{msg}")


L, B, P = scan(lade_root), scan(base_root), scan(pip_root)
added = {r for r in L if r not in B}
# pip --root makes every parent directory; those the base has already are not added by lade.
wanted = {r for r in P if not r.endswith(".dist-info/direct_url.json")}
missing = sorted(r for r in wanted if r not in L)
extra = sorted(r for r in added if r not in wanted)
for r in missing:
    out("not ok", f"{r}: installed by pip, missing in the lade image")
for r in extra:
    out("not ok", f"{r}: added by lade, not installed by pip")
if not missing and not extra:
    out("ok", f"same set of paths ({len(wanted)} from pip, {len(added)} added to the base)")
fails = 0
same = 0
for r in sorted(wanted & set(L)):
    (lk, lm, ld), (pk, pm, pd) = L[r], P[r]
    if (lk, lm) != (pk, pm):
        out("not ok", f"{r}: {lk} {lm:04o} in the lade image, {pk} {pm:04o} from pip")
        fails += 1
        continue
    if lk != "file":
        same += 1
        continue
    base = r.rsplit("/", 1)[-1]
    if base == "INSTALLER" and ".dist-info/" in r:
        ok_ = ld == b"lade\n"
    elif r.endswith(".pyc"):
        why = pyc_differs(ld, pd)
        ok_ = why is None
        if why:
            out("#", f"  {r}: {why}")
    elif base == "RECORD" and ".dist-info/" in r:
        lr, pr = record_rows(ld), record_rows(pd)
        ok_ = lr == pr
        for row in sorted(lr ^ pr):
            out("#", f"  {'lade' if row in lr else 'pip'} only: {','.join(row)}")
    else:
        ok_ = ld == pd
        if not ok_:
            out("#", f"  {r}: lade {hashlib.sha256(ld).hexdigest()[:16]}, "
                     f"pip {hashlib.sha256(pd).hexdigest()[:16]}")
    if ok_:
        same += 1
    else:
        out("not ok", f"{r}: content differs")
        fails += 1
out("ok" if fails == 0 else "not ok",
    f"{same} installed paths identical in type, mode and content (RECORD as rows), "
    f"{fails} differences")
PY
tap_from python3 "$T/compare.py" "$R/bundle/rootfs" "$R/base/rootfs" "$R/pip"
is "$(head -n 1 "$R/bundle/rootfs/usr/local/bin/purepkg")" "#!$PY" \
	"console script wrapper in /usr/local/bin with #!$PY"
check "datapkg's header under /usr/include/python$TEST_PYVER/datapkg (Debian pip's headers path)" \
	test -f "$R/bundle/rootfs/usr/include/python$TEST_PYVER/datapkg/datapkg.h"

# --- refusals and the kept distribution
R=$T/managed
mkdir -p "$R"
sed "s|$T/bases/system:t|$BASE_REF|" "$T/sys/recipe.yaml" >"$R/recipe.yaml"
run_lade build "$R/recipe.yaml" -o "$R/out"
is "$RC" 1 "a base with EXTERNALLY-MANAGED is refused"
is "$ERR" "lade: error: $R/recipe.yaml:4:1: python: site-packages: system: the base marks $PY as externally managed (/usr/lib/python$TEST_PYVER/EXTERNALLY-MANAGED, PEP 668): use venv:, or a base without that file" \
	"the PEP 668 message names the recipe position, the interpreter and the marker"
check "no image written when refused" test ! -e "$R/out/index.json"

R=$T/nosite
recipe "$R" nosite
run_lade build "$R/recipe.yaml" -o "$R/out"
is "$RC" 1 "a base without a site directory is refused"
like "$ERR" "python: site-packages: system: python interpreter $PY has no site directory in the base: neither /usr/lib/python$TEST_PYVER/site-packages \(a python.org build\) nor /usr/lib/python3/dist-packages \(Debian's python3 in /usr/bin\) is a directory \(use venv:\)$" \
	"the message names both paths looked for and suggests venv:"

R=$T/other
recipe "$R" other
run_lade build "$R/recipe.yaml" -o "$R/out"
is "$RC" 1 "another version of a locked distribution in the base is refused"
line=$(grep -n '^purepkg==' "$T/fixtures.lock" | cut -d: -f1)
like "$ERR" "^lade: error: $T/fixtures.lock:$line: purepkg 1.0 is locked, the base has purepkg 0.9 \(/$DP/PurePkg-0.9.dist-info\): lade does not uninstall from a base image: lock 0.9, or use venv:$" \
	"the message names the lock line, both versions and the dist-info"

R=$T/same
recipe "$R" same
run_lade build "$R/recipe.yaml" -o "$R/out"
is "$RC" 0 "the same version in the base: the build exits 0"
like "$ERR" "purepkg 1.0 is in the base already \(/$DP/purepkg-1.0.dist-info\): kept, as pip does" \
	"a note says the base's purepkg is kept"
if [ "$RC" -eq 0 ] && umoci unpack --image "$R/out:t" "$R/bundle" >/dev/null 2>&1; then
	is "$(cat "$R/bundle/rootfs/$DP/purepkg/__init__.py")" "# from the base" \
		"the base's purepkg is what the image has"
	check "purepkg's console script is not installed" test ! -e "$R/bundle/rootfs/usr/local/bin/purepkg"
	check "the other distributions are installed" test -f "$R/bundle/rootfs/$DP/datapkg-0.3.dist-info/RECORD"
	hist=$(oci_config "$R/out" | json_get '.history[].created_by?')
	if grep -q "lade install purepkg" <<<"$hist"; then not_ok "no layer installs purepkg"; else ok "no layer installs purepkg"; fi
else
	not_ok "umoci unpack of the image over a base with purepkg 1.0"
fi

# --- the image runs
if command -v buildah >/dev/null 2>&1; then
	export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
	BUILDAH=(buildah --root "$T/containers/root" --runroot "$T/containers/run" --storage-driver vfs)
	at_exit "${BUILDAH[*]} rm --all; ${BUILDAH[*]} rmi --all --force"
	ctr=$("${BUILDAH[@]}" from --quiet --name lade-wheels-system "oci:$T/sys/out:t" 2>"$T/from.err")
	if [ -z "$ctr" ]; then
		not_ok "buildah from the site-packages: system image"
		diag "$(cat "$T/from.err")"
	else
		brun() { "${BUILDAH[@]}" run "$ctr" -- "$@" 2>&1; }
		is "$(brun "$PY" -c 'import platpkg, purepkg, datapkg_extra, sys; print(platpkg.add(40, 2), sys.prefix, purepkg.__file__)')" \
			"42 /usr /$DP/purepkg/__init__.py" \
			"$PY imports the installed packages from /$DP (C extension included)"
		is "$(brun "$PY" -c '
import importlib.metadata as m
print(m.distribution("purepkg").read_text("INSTALLER").strip(), m.version("platpkg"))')" \
			"lade 2.0" "importlib.metadata sees the distributions, installed by lade"
		out=$(brun /bin/sh -c 'command -v purepkg && purepkg')
		rc=$?
		is "$rc" 0 "the console script purepkg runs from the base's PATH"
		like "$out" "^/usr/local/bin/purepkg" "purepkg is found in /usr/local/bin"
		diag "purepkg: $out"
	fi
else
	ok "# SKIP buildah run: buildah is not installed"
fi

done_testing
