# The MaskIoU head also trained on the test-time detections of each step
# (README.md of this project, "Taking the room": "+ detections"), in
# loss_mask_iou_det, beside the paper's positives.
_base_ = './ms-rcnn_quickstart_maskiou-study.py'

model = dict(
    roi_head=dict(
        mask_iou_head=dict(
            add_detections=True,
            # Each bin of targets weighs the same: most detections' targets
            # are near 0 and would pull every prediction there.
            target_bins=10)),
    # The detections as at test time but for 32 an image (the test's 100
    # would cost more); keys left out are test_cfg.rcnn's.
    train_cfg=dict(
        rcnn=dict(
            mask_iou_detections=dict(
                score_thr=0.05,
                nms=dict(type='nms', iou_threshold=0.5),
                max_per_img=32))))
