"""The Qt user interface: the only package importing PySide6.

Entry point: :func:`meddiag_desktop.qt.app.run_gui`. Each control lives in its
own module; :mod:`.viewer_state` is the model the views subscribe to.
"""

__all__: list[str] = []
