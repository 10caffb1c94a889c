"""Image-quality metrics of the SR protocol (MISSION.md, "Data and metrics")."""

from pipeline.metrics.color import to_y
from pipeline.metrics.psnr import psnr
from pipeline.metrics.scoring import ImageScore, quantize, score_image
from pipeline.metrics.ssim import ssim

__all__ = ["ImageScore", "psnr", "quantize", "score_image", "ssim", "to_y"]
