#!/bin/bash
# End to end: an image whose venv holds the C-extension fixture (platpkg), a wheel with a
# console script that calls it (greet, made here) and datapkg (.data scripts and headers).
# Started with buildah: the image's entrypoint (python importing the C extension), the console
# script found through the PATH the image config sets, the rewritten #!python scripts.
# Then the example recipe recipes/wheels-demo is built the way its README says and run.
source "${LADE_SRCDIR:-$(dirname "$0")/../..}/tests/lib.sh"
need_cmd buildah python3
need_root "buildah from/run with vfs storage"
ensure_base
export LC_ALL=C

export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
BUILDAH=(buildah --root "$T/containers/root" --runroot "$T/containers/run" --storage-driver vfs)
at_exit "${BUILDAH[*]} rm --all; ${BUILDAH[*]} rmi --all --force"

R=$T/recipe
W=$R/wheels
python3 "$LADE_SRCDIR/tests/fixtures/make-wheels.py" "$W" >"$T/make-wheels.log" 2>&1 ||
	bail_out "make-wheels.py failed: $(cat "$T/make-wheels.log")"
ls "$W"/platpkg-*.whl >/dev/null 2>&1 || bail_out "make-wheels.py wrote no platpkg wheel"
python3 -c 'import sys, zipfile; sys.exit(not any(n.endswith(".so") for n in zipfile.ZipFile(sys.argv[1]).namelist()))' \
	"$W"/platpkg-*.whl || skip_all "platpkg has no C extension here: $(cat "$T/make-wheels.log")"

# greet: a console script that imports the C extension (and requires platpkg).
python3 - "$W" <<'PY' || bail_out "cannot make the greet wheel"
import os, sys
from wheelkit import mw
mw.simple(sys.argv[1], "greet", "1.0", {
    "greet/__init__.py": b"",
    "greet/cli.py": b"import sys\nfrom platpkg import add\n\n\ndef main():\n"
                    b"    print('greet: add(2, 3) = %d via %s' % (add(2, 3), sys.executable))\n"
                    b"    return 0\n",
}, meta_extra="Requires-Dist: platpkg>=2\n",
   entry_points="[console_scripts]\ngreet = greet.cli:main\n")
PY

python3 - "$W" >"$R/requirements.lock" <<'PY' || bail_out "cannot write the lock"
import glob, hashlib, os, sys
for pat in ("datapkg-*.whl", "greet-*.whl", "platpkg-*.whl"):
    (w,) = glob.glob(os.path.join(sys.argv[1], pat))
    name, version = os.path.basename(w).split("-")[:2]
    print(f"{name}=={version} --hash=sha256:{hashlib.sha256(open(w, 'rb').read()).hexdigest()}")
PY
cat >"$R/recipe.yaml" <<YAML
name: wheels-e2e
tag: t
base: {oci: "$BASE_REF"}
python:
  interpreter: $TEST_PY
  version: "$TEST_PYVER"
  venv: /opt/venv
  lock: requirements.lock
  wheelhouse: [wheels/]
config:
  entrypoint: ["/opt/venv/bin/python", "-c", "import platpkg, sys; print('add', platpkg.add(40, 2), sys.prefix)"]
YAML

run_lade build "$R/recipe.yaml" -o "$T/out" -q
is "$RC" 0 "lade build with platpkg, greet, datapkg exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }

ctr=$("${BUILDAH[@]}" from --quiet --name lade-e2e-wheels "oci:$T/out:t" 2>"$T/from.err")
if [ -z "$ctr" ]; then
	not_ok "buildah from oci:out:t"
	diag "$(cat "$T/from.err")"
	done_testing
fi
ok "buildah from oci:out:t"

brun() { "${BUILDAH[@]}" run "$ctr" -- "$@" 2>&1; }

# The image's entrypoint (buildah 1.28's run needs the command spelled out).
mapfile -t argv < <("${BUILDAH[@]}" inspect --type container "$ctr" |
	json_get '.OCIv1.config.Entrypoint?[]')
