"""Logs how many training samples the checked transforms skipped."""
import logging

from mmengine.hooks import Hook
from mmengine.logging import print_log

from ms_rcnn.data_checks.loading import skip_counters
from ms_rcnn.registry import HOOKS


@HOOKS.register_module()
class SkippedSampleHook(Hook):
    """Log how many training samples the checked transforms skipped in each
    epoch (with an iteration-based loop: in the whole run).

    Each skipped file is named in the log when it is skipped; mmengine's
    logger prints a repeated line once, the count counts every skip.
    """

    def after_train_epoch(self, runner) -> None:
        count = sum(c.pop()
                    for c in skip_counters(runner.train_dataloader.dataset))
        print_log(
            f'epoch {runner.epoch + 1}: {count} training sample(s) skipped',
            logger='current',
            level=logging.WARNING if count else logging.INFO)
