"""Check that mmcv's compiled RoIAlign and NMS run and give known values.

Exits 1 with a message naming what failed. Run by tools/setup_env.sh after
installing, because mmcv built with build isolation imports fine but has no
ops, and mmdet only fails later, deep inside a forward pass.
"""
import sys


def check_ops(device='cpu'):
    """Run RoIAlign and NMS on hand-made inputs; raise on a wrong result.

    Returns:
        list[str]: the checks that passed.
    """
    import torch
    from mmcv.ops import nms, roi_align

    # A 4x4 ramp feature map: RoIAlign with aligned=True over the whole map
    # into 2x2 bins averages each 2x2 quadrant exactly.
    feat = torch.arange(
        16, dtype=torch.float32, device=device).view(1, 1, 4, 4)
    rois = torch.tensor([[0., 0., 0., 4., 4.]], device=device)
    out = roi_align(feat, rois, (2, 2), 1.0, 2, 'avg', True)
    expected = torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]], device=device)
    if not torch.allclose(out, expected):
        raise RuntimeError(f'roi_align gave {out.flatten().tolist()}, '
                           f'expected {expected.flatten().tolist()}')

    # Box 1 overlaps box 0 with IoU 0.81 and is suppressed; box 2 is apart.
    boxes = torch.tensor([[0., 0., 10., 10.], [0., 0., 9., 9.],
                          [20., 20., 30., 30.]], device=device)
    scores = torch.tensor([0.9, 0.8, 0.7], device=device)
    _, keep = nms(boxes, scores, iou_threshold=0.5)
    if keep.tolist() != [0, 2]:
        raise RuntimeError(f'nms kept {keep.tolist()}, expected [0, 2]')
    return [f'roi_align ({device})', f'nms ({device})']


def main():
    try:
        import torch
        devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
        passed = [name for dev in devices for name in check_ops(dev)]
    except Exception as exc:  # report any failure as one clear line
        print(f'mmcv ops check failed: {type(exc).__name__}: {exc}',
              file=sys.stderr)
        return 1
    print('mmcv ops OK: ' + ', '.join(passed))
    return 0


if __name__ == '__main__':
    sys.exit(main())
