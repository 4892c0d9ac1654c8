"""Logs how many training samples and instances the checked transforms
skipped."""
import logging

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ms_rcnn.data_checks.loading import skip_counters
from ms_rcnn.registry import HOOKS


@HOOKS.register_module()
class SkippedSampleHook(Hook):
    """Log how many training samples the checked transforms skipped, and how
    many instances ``SanitizeInstances`` dropped, in each epoch (with an
    iteration-based loop: in the whole run), summed over all processes of a
    distributed run.

    Each skipped file is named in the log when it is skipped; mmengine's
    logger prints a repeated line once, the count counts every skip. In a
    distributed run only rank 0 writes a log file: the other ranks' files
    are named on their console (Python warnings), their counts are in the
    sum.
    """

    def after_train_epoch(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        counts = torch.tensor([
            sum(c.pop() for c in skip_counters(dataset, kind))
            for kind in ('skipped', 'dropped')
        ])
        # Every rank counts its own share of the data; all of them call
        # this hook, so the collective cannot hang.
        all_reduce(counts)
        skipped, dropped = counts.tolist()
        print_log(
            f'epoch {runner.epoch + 1}: {skipped} training sample(s) '
            f'skipped, {dropped} instance(s) dropped',
            logger='current',
            level=logging.WARNING if skipped or dropped else logging.INFO)
