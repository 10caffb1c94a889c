import pytest
from torch import nn

from tnas_pipeline.errors import UserError
from tnas_pipeline.networks import build_network, count_complexity


class _OneConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x):
        return self.shuffle(self.conv(x))


def test_conv_mult_adds_per_output_position():
    c = count_complexity(_OneConv(), scale=2, output_size=(64, 32))
    assert c.params == 3 * 12 * 9 + 12
    assert c.mult_adds == 32 * 16 * 12 * 3 * 9


def test_deconv_mult_adds():
    class Deconv(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = nn.ConvTranspose2d(4, 3, 9, stride=2, padding=4, output_padding=1)

        def forward(self, x):
            return self.up(x[:, :1].repeat(1, 4, 1, 1))

    c = count_complexity(Deconv(), scale=2, output_size=(20, 10))
    assert c.mult_adds == 10 * 5 * 4 * 3 * 81


def test_size_not_divisible_by_scale(tiny_arch):
    with pytest.raises(UserError, match="not divisible by scale 3"):
        count_complexity(build_network(tiny_arch), 3, (1280, 720))
