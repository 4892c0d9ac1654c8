"""SkippedSampleHook: the counts of every rank of a distributed run."""
import json
import logging
from types import SimpleNamespace

import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.logging import MMLogger

from ms_rcnn.data_checks import CheckedLoadImageFromFile, SanitizeInstances
from ms_rcnn.engine.hooks import SkippedSampleHook

# (skipped samples, dropped instances) counted by each rank's transforms.
COUNTS = [(1, 0), (2, 3)]


def _runner(skipped, dropped):
    """What the hook reads of a Runner: a dataset with checked transforms
    whose counters hold these counts."""
    load, sanitize = CheckedLoadImageFromFile(), SanitizeInstances()
    for _ in range(skipped):
        load.skipped.add()
    for _ in range(dropped):
        sanitize.dropped.add()
    dataset = SimpleNamespace(pipeline=SimpleNamespace(
        transforms=[load, sanitize]))
    return SimpleNamespace(
        epoch=0, train_dataloader=SimpleNamespace(dataset=dataset))


def _rank(rank, store, out_dir):
    dist.init_process_group(
        'gloo', init_method=f'file://{store}', rank=rank, world_size=2)
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(
        (record.levelname, record.getMessage()))
    MMLogger.get_current_instance().addHandler(handler)
    SkippedSampleHook().after_train_epoch(_runner(*COUNTS[rank]))
    with open(f'{out_dir}/rank{rank}.json', 'w') as f:
        json.dump(messages, f)
    dist.destroy_process_group()


def test_counts_are_summed_over_two_gloo_processes(tmp_path):
    mp.spawn(_rank, args=(str(tmp_path / 'store'), str(tmp_path)), nprocs=2)
    # Rank 0 writes the run's log: it says what both ranks skipped.
    said = json.loads((tmp_path / 'rank0.json').read_text())
    assert said == [[
        'WARNING', 'epoch 1: 3 training sample(s) skipped, '
        '3 instance(s) dropped'
    ]]
    # Rank 1 computes the same sum (its logger shows errors only).
    assert json.loads((tmp_path / 'rank1.json').read_text()) == said


def test_counts_without_distributed_training():
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(
        (record.levelname, record.getMessage()))
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        runner = _runner(2, 1)
        SkippedSampleHook().after_train_epoch(runner)
        # The counters start again from 0 for the next epoch.
        runner.epoch = 1
        SkippedSampleHook().after_train_epoch(runner)
    finally:
        logger.removeHandler(handler)
    assert messages == [
        ('WARNING', 'epoch 1: 2 training sample(s) skipped, '
         '1 instance(s) dropped'),
        ('INFO', 'epoch 2: 0 training sample(s) skipped, '
         '0 instance(s) dropped'),
    ]
