"""A small, CPU-friendly 3D U-Net in plain PyTorch (no MONAI import, so the worker starts quickly).

Almost all convolution work happens at half resolution and below: the full-resolution
level has one 3x3x3 convolution on the way down and 1x1x1 convolutions on the way up,
which keeps both inference and CPU training cheap while the skip connection keeps
edges sharp.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, k, padding=k // 2, bias=False),
        nn.InstanceNorm3d(cout, affine=True),
        nn.LeakyReLU(0.1, inplace=True),
    )


class UNetLite3D(nn.Module):
    """Encoder-decoder with skips; input sizes divisible by ``2**(len(channels)-1)``."""

    def __init__(self, in_channels: int = 1, out_channels: int = 8, channels: tuple[int, ...] = (8, 16, 32, 64)):
        super().__init__()
        c = list(channels)
        self.stem = _conv(in_channels, c[0])
        self.down = nn.ModuleList(nn.Sequential(_conv(c[i], c[i + 1]), _conv(c[i + 1], c[i + 1])) for i in range(len(c) - 1))
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in reversed(range(1, len(c) - 1)):
            self.up.append(nn.ConvTranspose3d(c[i + 1], c[i], 2, stride=2))
            self.dec.append(_conv(2 * c[i], c[i]))
        self.up0 = nn.ConvTranspose3d(c[1], c[0], 2, stride=2)
        self.dec0 = _conv(2 * c[0], c[0], k=1)
        self.head = nn.Conv3d(c[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self.stem(x)
        skips = [x0]
        x = x0
        for i, block in enumerate(self.down):
            x = block(nn.functional.max_pool3d(x, 2))
            if i < len(self.down) - 1:
                skips.append(x)
        for up, dec in zip(self.up, self.dec):
            x = dec(torch.cat([up(x), skips.pop()], dim=1))
        x = self.dec0(torch.cat([self.up0(x), skips.pop()], dim=1))
        return self.head(x)


def build(in_channels: int = 1, out_channels: int = 8, channels: list[int] | tuple[int, ...] = (8, 16, 32, 64)) -> UNetLite3D:
    """Entry point named in plugin.toml."""
    return UNetLite3D(in_channels, out_channels, tuple(channels))
