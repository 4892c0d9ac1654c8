"""An exported file run by onnxruntime, in place of the PyTorch model.

:class:`OnnxMaskScoringDetector` is an mmengine model: its ``test_step``
takes what the config's test dataloader gives and returns the
``DetDataSample``s that ``model.test_step`` returns, so mmdet's
``inference_detector``, the Runner's test loop, ``CocoMetric``,
``HmeanIoUMetric`` and ``MaskScoringVisualizer`` take it as they take the
model::

    from mmdet.apis import inference_detector
    detector = OnnxMaskScoringDetector('ms-rcnn.onnx', 'configs/....py')
    result = inference_detector(detector, 'demo.jpg')
"""
import copy
import os.path as osp
import warnings
from typing import Iterator, List, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmdet.models.roi_heads import FCNMaskHead
from mmdet.structures import SampleList
from mmdet.utils import get_test_pipeline_cfg
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.structures import InstanceData

from ms_rcnn import register_all_modules
from ms_rcnn.models.roi_heads.maskness_roi_head import maskness
from ms_rcnn.registry import MODELS
from ms_rcnn.structures import masks_to_polygons


@MODELS.register_module()
class OnnxMaskScoringDetector(BaseModel):
    """An exported detector run by onnxruntime on the CPU: MS R-CNN, its
    Mask R-CNN twin, or any model that :mod:`ms_rcnn.deploy` exports (the
    cascades of ``projects/cascade_ms_rcnn`` too), with or without
    ``mask_scores``.

    Before the graph: the config's data preprocessor (normalisation, the
    batch's padding). After it: boxes scaled back to the original image and
    masks pasted by mmdet's ``FCNMaskHead`` (thresholded at
    ``test_cfg.rcnn.mask_thr_binary``); ``polygons`` as ms_rcnn's
    ``MaskScoringRoIHead`` adds them when ``test_cfg.rcnn.mask2polygon`` is
    set. Each image of a batch runs on its own.

    The file must fit the config: the same outputs, and the settings that
    the export froze (preprocessing, ``test_cfg`` but for
    ``mask_thr_binary`` and ``mask2polygon``, classes) as the config has
    them; otherwise ValueError names each differing key with both values.
    ``cfg_options`` that change the model where the file records nothing
    (e.g. ``model.backbone.depth``) are refused by name: the graph would
    ignore them.

    Args:
        onnx_file (str): A file written by :func:`ms_rcnn.deploy.export_onnx`
            (or ``tools/deployment/pytorch2onnx.py``).
        config (str | Config): The config it was exported from, with any
            change that acts after the graph.
        num_threads (int, optional): onnxruntime's intra-op threads; None:
            onnxruntime's default (all cores).
        cfg_options (dict, optional): Merged into the config (as
            ``--cfg-options`` are); a path ``config`` is read first.
    """

    def __init__(self,
                 onnx_file: str,
                 config: Union[str, Config],
                 num_threads: Optional[int] = None,
                 cfg_options: Optional[dict] = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as error:
            raise ImportError('OnnxMaskScoringDetector needs onnxruntime: '
                              'pip install "ms_rcnn[deploy]"') from error
        # Imported here: ms_rcnn's MODELS imports this module on its first
        # lookup, during training too, for the registration of the class.
        from .settings import check_fits, load_config, output_names
        register_all_modules(init_default_scope=False)
        cfg = load_config(config)
        if cfg_options:
            if cfg is config:  # leave the caller's config as it is
                cfg = copy.deepcopy(cfg)
            cfg.merge_from_dict(cfg_options)
        super().__init__(
            data_preprocessor=MODELS.build(cfg.model.data_preprocessor))
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(f'ONNX file {onnx_file} does not exist')
        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            onnx_file, options, providers=['CPUExecutionProvider'])
        config_name = config if isinstance(config, str) else \
            cfg.filename or 'the config'
        if cfg_options:
            config_name += ' with ' + ' '.join(
                f'{key}={value}' for key, value in cfg_options.items())
        check_fits(self.session, onnx_file, cfg, config_name, cfg_options)
        self.cfg = cfg  # mmdet's inference_detector reads the pipeline
        self.test_cfg = cfg.model.test_cfg.rcnn
        self.output_names = output_names(cfg.model)
        # mmdet's paste of one mask per box; it holds no weights we use.
        self.mask_paster = FCNMaskHead(
            num_convs=0,
            in_channels=1,
            conv_out_channels=1,
            num_classes=1,
            class_agnostic=True)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[SampleList] = None,
                mode: str = 'predict') -> SampleList:
        if mode != 'predict':
            raise ValueError('OnnxMaskScoringDetector only predicts; got '
                             f'mode={mode!r}')
        return self.predict(inputs, data_samples)

    def predict(self, batch_inputs: torch.Tensor,
                batch_data_samples: SampleList) -> SampleList:
        """Detections of a preprocessed batch.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) normalised, padded images.
            batch_data_samples (list[DetDataSample]): With ``img_shape``,
                ``ori_shape`` and ``scale_factor``.

        Returns:
            list[DetDataSample]: The samples with ``pred_instances``:
            ``bboxes`` (n, 4) in original image pixels, ``scores``,
            ``labels``, ``masks`` (n, h, w) bool, ``maskness``, and
            ``mask_scores`` (and ``polygons``) as the model gives them.
        """
        for img, sample in zip(batch_inputs, batch_data_samples):
            outputs = dict(
                zip(self.output_names,
                    self.session.run(None, self.feed(img, sample))))
            sample.pred_instances = self.postprocess(outputs,
                                                     sample.metainfo)
        return batch_data_samples

    def feeds(self, imgs: Sequence[str]) -> Iterator[dict]:
        """Yield the graph's inputs for each image path, after the config's
        test pipeline and data preprocessor, each image alone."""
        from mmengine.dataset import pseudo_collate
        pipeline = Compose(get_test_pipeline_cfg(self.cfg))
        for i, path in enumerate(imgs):
            data = pipeline(dict(img_path=path, img_id=i))
            data = self.data_preprocessor(pseudo_collate([data]), False)
            yield self.feed(data['inputs'][0], data['data_samples'][0])

    @staticmethod
    def feed(img: torch.Tensor, sample) -> dict:
        """The graph's inputs for one preprocessed image ``img``
        (3, H, W) with its ``DetDataSample``."""
        return {
            'img': img[None].float().cpu().numpy(),
            'img_shape': np.array(sample.img_shape[:2], np.int64)
        }

    def postprocess(self, outputs: dict, img_meta: dict) -> InstanceData:
        """The graph's outputs of one image -> mmdet's results."""
        results = InstanceData()
        results.bboxes = torch.from_numpy(outputs['boxes'])
        results.scores = torch.from_numpy(outputs['scores'])
        results.labels = torch.from_numpy(outputs['labels'])
        mask_probs = torch.from_numpy(outputs['mask_probs'])
        with warnings.catch_warnings():
            # activate_map=True copies the probabilities with new_tensor.
            warnings.filterwarnings('ignore', 'To copy construct')
            results = self.mask_paster.predict_by_feat(
                (mask_probs[:, None], ), [results], [img_meta],
                self.test_cfg,
                rescale=True,
                activate_map=True)[0]
        # The RoI grid's probabilities of each box's class, as the
        # PyTorch heads compute it (MasknessRoIHead).
        results.maskness = maskness(mask_probs, self.test_cfg.mask_thr_binary)
        if 'mask_scores' in outputs:
            results.mask_scores = torch.from_numpy(outputs['mask_scores'])
        polygon_cfg = self.test_cfg.get('mask2polygon')
        if polygon_cfg is not None:
            results.polygons = masks_to_polygons(results.masks, **polygon_cfg)
        return results

    def detect(self, imgs: Union[str, np.ndarray, List]) -> list:
        """mmdet's ``inference_detector`` on image paths or arrays (one
        result or a list, as given)."""
        return detect(self, imgs)


def detect(model, imgs: Union[str, np.ndarray, List]) -> list:
    """mmdet's ``inference_detector`` of ``model`` (the PyTorch model or an
    :class:`OnnxMaskScoringDetector`) on image paths or arrays, without
    changing ``model.cfg``."""
    # mmdet.apis imports the inferencers' dependencies: only here.
    from mmdet.apis import inference_detector

    # inference_detector edits the config's pipeline in place for arrays:
    # a copy keeps paths working afterwards.
    pipeline = copy.deepcopy(get_test_pipeline_cfg(model.cfg))
    first = imgs[0] if isinstance(imgs, (list, tuple)) else imgs
    if isinstance(first, np.ndarray):
        pipeline[0].type = 'mmdet.LoadImageFromNDArray'
    return inference_detector(model, imgs, test_pipeline=Compose(pipeline))
