#!/bin/bash
# python.compile: the .pyc files lade writes with its bytecode helper (the host's $TEST_PY, the
# base's interpreter).
# - present as __pycache__/NAME.$TEST_PYC_TAG.pyc (cpython-311 for 3.11) with PEP 552 flags 1
#   (unchecked hash), listed in RECORD as pip lists them ("path,,"), for .py files in every
#   scheme directory;
# - a file that does not compile is installed, not compiled, and the build says so;
# - two builds from different directories and umasks give one digest;
# - the interpreter in the image uses the pyc: the source changed inside the container does not
#   change what is imported (and it does with compile: false, the control);
# - compile: false gives the same tree minus the pycs and their RECORD rows;
# - python.optimize: 2 writes .opt-2.pyc; a missing interpreter fails before anything is
#   written, naming python.compiler and python.compile: false.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd buildah python3 tar
need_root "buildah from/run with vfs storage"
ensure_base
export LC_ALL=C
[ -x "$TEST_PY" ] || skip_all "no $TEST_PY to compile with"
export PATH=/usr/bin:/bin:/usr/sbin:/sbin # the compiler: $TEST_PY, as the base's

export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
BUILDAH=(buildah --root "$T/containers/root" --runroot "$T/containers/run" --storage-driver vfs)
at_exit "${BUILDAH[*]} rm --all; ${BUILDAH[*]} rmi --all --force"

