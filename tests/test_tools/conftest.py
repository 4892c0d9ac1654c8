"""A tiny shapes dataset and config overrides for end-to-end tool tests."""
import pytest

from ms_rcnn.datasets.shapes import generate_shapes_dataset


@pytest.fixture(scope='session')
def tiny_shapes(tmp_path_factory):
    """8 training and 2 validation images of 128x128."""
    root = tmp_path_factory.mktemp('shapes')
    return generate_shapes_dataset(str(root), seed=3, num_train=8, num_val=2)


def tiny_cfg_options(data, work_dir):
    """--cfg-options that point the quick-start config at ``data`` and train
    one epoch with batches of 2 (4 iterations on one process)."""
    root = data['data_root'] + '/'
    val_ann = data['val_ann']
    return [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        'train_dataloader.batch_size=2',
        f'val_evaluator.0.ann_file={val_ann}',
        f'val_evaluator.1.ann_file={val_ann}',
        f'test_evaluator.0.ann_file={val_ann}',
        f'test_evaluator.1.ann_file={val_ann}',
        'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1',
        'param_scheduler=[]',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1',
        f'work_dir={work_dir}',
    ]
