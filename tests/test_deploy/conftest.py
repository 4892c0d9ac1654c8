"""Fixtures of the deploy tests (defined in deploy_testing.py)."""
from deploy_testing import ms_export, shapes_images  # noqa: F401
