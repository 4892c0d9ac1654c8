"""What importing ms_rcnn.deploy and its users loads, each in a fresh
interpreter: training (``register_all_modules``) and the cascade project
load only the detector and settings (the project also its graph), never
the torch ops ``ms_rcnn::roi_align`` and ``ms_rcnn::nms``, onnx,
onnxruntime or ``mmdet.apis``; the ops are registered when a graph first
runs."""
from deploy_testing import python_output

# Prints the ms_rcnn.deploy modules loaded, the graphs registered, whether
# the torch ops are registered and which heavy modules are loaded.
REPORT = (
    'import sys, torch\n'
    'def report():\n'
    '    print(sorted(m for m in sys.modules if m.startswith('
    '"ms_rcnn.deploy")))\n'
    '    graphs = sys.modules.get("ms_rcnn.deploy.support")\n'
    '    print(sorted({g.__name__ for g in graphs.GRAPHS.values()}) '
    'if graphs else None)\n'
    '    print([op for op in ("roi_align", "nms") '
    'if hasattr(torch.ops.ms_rcnn, op)])\n'
    '    print(sorted(m for m in ("mmdet.apis", "onnx", "onnxruntime", '
    '"onnxscript") if m in sys.modules))\n')


def run(code):
    """The lines that ``code`` (after :data:`REPORT`) prints."""
    return python_output(REPORT + code).splitlines()


def test_training_registration_loads_only_the_detector():
    assert run('import ms_rcnn\n'
               'ms_rcnn.register_all_modules()\n'
               'from ms_rcnn.registry import MODELS\n'
               'print(MODELS.get("OnnxMaskScoringDetector").__name__)\n'
               'report()\n') == [
        'OnnxMaskScoringDetector',
        "['ms_rcnn.deploy', 'ms_rcnn.deploy.detector', "
        "'ms_rcnn.deploy.settings']",
        'None', '[]', '[]'
    ]


def test_cascade_project_registers_its_graph_without_the_ops():
    lines = run('import ms_rcnn\n'
                'ms_rcnn.register_all_modules()\n'
                'import projects.cascade_ms_rcnn.cascade_ms_rcnn\n'
                'report()\n')
    assert lines[1:] == ["['CascadeDetectorGraph', 'DetectorGraph']",
                         '[]', '[]']
    assert 'ms_rcnn.deploy.ops' not in lines[0]
    assert 'ms_rcnn.deploy.graph' in lines[0]


def test_names_load_their_modules_and_a_graph_run_registers_the_ops():
    assert run(
        'import ms_rcnn.deploy\n'
        'report()\n'
        'from ms_rcnn.deploy import build_model\n'
        'from ms_rcnn.deploy.support import build_graph\n'
        'model = build_model("configs/quickstart/ms-rcnn_quickstart.py")\n'
        'graph = build_graph(model)\n'
        'report()\n'
        'with torch.no_grad():\n'
        '    graph(torch.zeros(1, 3, 64, 64), torch.tensor([64, 64]))\n'
        'print([op for op in ("roi_align", "nms") '
        'if hasattr(torch.ops.ms_rcnn, op)])\n') == [
        "['ms_rcnn.deploy']", 'None', '[]', '[]',
        "['ms_rcnn.deploy', 'ms_rcnn.deploy.cuts', 'ms_rcnn.deploy.detector', "
        "'ms_rcnn.deploy.export', "
        "'ms_rcnn.deploy.graph', 'ms_rcnn.deploy.settings', "
        "'ms_rcnn.deploy.support']",
        "['DetectorGraph']", '[]', '[]',
        "['roi_align', 'nms']"
    ]
