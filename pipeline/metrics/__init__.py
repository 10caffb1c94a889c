"""Image-quality metrics of the SR protocol (docs/how-it-works.md, "Data and the metric protocol").
"""

from tnas_pipeline.metrics.color import to_y
from tnas_pipeline.metrics.psnr import psnr
from tnas_pipeline.metrics.scoring import ImageScore, quantize, score_image
from tnas_pipeline.metrics.ssim import ssim

__all__ = ["ImageScore", "psnr", "quantize", "score_image", "ssim", "to_y"]
