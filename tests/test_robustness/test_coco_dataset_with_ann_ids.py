"""CocoDatasetWithAnnIds: mmdet's CocoDataset, each instance with the id of
its annotation, on a file where mmdet leaves annotations out."""
import json

from mmdet.datasets import CocoDataset
from mmengine.registry import DATASETS, init_default_scope

from ms_rcnn.data_checks import CocoDatasetWithAnnIds

SQUARE = [[10, 10, 30, 10, 30, 30, 10, 30]]


def _ann(ann_id, image_id, bbox, category_id=1, **extra):
    ann = dict(id=ann_id, image_id=image_id, category_id=category_id,
               bbox=bbox, area=bbox[2] * bbox[3], iscrowd=0,
               segmentation=SQUARE)
    ann.update(extra)
    return ann


def _write_coco(path):
    """Image 1 (100x80): annotations 11 to 17, of which mmdet keeps 11, 14
    (a crowd, kept with ignore_flag 1) and 17 (no segmentation); image 2:
    annotation 21; image 3: none."""
    annotations = [
        _ann(11, 1, [10, 10, 20, 20]),
        _ann(12, 1, [10, 10, 0, 20]),  # zero-area box
        _ann(13, 1, [10, 10, 20, 20], category_id=3),  # not in classes
        _ann(14, 1, [40, 10, 20, 20], iscrowd=1),
        _ann(15, 1, [150, 10, 10, 10]),  # outside the image
        _ann(16, 1, [10, 40, 20, 20], ignore=True),
        _ann(17, 1, [60, 40, 20, 20], category_id=2),
        _ann(21, 2, [5, 5, 30, 30], category_id=2),
    ]
    del annotations[6]['segmentation']
    coco = dict(
        images=[
            dict(id=i, file_name=f'{i}.png', width=100, height=80)
            for i in (1, 2, 3)
        ],
        annotations=annotations,
        categories=[dict(id=i, name=n) for i, n in ((1, 'a'), (2, 'b'),
                                                    (3, 'c'))])
    path.write_text(json.dumps(coco))
    return str(path)


def _build(cls, ann_file):
    return cls(
        ann_file=ann_file,
        metainfo=dict(classes=('a', 'b')),
        data_prefix=dict(img=''),
        filter_cfg=None,
        pipeline=[])


def test_instances_are_mmdets_with_their_annotation_ids(tmp_path):
    ann_file = _write_coco(tmp_path / 'ann.json')
    ours, mmdets = (_build(cls, ann_file)
                    for cls in (CocoDatasetWithAnnIds, CocoDataset))
    assert len(ours) == len(mmdets) == 3
    infos = [ours.get_data_info(index) for index in range(3)]
    ann_ids = [[i.pop('ann_id') for i in info['instances']]
               for info in infos]
    assert ann_ids == [[11, 14, 17], [21], []]
    # Without them, the data mmdet's dataset gives.
    assert infos == [mmdets.get_data_info(index) for index in range(3)]
    crowd = infos[0]['instances'][1]
    assert crowd['ignore_flag'] == 1 and crowd['bbox'] == [40, 10, 60, 30]
    assert 'mask' not in infos[0]['instances'][2]


def test_a_config_builds_it_in_ms_rcnn_scope(tmp_path):
    init_default_scope('ms_rcnn')
    dataset = DATASETS.build(
        dict(
            type='CocoDatasetWithAnnIds',
            ann_file=_write_coco(tmp_path / 'ann.json'),
            metainfo=dict(classes=('a', 'b')),
            data_prefix=dict(img=''),
            pipeline=[]))
    assert type(dataset) is CocoDatasetWithAnnIds
