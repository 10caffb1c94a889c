#!/usr/bin/env bash
# The package as a user installs it: build the wheel (python -m build), install it, not editable,
# into a fresh virtual environment, check what went into site-packages, and run the CLI and the
# README's Python API example from a folder that holds no source.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

.venv/bin/python -m build --wheel --outdir "$work/dist" . > "$work/build.log" 2>&1 \
  || { cat "$work/build.log"; exit 1; }
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q torch==2.13.0
"$work/venv/bin/pip" install -q "$work"/dist/tnas_pipeline-*.whl
py="$work/venv/bin/python"

# One namespace, no generic top-level packages, the tables inside the package.
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
for generic in pipeline export hardware_profiles; do
  if [ -e "$site/$generic" ]; then echo "wheel installs a top-level '$generic'"; exit 1; fi
done
ls "$site"/tnas_pipeline/hardware_profiles/cpu-2core-ort-fp32-x2-1280x720.json > /dev/null

mkdir "$work/empty" && cd "$work/empty"
"$py" -c 'import tnas_pipeline, sys; assert "site-packages" in tnas_pipeline.__file__, tnas_pipeline.__file__'
"$work/venv/bin/tnas-pipeline" baselines > /dev/null
"$work/venv/bin/tnas-pipeline" train plain_cnn --iters 20 --no-progress -o run > /dev/null
"$work/venv/bin/tnas-pipeline" evaluate run --json > /dev/null
# The README's API example, as written.
"$py" - "$repo/README.md" <<'PY'
import re, sys
text = open(sys.argv[1]).read().split("## Python API", 1)[1]
exec(compile(re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1), "README", "exec"), {})
PY
echo "wheel: built, installed into a fresh venv, CLI and API example ran from an empty folder"
