"""The Qt-free slab definition: which voxel layers, in mm along the view normal, honouring spacing."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.core import Volume
from meddiag_desktop.core.slab import Slab, project_slab, slab_center, slab_layers


def test_layers_honour_the_slice_spacing_of_each_view():
    vol = Volume(np.zeros((40, 30, 20), np.int16), (0.7, 0.8, 2.5))
    c = vol.to_lps((10, 15, 20))
    assert slab_layers("axial", vol, c, 10.0) == (18, 22)  # 2.5 mm slices: +-2 layers within 5 mm
    assert slab_layers("axial", vol, c, 4.0) == (20, 20)  # +-2 mm holds no neighbour 2.5 mm away
    assert slab_layers("sagittal", vol, c, 10.0) == (3, 17)  # 0.7 mm: +-7 layers (4.9 mm)
    lo, hi = slab_layers("coronal", vol, c, 10.0)  # 0.8 mm: +-6 layers (4.8 mm); slice numbers run anterior
    assert hi - lo == 12
    assert slab_layers("axial", vol, vol.to_lps((0, 0, 1)), 10.0) == (0, 3)  # clipped at the volume's end


def test_slab_center_is_the_middle_of_the_clipped_layers():
    vol = Volume(np.zeros((40, 4, 4), np.int16), (1.0, 1.0, 2.0), origin=(0.0, 0.0, -10.0))
    point, n = slab_center("axial", vol, vol.to_lps((1, 1, 1)), 10.0)
    assert n == 4  # layers 0..3
    assert point[2] == pytest.approx(-10.0 + 1.5 * 2.0)
    point, n = slab_center("axial", vol, vol.to_lps((1, 1, 20.3)), 10.0)  # off-slice cursor: nearest slice
    assert n == 5 and point[2] == pytest.approx(-10.0 + 20 * 2.0)


def test_project_slab_exact_values():
    arr = np.zeros((20, 5, 6), np.int16)
    arr[13, 2, 3] = 500  # 3 mm above slice 10
    vol = Volume(arr, (1.0, 1.0, 1.0))
    c = vol.to_lps((0, 0, 10))
    assert project_slab(vol, "axial", c, Slab("mip", 10.0))[2, 3] == 500
    assert project_slab(vol, "axial", c, Slab("mip", 4.0)).max() == 0
    assert project_slab(vol, "axial", c, Slab("mean", 10.0))[2, 3] == pytest.approx(500 / 11)
    assert project_slab(vol, "coronal", vol.to_lps((0, 2, 13)), Slab("mip", 1.0))[13, 3] == 500


def test_bad_slabs_are_refused():
    with pytest.raises(ValueError, match="unknown slab mode"):
        Slab("sum", 10.0)
    with pytest.raises(ValueError, match="positive"):
        Slab("mip", 0.0)
    assert Slab("mean", 7.5).label == "Average 7.5 mm"
