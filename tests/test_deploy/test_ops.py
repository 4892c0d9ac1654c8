"""The custom ops in PyTorch (mmcv's kernels) and in onnxruntime (ONNX
RoiAlign / NonMaxSuppression) give the same results, thin RoIs, ties and
empty inputs included."""
import numpy as np
import onnxruntime as ort
import torch

from ms_rcnn.deploy.ops import ONNX_TRANSLATIONS, nms, roi_align


class RoIAlign(torch.nn.Module):

    def __init__(self, size, scale):
        super().__init__()
        self.size, self.scale = size, scale

    def forward(self, feat, rois):
        return roi_align(feat, rois, self.size, self.size, self.scale, 0)


class NMS(torch.nn.Module):

    def forward(self, boxes, scores):
        return nms(boxes, scores, 0.5)


def run_onnx(module, inputs, dynamic, tmp_path):
    path = str(tmp_path / 'op.onnx')
    program = torch.onnx.export(
        module.eval(),
        inputs,
        dynamo=True,
        dynamic_shapes=dynamic,
        custom_translation_table=ONNX_TRANSLATIONS,
        opset_version=18)
    program.save(path)

    def run(*args):
        session = ort.InferenceSession(path,
                                       providers=['CPUExecutionProvider'])
        names = [i.name for i in session.get_inputs()]
        feed = {name: arg.numpy() for name, arg in zip(names, args)}
        return session.run(None, feed)[0]

    return run


DYNAMIC = torch.export.Dim.DYNAMIC


def test_roi_align_of_a_ramp_is_the_mean_sample_x():
    # feat[..., x] = x: bilinear sampling returns the sample's x. A RoI
    # from x = 10 to 12 px at stride 4 spans feature x 2.0 to 2.5 (aligned:
    # -0.5 px), narrower than a feature pixel: one sample per bin, at the
    # bin centre.
    feat = torch.arange(20.).expand(1, 1, 16, 20).contiguous()
    rois = torch.tensor([[0, 10., 10., 12., 40.]])
    out = roi_align(feat, rois, 7, 7, 0.25, 0)
    expected = 2.0 + (torch.arange(7.) + 0.5) * 0.5 / 7
    torch.testing.assert_close(out[0, 0], expected.expand(7, 7))


def test_roi_align_in_onnxruntime_matches_mmcv(tmp_path):
    torch.manual_seed(0)
    feat = torch.randn(1, 8, 16, 20)
    # Stride 4: 2 px wide is half a feature pixel, 0 px and 0.3 px are
    # thinner still; the last ones are large and partly outside.
    rois = torch.tensor([[0, 10., 10., 12., 40.], [0, 30., 5., 30., 25.],
                         [0, 3.3, 7.1, 3.6, 7.4], [0, 1., 2., 70., 50.],
                         [0, -6., -3., 9., 90.]])
    module = RoIAlign(7, 0.25)
    run = run_onnx(module, (feat, rois), ({
        2: DYNAMIC,
        3: DYNAMIC
    }, {
        0: DYNAMIC
    }), tmp_path)
    np.testing.assert_allclose(
        run(feat, rois), module(feat, rois).numpy(), rtol=0, atol=1e-5)
    # Another feature size, fewer RoIs, and none.
    feat2 = torch.randn(1, 8, 9, 13)
    np.testing.assert_allclose(
        run(feat2, rois[1:3]),
        module(feat2, rois[1:3]).numpy(),
        rtol=0,
        atol=1e-5)
    assert run(feat2, rois[:0]).shape == (0, 8, 7, 7)


def test_nms_keeps_by_score_and_suppresses_above_the_threshold_only(
        tmp_path):
    boxes = torch.tensor([
        [0., 0., 10., 10.],  # kept
        [1., 1., 11., 11.],  # IoU 81/119 with box 0: suppressed
        [20., 20., 30., 30.],  # same score as box 1, far away: kept
        [5., 0., 15., 10.],  # IoU 1/3 with box 0: kept
        [50., 50., 60., 60.],  # lowest score, alone: kept last
        [0., 0., 10., 20.],  # IoU exactly 0.5 with box 0: kept
    ])
    scores = torch.tensor([0.9, 0.8, 0.8, 0.7, 0.1, 0.6])
    expected = [0, 2, 3, 5, 4]
    assert NMS()(boxes, scores).tolist() == expected
    run = run_onnx(NMS(), (boxes, scores), ({0: DYNAMIC}, {0: DYNAMIC}),
                   tmp_path)
    assert run(boxes, scores).tolist() == expected
    # Many random boxes, and none.
    torch.manual_seed(0)
    xy = torch.rand(300, 2) * 100
    many = torch.cat([xy, xy + torch.rand(300, 2) * 40 + 1], 1)
    many_scores = torch.rand(300)
    kept = NMS()(many, many_scores)
    assert 20 < len(kept) < 300
    assert run(many, many_scores).tolist() == kept.tolist()
    assert run(many[:0], many_scores[:0]).shape == (0, )