is "${argv[*]:0:2}" "/opt/venv/bin/python -c" "the image's entrypoint is the venv python"
if [ ${#argv[@]} -gt 0 ]; then
	is "$(brun "${argv[@]}")" "add 42 /opt/venv" "the entrypoint imports the C extension, calls it, runs in the venv"
else
	not_ok "the entrypoint imports the C extension, calls it, runs in the venv"
fi

is "$(brun /bin/sh -c 'echo "$VIRTUAL_ENV"; echo "$PATH"')" \
	"/opt/venv"$'\n'"/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
	"the config sets VIRTUAL_ENV and puts the venv's bin first on the base's PATH"
is "$(brun greet)" "greet: add(2, 3) = 5 via /opt/venv/bin/python" \
	"the console script 'greet' runs from PATH with the venv python and the C extension"
first_line() { brun /bin/sh -c 'read -r l <"$1" && echo "$l"' sh "$1"; }
is "$(first_line /opt/venv/bin/greet)" "#!/opt/venv/bin/python" "greet's shebang is the venv python"
# datapkg's .data scripts are 0644 in the wheel; pip keeps that mode, so they are run through
# their interpreter here (the shebang of datatool was '#!python -u').
is "$(first_line /opt/venv/bin/datatool)" "#!/opt/venv/bin/python" \
	"datapkg's #!python .data script got the venv python as its shebang"
is "$(brun /opt/venv/bin/python /opt/venv/bin/datatool)" "ok" "datapkg's #!python .data script runs"
is "$(brun /bin/sh /opt/venv/bin/plain.sh)" "plain" "datapkg's /bin/sh .data script runs unchanged"
is "$(brun cat /opt/venv/include/site/python$TEST_PYVER/datapkg/datapkg.h)" "#define DATAPKG 1" \
	"datapkg's header is under include/site/python$TEST_PYVER/datapkg"
is "$(brun /opt/venv/bin/python -c 'import datapkg_extra; print(datapkg_extra.EXTRA)')" "1" \
	"datapkg's .data/purelib module is importable"
is "$(brun /opt/venv/bin/python -c '
import importlib.metadata as m
print(" ".join("%s=%s:%s" % (d.metadata["Name"], d.version, d.read_text("INSTALLER").strip())
               for d in sorted(m.distributions(), key=lambda d: d.metadata["Name"])))')" \
	"datapkg=0.3:lade greet=1.0:lade platpkg=2.0:lade" \
	"importlib.metadata sees the three distributions, installed by lade"
is "$(brun /opt/venv/bin/python -c 'import sys; print(sys.flags.no_site, sys.prefix != sys.base_prefix)')" \
	"0 True" "the venv python runs as a virtualenv (pyvenv.cfg read)"

# The example recipe, as its README builds it.
D=$T/demo
cp -a "$LADE_SRCDIR/recipes/wheels-demo" "$D"
rm -rf "$D/wheels" "$D/out"
if ! out=$(bash "$LADE_SRCDIR/recipes/wheels-demo/make-wheels.sh" "$D/wheels" 2>&1); then
	not_ok "recipes/wheels-demo/make-wheels.sh writes the wheels and the lock"
	diag "$out"
	done_testing
fi
ok "recipes/wheels-demo/make-wheels.sh writes the wheels and the lock"
sed -i -e "s|^base:.*|base: {oci: \"$BASE_REF\"}|" -e "s|^  interpreter: .*|  interpreter: $TEST_PY|" \
	-e "s|^  version: .*|  version: \"$TEST_PYVER\"|" "$D/recipe.yaml"
run_lade build "$D/recipe.yaml" -o "$T/demo-out" -q
is "$RC" 0 "lade build recipes/wheels-demo exits 0"
[ "$RC" -eq 0 ] || { diag "$ERR"; done_testing; }
demo=$("${BUILDAH[@]}" from --quiet --name lade-e2e-wheels-demo "oci:$T/demo-out:1.0" 2>"$T/from.err")
if [ -z "$demo" ]; then
	not_ok "buildah from the demo image"
	diag "$(cat "$T/from.err")"
	done_testing
fi
mapfile -t argv < <("${BUILDAH[@]}" inspect --type container "$demo" |
	json_get '.OCIv1.config.Entrypoint?[]')
is "$("${BUILDAH[@]}" run "$demo" -- "${argv[@]}" 2>&1)" \
	"platpkg.add(2, 3) = 5"$'\n'"localpkg flavour: cpu"$'\n'"datapkg_extra.EXTRA = 1"$'\n'"nvidia packages: cublas, cudnn" \
	"the demo image's entrypoint prints what app/demo.py computes"

done_testing
