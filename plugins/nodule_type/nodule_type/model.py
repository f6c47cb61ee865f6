"""Small 3D CNN: solid / part-solid / non-solid (ground-glass) from a 32 mm cube around a nodule."""

from __future__ import annotations

import torch
from torch import nn


class NoduleTypeNet(nn.Module):
    def __init__(self, channels: tuple[int, ...] = (8, 16, 32, 64), classes: int = 3, dropout: float = 0.2):
        super().__init__()
        layers = []
        cin = 1
        for i, c in enumerate(channels):
            layers += [nn.Conv3d(cin, c, 3, padding=1, bias=False), nn.BatchNorm3d(c), nn.LeakyReLU(0.1, inplace=True)]
            if i < len(channels) - 1:
                layers.append(nn.MaxPool3d(2))
            cin = c
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        # centre-weighted and global pooling: the nodule sits in the middle of the cube
        c = f.shape[-1] // 2
        centre = f[..., c - 1 : c + 1, c - 1 : c + 1, c - 1 : c + 1].mean(dim=(2, 3, 4))
        return self.fc(self.dropout(torch.cat([centre, f.mean(dim=(2, 3, 4))], dim=1)))


def build(channels: list[int] | tuple[int, ...] = (8, 16, 32, 64), classes: int = 3) -> NoduleTypeNet:
    """Entry point named in plugin.toml."""
    return NoduleTypeNet(tuple(channels), classes)
