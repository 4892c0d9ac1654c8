"""OnnxMaskScoringDetector is found by name through the registry's
locations, nothing imported by hand: after register_all_modules (which
imports no deploy code), and as ``ms_rcnn.OnnxMaskScoringDetector`` from
mmdet's scope."""
from deploy_testing import python_output


def run(code):
    return python_output(code).split()


def test_detector_resolves_by_name_after_register_all_modules():
    assert run('import ms_rcnn\n'
               'from ms_rcnn.registry import MODELS\n'
               'ms_rcnn.register_all_modules()\n'
               'cls = MODELS.get("OnnxMaskScoringDetector")\n'
               'print(cls.__module__, cls.__name__)\n'
               ) == ['ms_rcnn.deploy.detector', 'OnnxMaskScoringDetector']


def test_detector_resolves_by_its_scoped_name_under_mmdet():
    assert run('from mmdet.registry import MODELS\n'
               'from mmdet.utils import register_all_modules\n'
               'import ms_rcnn.registry\n'
               'register_all_modules(init_default_scope=True)\n'
               'cls = MODELS.get("ms_rcnn.OnnxMaskScoringDetector")\n'
               'print(cls.__module__, cls.__name__)\n'
               ) == ['ms_rcnn.deploy.detector', 'OnnxMaskScoringDetector']
