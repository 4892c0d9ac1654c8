#!/usr/bin/env bash
# Creates (or reuses) ./.venv at the repository root with torch, mmcv built
# with its compiled ops, mmengine, mmdet 3.3, mmpretrain, openmim and ms_rcnn
# itself (editable), then checks that mmcv's RoIAlign and NMS really run.
#
#   bash tools/setup_env.sh            # idempotent: a second run takes seconds
#   VENV=$(python -c 'import sys; print(sys.prefix)') bash tools/setup_env.sh
#                                      # into the active venv / conda env
#
# Environment:
#   PYTHON        interpreter that creates the venv (default: python3)
#   VENV          venv folder (default: <repo>/.venv); an existing
#                 environment (with bin/python) is used as it is
#   TORCH_SPEC    torch requirement when the venv has no torch yet
#                 (default: torch==2.13.0, the CPU build)
#   MMCV_VERSION  mmcv sdist to build (default: 2.1.0)
#   MAX_JOBS      parallel compile jobs for mmcv (default: number of cores)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
VENV=${VENV:-$ROOT/.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
MMCV_VERSION=${MMCV_VERSION:-2.1.0}
STAMP=$VENV/.ms_rcnn-setup

say() { printf '[setup_env] %s\n' "$*"; }
die() { printf '[setup_env] ERROR: %s\n' "$*" >&2; exit 1; }

# Everything that decides what gets installed; a change re-runs the installs.
fingerprint() {
    cat "$ROOT/pyproject.toml" "$ROOT/tools/setup_env.sh" | sha256sum | cut -d' ' -f1
}

if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV" || die "could not create a venv with $PYTHON"
fi
PY=$VENV/bin/python
PIP=("$PY" -m pip --disable-pip-version-check)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(fingerprint)" ]; then
    say "environment is up to date ($VENV)"
else
    # torch first, so that nothing below pulls a multi-GB CUDA build; an
    # installed torch (e.g. a CUDA build in a user's venv) is kept.
    if "$PY" -c 'import torch' 2>/dev/null; then
        say "keeping torch $("$PY" -c 'import torch; print(torch.__version__)')"
    else
        say "installing $TORCH_SPEC"
        "${PIP[@]}" install "$TORCH_SPEC"
    fi

    # mmcv's setup.py imports pkg_resources (gone in setuptools >= 82) and
    # torch's build helpers; ninja makes the C++ build parallel.
    "${PIP[@]}" install "setuptools<70" wheel ninja "numpy<2"

    if "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
        say "keeping mmcv $MMCV_VERSION with ops"
    else
        # Without --no-build-isolation pip builds mmcv against a fresh torch in
        # an isolated env and silently ships no ops. CUDA ops only when torch
        # is a CUDA build and a toolkit is present.
        force_cuda=0
        if command -v nvcc >/dev/null 2>&1 && \
           "$PY" -c 'import sys, torch; sys.exit(torch.version.cuda is None)'; then
            force_cuda=1
        fi
        say "building mmcv $MMCV_VERSION with ops (FORCE_CUDA=$force_cuda); first time ~15 min on 2 cores"
        MMCV_WITH_OPS=1 FORCE_CUDA=$force_cuda MAX_JOBS=${MAX_JOBS:-$(nproc)} \
            "${PIP[@]}" install --no-build-isolation "mmcv==$MMCV_VERSION" \
            "numpy<2" "opencv-python<4.12"  # opencv >= 4.12 needs numpy 2
    fi

    # The project and the rest of its dependencies (pins in pyproject.toml).
    "${PIP[@]}" install --no-build-isolation -e "$ROOT[all]"
fi

# mim (train, test, search) and mmengine (`ms_rcnn::` config bases) look for
# ms_rcnn/.mim in the folder that holds the package's metadata. An editable
# install puts only the metadata in site-packages, so the package folder is
# linked there too; listed in the install's RECORD, the link goes when pip
# uninstalls or reinstalls the package. A regular install is left alone.
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ ! -e "$SITE/ms_rcnn" ] || [ -L "$SITE/ms_rcnn" ]; then
    ln -sfn "$ROOT/ms_rcnn" "$SITE/ms_rcnn"
    for record in "$SITE"/ms_rcnn-*.dist-info/RECORD; do
        grep -qx 'ms_rcnn,,' "$record" || echo 'ms_rcnn,,' >> "$record"
    done
fi

say "checking mmcv ops"
# $VENV may be a user's own environment: say what to remove, not the venv.
"$PY" "$ROOT/tools/misc/check_ops.py" || die "mmcv is installed without working ops (above); remove it with '$PY -m pip uninstall -y mmcv' and run again (with nvcc on the PATH for CUDA ops)"
# Written once the ops work: after a failed check (and mmcv removed), the
# next run installs again instead of finding the environment up to date.
fingerprint > "$STAMP"
say "ready: source $VENV/bin/activate"
