"""Reading studies side by side: priors, their registration, and hanging protocols.

Qt-free (tested without a display). May import ``core``, ``io``, pydicom,
pydantic and (lazily, inside the functions that register) SimpleITK:

* :mod:`~meddiag_desktop.reading.registration`: :class:`RigidTransform` (current
  LPS -> prior LPS), :func:`register_rigid` (SimpleITK Euler3D, Mattes mutual
  information, three resolutions; progress and cancel), :func:`point_pair_transform`;
* :mod:`~meddiag_desktop.reading.priors`: find the prior studies of a patient in
  the opened folder or in the local database (when ``meddiag_desktop.db`` exists);
* :mod:`~meddiag_desktop.reading.hanging`: hanging protocols (shipped TOML, a user
  file overriding it, validated by pydantic) and their matching.
"""
