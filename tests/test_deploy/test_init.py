"""What importing ms_rcnn.deploy and its users loads, each in a fresh
interpreter: ``register_all_modules`` loads nothing of ms_rcnn.deploy;
training the quick start only the detector's registration (its module,
which ms_rcnn's ``MODELS`` imports on its first lookup); importing the
cascade project no graph until an export asks for one; never the torch
ops ``ms_rcnn::roi_align`` and ``ms_rcnn::nms``, onnx, onnxruntime or
``mmdet.apis``: the ops are registered when a graph first runs."""
from deploy_testing import python_output

# The detector's registration: its module and the package above it.
REGISTRATION = "['ms_rcnn.deploy', 'ms_rcnn.deploy.detector']"

# Prints the ms_rcnn.deploy modules loaded, the graphs registered, whether
# the torch ops are registered and which heavy modules are loaded.
REPORT = (
    'import sys, torch\n'
    'def report():\n'
    '    print(sorted(m for m in sys.modules if m.startswith('
    '"ms_rcnn.deploy")))\n'
    '    graphs = sys.modules.get("ms_rcnn.deploy.graph")\n'
    '    print(sorted({g.__name__ for g in graphs.GRAPHS.values()}) '
    'if graphs else None)\n'
    '    print([op for op in ("roi_align", "nms") '
    'if hasattr(torch.ops.ms_rcnn, op)])\n'
    '    print(sorted(m for m in ("mmdet.apis", "onnx", "onnxruntime", '
    '"onnxscript") if m in sys.modules))\n')


def run(code):
    """The lines that ``code`` (after :data:`REPORT`) prints."""
    return python_output(REPORT + code).splitlines()


def test_registration_loads_nothing_and_a_lookup_only_the_detector():
    assert run('import ms_rcnn\n'
               'ms_rcnn.register_all_modules()\n'
               'report()\n'
               'from ms_rcnn.registry import MODELS\n'
               'print(MODELS.get("OnnxMaskScoringDetector").__name__)\n'
               'report()\n') == [
        '[]', 'None', '[]', '[]',
        'OnnxMaskScoringDetector',
        REGISTRATION, 'None', '[]', '[]'
    ]


def test_training_the_quick_start_loads_only_the_detectors_registration():
    # One loss of the quick-start MS R-CNN on a fake batch of two images.
    assert run(
        'import ms_rcnn\n'
        'from mmdet.testing import demo_mm_inputs\n'
        'from mmengine.config import Config\n'
        'from ms_rcnn.registry import MODELS\n'
        'ms_rcnn.register_all_modules()\n'
        'cfg = Config.fromfile("configs/quickstart/ms-rcnn_quickstart.py")\n'
        'torch.manual_seed(0)\n'
        'model = MODELS.build(cfg.model)\n'
        'data = model.data_preprocessor(demo_mm_inputs(\n'
        '    2, [[3, 128, 128]] * 2, num_items=[2, 2], num_classes=3,\n'
        '    with_mask=True), True)\n'
        'losses = model.loss(data["inputs"], data["data_samples"])\n'
        'loss, _ = model.parse_losses(losses)\n'
        'loss.backward()\n'
        'print("loss_mask_iou" in losses, bool(loss.isfinite()))\n'
        'report()\n') == ['True True', REGISTRATION, 'None', '[]', '[]']


def test_cascade_project_loads_its_graph_when_an_export_asks_for_one():
    # The twin with mmdet's own CascadeRoIHead: only the project's graph
    # module knows it.
    assert run(
        'import ms_rcnn\n'
        'ms_rcnn.register_all_modules()\n'
        'import projects.cascade_ms_rcnn.cascade_ms_rcnn\n'
        'report()\n'
        'from mmengine.config import Config\n'
        'from ms_rcnn.registry import MODELS\n'
        'from ms_rcnn.deploy.graph import build_graph\n'
        'cfg = Config.fromfile("projects/cascade_ms_rcnn/configs/'
        'cascade-mask-rcnn_quickstart.py")\n'
        'with torch.device("meta"):\n'
        '    model = MODELS.build(cfg.model)\n'
        'print(type(build_graph(model)).__name__)\n'
        'report()\n') == [
        "['ms_rcnn.deploy']", 'None', '[]', '[]',
        'CascadeDetectorGraph',
        "['ms_rcnn.deploy', 'ms_rcnn.deploy.cuts', 'ms_rcnn.deploy.detector', "
        "'ms_rcnn.deploy.graph', 'ms_rcnn.deploy.support']",
        "['CascadeDetectorGraph', 'DetectorGraph']", '[]', '[]'
    ]


def test_names_load_their_modules_and_a_graph_run_registers_the_ops():
    assert run(
        'import ms_rcnn.deploy\n'
        'report()\n'
        'from ms_rcnn.deploy import build_model\n'
        'from ms_rcnn.deploy.graph import build_graph\n'
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
