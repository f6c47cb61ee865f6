"""Deterministic synthetic chest CT phantom with exact ground truth.

``make_chest_phantom()`` builds the demo study: an elliptical body wall with
skin, fat and muscle, two lungs with diaphragm domes and a tapering apex,
trachea and main bronchi, a branching pulmonary vessel tree, heart, aorta,
vertebral column, ribs, sternum and five lung nodules, plus correlated CT
noise. Everything is pure numpy and seeded, so the same :class:`PhantomParams`
give a bit-identical volume. :meth:`PhantomParams.random` gives randomised
variants (size, anatomy, contrast, noise, obliquity, nodules) for AI training.

Label values (a fixed contract): see :data:`LABELS`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from meddiag_desktop.core import Volume, WindowPreset
from meddiag_desktop.demo._anatomy import paint_anatomy
from meddiag_desktop.demo._grid import Coverage, Grid, blur_xy, rotation_matrix
from meddiag_desktop.demo._nodules import Nodule, measure_axial_axes, measure_nodules, paint_nodules

__all__ = [
    "LABELS",
    "NoduleSpec",
    "DEFAULT_NODULES",
    "PhantomParams",
    "Nodule",
    "Phantom",
    "make_chest_phantom",
    "measure_axial_axes",
]

#: label value -> structure name (fixed contract; other packages rely on it)
LABELS: dict[int, str] = {
    0: "background (outside body and unlabelled tissue)",
    1: "right lung",
    2: "left lung",
    3: "airway (trachea and main bronchi)",
    4: "heart",
    5: "bone (spine, ribs, sternum)",
    6: "pulmonary vessels",
    7: "nodule (all nodules, ground-glass part included)",
}

NODULE_TYPES = ("solid", "part_solid", "non_solid")


@dataclass(frozen=True)
class NoduleSpec:
    """What nodule to put where (the phantom picks the exact position with its seed)."""

    type: str  # "solid" | "part_solid" | "non_solid"
    diameter_mm: float
    lung: str  # "right" | "left"
    upper_lobe: bool
    spiculated: bool = False
    solid_core_mm: float = 0.0  # part-solid nodules: diameter of the solid component

    def __post_init__(self) -> None:
        if self.type not in NODULE_TYPES:
            raise ValueError(f"nodule type must be one of {NODULE_TYPES}, got {self.type!r}")
        if self.lung not in ("right", "left"):
            raise ValueError(f"nodule lung must be 'right' or 'left', got {self.lung!r}")
        if not 2.0 <= self.diameter_mm <= 40.0:
            raise ValueError(f"nodule diameter must be 2-40 mm, got {self.diameter_mm}")


#: the five nodules of the demo study: both lungs, upper and lower lobes
DEFAULT_NODULES: tuple[NoduleSpec, ...] = (
    NoduleSpec("solid", 6.0, "left", upper_lobe=False),
    NoduleSpec("solid", 12.0, "right", upper_lobe=True, spiculated=True),
    NoduleSpec("part_solid", 15.0, "left", upper_lobe=True, solid_core_mm=6.0),
    NoduleSpec("non_solid", 10.0, "right", upper_lobe=False),
    NoduleSpec("solid", 4.0, "right", upper_lobe=False),
)


@dataclass(frozen=True)
class PhantomParams:
    """Everything that shapes the phantom; the defaults are the demo study.

    Distances are mm, intensities Hounsfield units. ``rotation_deg`` rotates
    the image grid about the patient x, y, z axes (an oblique acquisition);
    ``slice_order`` says whether the slice index runs towards the head
    (``"inferior_to_superior"``, the default) or the feet.
    """

    seed: int = 20260115
    matrix_size: tuple[int, int] = (384, 384)  # columns (x), rows (y)
    n_slices: int = 150
    pixel_spacing_mm: float = 0.9
    slice_spacing_mm: float = 2.0
    center_lps: tuple[float, float, float] = (0.0, 0.0, -150.0)
    body_half_width_mm: float = 158.0
    body_half_depth_mm: float = 115.0
    fat_mm: float = 14.0
    lung_scale: float = 1.0  # in-plane size of the lungs relative to the body cavity
    lung_height_scale: float = 1.0  # cranio-caudal size of the chest contents
    lung_hu: float = -860.0
    noise_sd_hu: float = 15.0
    blood_hu: float = 160.0  # ~40 unenhanced, 150-300 with contrast
    vessel_min_radius_mm: float = 0.5
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    slice_order: str = "inferior_to_superior"
    nodules: tuple[NoduleSpec, ...] = DEFAULT_NODULES

    def __post_init__(self) -> None:
        nx, ny = self.matrix_size
        if min(nx, ny, self.n_slices) < 16:
            raise ValueError("phantom needs at least 16 voxels along each axis")
        if self.pixel_spacing_mm <= 0 or self.slice_spacing_mm <= 0:
            raise ValueError("voxel spacing must be positive")
        if self.slice_order not in ("inferior_to_superior", "superior_to_inferior"):
            raise ValueError("slice_order must be 'inferior_to_superior' or 'superior_to_inferior'")
        if not 100 <= self.body_half_width_mm <= 220 or not 80 <= self.body_half_depth_mm <= 160:
            raise ValueError("body half width must be 100-220 mm and half depth 80-160 mm")
        if self.noise_sd_hu < 0:
            raise ValueError("noise_sd_hu must be >= 0")
        object.__setattr__(self, "nodules", tuple(
            n if isinstance(n, NoduleSpec) else NoduleSpec(**n) for n in self.nodules))

    @property
    def direction(self) -> np.ndarray:
        """3x3 direction matrix (columns: LPS directions of the x, y, z index axes)."""
        flip = np.diag([1.0, 1.0, 1.0 if self.slice_order == "inferior_to_superior" else -1.0])
        return rotation_matrix(self.rotation_deg) @ flip

    @classmethod
    def random(cls, seed: int) -> PhantomParams:
        """A randomised but plausible variant (for training data); same seed, same variant."""
        rng = np.random.default_rng(seed)
        n = int(rng.integers(0, 6))
        nodules = []
        for _ in range(n):
            kind = str(rng.choice(NODULE_TYPES, p=[0.6, 0.2, 0.2]))
            diameter = float(np.round(rng.uniform(3.0, 22.0), 1))
            nodules.append(NoduleSpec(
                kind, diameter, str(rng.choice(["right", "left"])), bool(rng.random() < 0.5),
                spiculated=bool(kind == "solid" and diameter >= 8 and rng.random() < 0.4),
                solid_core_mm=float(np.round(diameter * rng.uniform(0.25, 0.6), 1)) if kind == "part_solid" else 0.0,
            ))
        size = int(rng.choice([256, 320, 384, 512]))
        oblique = rng.random() < 0.3
        return cls(
            seed=int(seed),
            matrix_size=(size, size),
            n_slices=int(rng.integers(100, 161)),
            pixel_spacing_mm=float(np.round(rng.uniform(0.65, 1.0) * 512 / size, 3)),
            slice_spacing_mm=float(rng.choice([1.25, 1.5, 2.0, 2.5, 3.0])),
            center_lps=(float(rng.normal(0, 5)), float(rng.normal(0, 5)), float(rng.uniform(-300, 0))),
            body_half_width_mm=float(rng.uniform(135, 185)),
            body_half_depth_mm=float(rng.uniform(95, 135)),
            fat_mm=float(rng.uniform(5, 30)),
            lung_scale=float(rng.uniform(0.9, 1.08)),
            lung_height_scale=float(rng.uniform(0.85, 1.1)),
            lung_hu=float(rng.uniform(-890, -820)),
            noise_sd_hu=float(rng.uniform(8, 30)),
            blood_hu=float(rng.choice([40.0, float(rng.uniform(120, 300))])),
            vessel_min_radius_mm=float(rng.uniform(0.45, 0.8)),
            rotation_deg=tuple(float(v) for v in rng.normal(0, 4, 3)) if oblique else (0.0, 0.0, 0.0),
            slice_order=str(rng.choice(["inferior_to_superior", "superior_to_inferior"], p=[0.7, 0.3])),
            nodules=tuple(nodules),
        )

    def to_dict(self) -> dict:
        """Plain JSON-friendly dictionary."""
        d = dataclasses.asdict(self)
        d["nodules"] = [dataclasses.asdict(n) for n in self.nodules]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PhantomParams:
        d = dict(d)
        for key in ("matrix_size", "center_lps", "rotation_deg"):
            if key in d:
                d[key] = tuple(d[key])
        d["nodules"] = tuple(NoduleSpec(**n) for n in d.get("nodules", ()))
        return cls(**d)


@dataclass
class Phantom:
    """A generated phantom: HU volume, labels, geometry and nodule ground truth."""

    hu: np.ndarray  # int16 (z, y, x)
    labels: np.ndarray  # uint8 (z, y, x), values of LABELS
    spacing: tuple[float, float, float]  # (x, y, z) mm
    origin: tuple[float, float, float]  # LPS of voxel (0, 0, 0)
    direction: np.ndarray  # 3x3, columns = LPS directions of x, y, z
    nodules: list[Nodule]
    params: PhantomParams
    warnings: list[str] = field(default_factory=list)

    def volume(self) -> Volume:
        """The HU array as a :class:`Volume` (shares the array)."""
        return Volume(self.hu, spacing=self.spacing, origin=self.origin, direction=self.direction,
                      metadata={"modality": "CT", "window_presets": [WindowPreset("Lung", 1500, -600)]})

    def label_volume(self) -> Volume:
        return Volume(self.labels, spacing=self.spacing, origin=self.origin, direction=self.direction)


def make_chest_phantom(params: PhantomParams | None = None) -> Phantom:
    """Build the synthetic chest CT described by ``params`` (default: the demo study)."""
    p = params or PhantomParams()
    rng = np.random.default_rng(p.seed)
    nx, ny = p.matrix_size
    grid = Grid((p.n_slices, ny, nx), (p.pixel_spacing_mm, p.pixel_spacing_mm, p.slice_spacing_mm),
                p.direction, p.center_lps)
    hu = np.full(grid.shape, -1000.0, dtype=np.float32)
    labels = np.zeros(grid.shape, dtype=np.uint8)
    frac = Coverage(grid.shape)
    warnings: list[str] = []

    anatomy = paint_anatomy(grid, p, rng, hu, labels, frac)
    placed = paint_nodules(grid, p, rng, hu, labels, frac, anatomy, warnings)
    del frac  # free the partial-volume buffer before the noise needs memory

    # correlated noise: white noise, then the same small in-plane smoothing as the image
    # (a soft reconstruction kernel); [1,2,1]/4 in x and y scales the noise SD by 0.375
    if p.noise_sd_hu > 0:
        noise = rng.standard_normal(grid.shape, dtype=np.float32)
        noise *= np.float32(p.noise_sd_hu / 0.375)
        hu += noise
        del noise
    hu = blur_xy(hu)
    np.clip(hu, -1024, 3071, out=hu)
    np.rint(hu, out=hu)
    hu_int = hu.astype(np.int16)
    del hu

    nodules = measure_nodules(grid, labels, placed)
    return Phantom(hu=hu_int, labels=labels, spacing=grid.spacing, origin=tuple(float(v) for v in grid.origin),
                   direction=grid.direction.copy(), nodules=nodules, params=p, warnings=warnings)
