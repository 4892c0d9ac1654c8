"""Fixtures of the deploy tests (defined in deploy_testing.py).

The deploy tests need the deploy extra; without it they fail at
collection, naming what to install, rather than being skipped.
"""
try:
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
    import onnxscript  # noqa: F401
except ImportError as error:
    raise ImportError(f'tests/test_deploy need {error.name}: pip install '
                      '"ms_rcnn[deploy]"') from error

from deploy_testing import ms_export, shapes_images  # noqa: F401,E402
