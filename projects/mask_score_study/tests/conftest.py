"""Fixtures of the project's tests (helpers are in study_testing.py).

The repository root goes on ``sys.path`` (configs import
``projects.mask_score_study.mask_score_study``), and so does the core's
``tests/`` directory, for ``ms_rcnn_testing``.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
for path in (ROOT, ROOT / 'tests'):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from ms_rcnn_testing import log_records, tiny_shapes  # noqa: E402,F401
