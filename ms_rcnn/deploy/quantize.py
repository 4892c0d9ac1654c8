"""int8 copy of an exported file: onnxruntime's static quantization.

The convolutions and fully connected layers (``Conv``, ``MatMul``,
``Gemm``) get int8 weights (per output channel) and uint8 activations,
whose ranges come from running the float file on calibration images
(min-max); everything else stays float: RoiAlign, NonMaxSuppression, the
box decoding, top-k, and the mask paste after the graph. The file keeps
the float file's settings (:data:`~.settings.SETTINGS_KEY`), so the same
config runs it, and says that it is quantized under
:data:`QUANTIZATION_KEY`.
"""
import os.path as osp
import tempfile
from typing import Sequence, Union

from mmengine.config import Config

QUANTIZATION_KEY = 'ms_rcnn.quantization'
QUANTIZED_OPS = ('Conv', 'MatMul', 'Gemm')


def quantize_int8(onnx_file: str, output: str, config: Union[str, Config],
                  calib_imgs: Sequence[str]) -> str:
    """Write an int8 copy of ``onnx_file`` to ``output``.

    Args:
        onnx_file (str): A float export of ``config``'s model.
        output (str): Path of the int8 file.
        config (str | Config): The config that ``onnx_file`` fits.
        calib_imgs (list[str]): Images whose activations set the int8
            ranges (a few dozen of the data the model will see).

    Returns:
        str: ``output``.
    """
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from .detector import OnnxMaskScoringDetector
    if not calib_imgs:
        raise ValueError('int8 quantization needs calibration images')
    for path in calib_imgs:
        if not osp.isfile(path):
            raise FileNotFoundError(f'calibration image {path} does not '
                                    'exist')
    detector = OnnxMaskScoringDetector(onnx_file, config)

    class Reader(CalibrationDataReader):

        def __init__(self):
            self.feeds = detector.feeds(calib_imgs)

        def get_next(self):
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory() as tmp:
        # Batch norms folded into the convolutions before their ranges are
        # measured, as onnxruntime recommends; shapes stay symbolic (H, W).
        prepared = osp.join(tmp, 'prepared.onnx')
        quant_pre_process(onnx_file, prepared, skip_symbolic_shape=True)
        quantize_static(
            prepared,
            output,
            Reader(),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTIZED_OPS),
            per_channel=True,
            # 7-bit weights: x86 CPUs without VNNI (AVX2, AVX-512F) multiply
            # uint8 activations by int8 weights in int16 pairs, which
            # saturate with full 8-bit weights (onnxruntime's advice).
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8)
    model = onnx.load(output)
    meta = {p.key: p.value for p in onnx.load(onnx_file).metadata_props}
    meta[QUANTIZATION_KEY] = 'int8 ' + ','.join(QUANTIZED_OPS)
    onnx.helper.set_model_props(model, meta)
    onnx.save(model, output)
    return output
