"""Rigid registration recovers the known motion between the demo phantom and its generated prior."""

from __future__ import annotations

import numpy as np
import pytest

from meddiag_desktop.reading.registration import (
    RegistrationCancelled,
    RegistrationError,
    RigidTransform,
    point_pair_transform,
    register_rigid,
    same_frame_of_reference,
)
from tests.reading.prior_study import PRIOR_DATE, load


@pytest.fixture(scope="module")
def volumes(prior_pair):
    return load(prior_pair.current_dir / "dicom"), load(prior_pair.prior_dir / "dicom")


def _angle_between(a: np.ndarray, b: np.ndarray) -> float:
    rel = a.T @ b
    return float(np.degrees(np.arccos(np.clip((np.trace(rel) - 1) / 2, -1, 1))))


def test_the_prior_is_another_study_of_the_patient_in_another_frame(volumes):
    cur, pri = volumes
    assert pri.metadata["patient_id"] == cur.metadata["patient_id"]
    assert pri.metadata["study_date"] == PRIOR_DATE < cur.metadata["study_date"]
    assert pri.metadata["study_uid"] != cur.metadata["study_uid"]
    assert not same_frame_of_reference(cur, pri)
    assert same_frame_of_reference(cur, cur)


def test_registration_recovers_the_known_rotation_and_shift(volumes, prior_pair):
    cur, pri = volumes
    truth = prior_pair.truth
    assert 3.0 <= truth.rotation_deg <= 5.0
    seen = []
    tx = register_rigid(cur, pri, spacing_mm=4.0, sampling=0.05, iterations=80, progress=lambda d, t: seen.append((d, t)))
    assert tx.method == "registration"
    assert _angle_between(tx.matrix, truth.matrix) < 0.5
    # translation error everywhere in the chest: the corners of the volume and the nodules
    pts = np.vstack([cur.corners_lps(), [n.center_lps for n in (prior_pair.new_nodule, prior_pair.grown_nodule)]])
    err = np.linalg.norm(tx.apply(pts) - truth.apply(pts), axis=1)
    assert err.max() < 1.0, err
    # progress went up to done == total
    assert seen and seen[-1][0] == seen[-1][1] and all(b[0] >= a[0] for a, b in zip(seen, seen[1:]))


def test_cancel_stops_the_registration(volumes):
    cur, pri = volumes
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(RegistrationCancelled):
        register_rigid(cur, pri, spacing_mm=6.0, cancel=cancel)


def test_thin_or_colour_images_are_refused_with_a_reason(volumes):
    from meddiag_desktop.core import Volume

    cur, _ = volumes
    thin = Volume(np.zeros((1, 32, 32), np.int16), spacing=(1, 1, 1), origin=(0, 0, 0), direction=np.eye(3))
    with pytest.raises(RegistrationError, match="too thin"):
        register_rigid(cur, thin)


def test_point_pair_and_inverse():
    tx = point_pair_transform((1.0, 2.0, 3.0), (11.0, -2.0, 3.5))
    assert np.allclose(tx.apply((1.0, 2.0, 3.0)), (11.0, -2.0, 3.5))
    assert np.allclose(tx.inverse_apply(tx.apply((5.0, 6.0, 7.0))), (5.0, 6.0, 7.0))
    assert tx.rotation_deg == 0 and tx.method == "point pair"
    with pytest.raises(ValueError, match="one finite LPS point"):
        point_pair_transform((1.0, 2.0), (0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="proper rotation"):
        RigidTransform(np.diag([1.0, 1.0, -1.0]), np.zeros(3))