R=$T/a
mkdir -p "$R/wheels"
python3 - "$R/wheels" <<'PY' || bail_out "cannot make the bcpkg wheel"
import sys
from wheelkit import mw
mw.simple(sys.argv[1], "bcpkg", "1.0", {
    "bcpkg/__init__.py": b"VALUE = 'compiled'\n",
    "bcpkg/sub/mod.py": b"# -*- coding: latin-1 -*-\nS = '\xe9t\xe9'\nF = frozenset({'a', 'b', 'c'})\n",
    "bcpkg/broken.py": b"def f(:\n    pass\n",
    "bcpkg/data.txt": b"not python\n",
    "bcpkg-1.0.data/purelib/bcextra.py": b"EXTRA = 1\n",
})
PY
wheelkit lock "$R/requirements.lock" "$R"/wheels/*.whl || bail_out "cannot write the lock"
recipe() { # DIR EXTRA-PYTHON-KEYS
	cat >"$1/recipe.yaml" <<YAML
name: bytecode
tag: t
base: {oci: "$BASE_REF"}
python: {interpreter: $TEST_PY, version: "$TEST_PYVER", lock: requirements.lock, wheelhouse: [wheels/]$2}
YAML
}
recipe "$R" ""
# another_recipe DIR EXTRA-PYTHON-KEYS — the same wheels and lock in DIR, the recipe with EXTRA.
another_recipe() {
	mkdir -p "$1"
	cp -a "$R/wheels" "$R/requirements.lock" "$1/"
	recipe "$1" "$2"
}
# unpack LAYOUT DIR — every layer of LAYOUT:t extracted into DIR.
unpack() {
	mkdir -p "$2"
	for l in $(oci_layers "$1" t); do
		tar -xzf "$(oci_blob "$1" "$l")" -C "$2" 2>/dev/null
	done
}
SITE=opt/venv/lib/python$TEST_PYVER/site-packages

# -- the compiled image
run_lade build "$R/recipe.yaml" -o "$T/out-a"
is "$RC" 0 "build with python.compile (the default) exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
digest_a=$(printed_digest "$OUT")
like "$ERR" "bcpkg-1.0-py3-none-any.whl: /$SITE/bcpkg/broken.py not compiled \(SyntaxError: " \
	"the file that does not compile is named in a note"

unpack "$T/out-a" "$T/tree-a"
for p in bcpkg/__pycache__/__init__.$TEST_PYC_TAG.pyc bcpkg/sub/__pycache__/mod.$TEST_PYC_TAG.pyc \
	__pycache__/bcextra.$TEST_PYC_TAG.pyc; do
	if [ -f "$T/tree-a/$SITE/$p" ]; then ok "$p is in the image"; else not_ok "$p is in the image"; fi
done
is "$(ls "$T/tree-a/$SITE/bcpkg/__pycache__")" "__init__.$TEST_PYC_TAG.pyc" \
	"no pyc for broken.py, nor for data.txt"
is "$(python3 -c 'import sys; d = open(sys.argv[1], "rb").read(16); print(int.from_bytes(d[4:8], "little"))' \
	"$T/tree-a/$SITE/bcpkg/__pycache__/__init__.$TEST_PYC_TAG.pyc")" 1 "PEP 552 flags 1: unchecked hash"
record=$T/tree-a/$SITE/bcpkg-1.0.dist-info/RECORD
is "$(grep -c '\.pyc,,' "$record")" 3 "RECORD lists the three pycs as pip does (path,,)"
like "$(cat "$record")" "bcpkg/sub/__pycache__/mod.$TEST_PYC_TAG.pyc,," "RECORD row of a nested module"

# -- another directory, another umask: one digest
B=$T/other/place
another_recipe "$B" ""
(umask 077 && cd / && "$LADE" build "$B/recipe.yaml" -o "$T/out-b" -q >"$T/b.out" 2>"$T/b.err")
is "$(printed_digest "$(cat "$T/b.out")")" "$digest_a" \
	"built from another directory under umask 077: the same manifest digest"

# -- with the layer cache: the wheels' bytecode is kept (DIR/pyc/KEY), a rebuild uses it, and a
# damaged memo is not used
run_lade build "$R/recipe.yaml" -o "$T/out-cache1" -q --cache "$T/cache"
is "$(printed_digest "$OUT")" "$digest_a" "with the layer cache: the same digest"
is "$(ls "$T/cache/pyc" 2>/dev/null | wc -l)" 1 "one bytecode memo for the one wheel"
run_lade build "$R/recipe.yaml" -o "$T/out-cache2" --cache "$T/cache" --json
is "$(json_get '.images[0].digest' <<<"$OUT")" "$digest_a" "rebuilt from the cache: the same digest"
is "$(json_get '.images[0].layers[]' <<<"$OUT" | grep -c '"reused": *true')" 1 \
	"the venv layer is reused (not compiled, not compressed again)"
for m in "$T"/cache/pyc/*; do printf 'x' | dd of="$m" bs=1 seek=40 conv=notrunc 2>/dev/null; done
run_lade build "$R/recipe.yaml" -o "$T/out-cache3" -q --cache "$T/cache"
is "$(printed_digest "$OUT")" "$digest_a" "a damaged bytecode memo is compiled again: the same digest"

# -- the interpreter uses the pyc
ctr=$("${BUILDAH[@]}" from --quiet "oci:$T/out-a:t" 2>"$T/from.err") || true
if [ -n "$ctr" ]; then
	brun() { "${BUILDAH[@]}" run --env PYTHONDONTWRITEBYTECODE=1 "$ctr" -- "$@" 2>&1; }
	is "$(brun /opt/venv/bin/python -c 'import bcpkg, bcextra; print(bcpkg.VALUE, bcextra.EXTRA)')" \
		"compiled 1" "the modules import"
	brun /bin/sh -c "echo \"VALUE = 'source'\" > /$SITE/bcpkg/__init__.py"
	is "$(brun /opt/venv/bin/python -c 'import bcpkg; print(bcpkg.VALUE, bcpkg.__cached__)')" \
		"compiled /$SITE/bcpkg/__pycache__/__init__.$TEST_PYC_TAG.pyc" \
		"with the source changed in the container, the import still gives the compiled code"
	is "$(brun /opt/venv/bin/python -c 'import bcpkg.sub.mod as m; print(m.__spec__.origin, m.S == "\xe9t\xe9", sorted(m.F))')" \
		"/$SITE/bcpkg/sub/mod.py True ['a', 'b', 'c']" "co_filename and the latin-1 source's constants"
else
	not_ok "buildah from oci:out-a:t"
	diag "$(cat "$T/from.err")"
fi

# -- compile: false: the same tree without the pycs (and the control for the pyc's use)
another_recipe "$T/c" ", compile: false"
run_lade build "$T/c/recipe.yaml" -o "$T/out-c" -q
is "$RC" 0 "build with python.compile: false exits 0"
unpack "$T/out-c" "$T/tree-c"
is "$(cd "$T/tree-c" && find . -name '*.pyc' -path './opt/*' | wc -l)" 0 "no pyc with compile: false"
is "$(cd "$T/tree-c/opt" && find . ! -name RECORD | sort)" \
	"$(cd "$T/tree-a/opt" && find . ! -name '*.pyc' ! -name __pycache__ ! -name RECORD | sort)" \
	"the same paths as the compiled image without its pycs"
is "$(cat "$T/tree-c/$SITE/bcpkg-1.0.dist-info/RECORD")" "$(grep -v '\.pyc,,' "$record")" \
	"RECORD is the compiled image's without the pyc rows"
ctr_c=$("${BUILDAH[@]}" from --quiet "oci:$T/out-c:t" 2>/dev/null) || true
if [ -n "$ctr_c" ]; then
	crun() { "${BUILDAH[@]}" run --env PYTHONDONTWRITEBYTECODE=1 "$ctr_c" -- "$@" 2>&1; }
	crun /bin/sh -c "echo \"VALUE = 'source'\" > /$SITE/bcpkg/__init__.py"
	is "$(crun /opt/venv/bin/python -c 'import bcpkg; print(bcpkg.VALUE)')" "source" \
		"control: without pycs the changed source is what is imported"
else
	not_ok "buildah from oci:out-c:t"
fi

# -- optimize: 2
another_recipe "$T/o" ", optimize: 2"
run_lade build "$T/o/recipe.yaml" -o "$T/out-o" -q
is "$RC" 0 "build with python.optimize: 2 exits 0"
like "$(for l in $(oci_layers "$T/out-o" t); do tar -tzf "$(oci_blob "$T/out-o" "$l")"; done)" \
	"bcpkg/__pycache__/__init__.$TEST_PYC_TAG.opt-2.pyc" "optimize 2 writes NAME.$TEST_PYC_TAG.opt-2.pyc"

# -- no interpreter: an error before anything is written
M=$T/m
another_recipe "$M" ", compiler: /nonexistent/python$TEST_PYVER"
run_lade build "$M/recipe.yaml" -o "$T/out-m" -q
isnt_zero=$([ "$RC" -ne 0 ] && echo yes)
is "$isnt_zero" yes "a missing python.compiler fails"
like "$ERR" "recipe.yaml:4:[0-9]+: python.compile: set python.compiler to a Python $TEST_PYVER interpreter, or python.compile: false: /nonexistent/python$TEST_PYVER" \
	"the error names python.compiler and python.compile: false"
[ -e "$T/out-m" ] && not_ok "nothing written" || ok "nothing written (no output directory)"
recipe "$M" ""
ERR=$(env PATH=/nonexistent "$LADE" build "$M/recipe.yaml" -o "$T/out-m" -q 2>&1)
like "$ERR" "python.compile: set python.compiler .*: no python$TEST_PYVER on PATH" \
	"no python$TEST_PYVER on PATH: the same advice"
[ -e "$T/out-m" ] && not_ok "nothing written" || ok "nothing written either"

done_testing
