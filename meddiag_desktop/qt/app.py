"""``run_gui``: start the viewer, optionally open a study, optionally save a screenshot and exit.

Importing this module is light (PySide6 core only); the window, VTK and the
readers are imported inside :func:`run_gui`. torch/monai are never imported here.
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["run_gui"]

#: seconds to wait for a study to load and render in ``--screenshot`` mode
SCREENSHOT_TIMEOUT_S = 300.0


def _parse_size(size: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in size.lower().split("x"))
        if w < 200 or h < 150:
            raise ValueError
        return w, h
    except ValueError:
        raise SystemExit(f"meddiag: --size must be WIDTHxHEIGHT (at least 200x150), got {size!r}") from None


def _report_modules() -> None:
    if os.environ.get("MEDDIAG_REPORT_MODULES"):
        heavy = sorted(m for m in ("torch", "monai") if m in sys.modules)
        print(f"MEDDIAG_MODULES heavy_imported={','.join(heavy) or 'none'} total={len(sys.modules)}", file=sys.stderr)


def run_gui(path: str | None = None, demo: bool = False, screenshot: str | None = None, size: str = "1400x900") -> int:
    """Run the viewer; returns the process exit status.

    With ``screenshot`` the window opens at ``size``, loads ``path`` (or the
    demo), renders all four views, saves a PNG of the whole window and exits 0;
    it exits 1 with a message on stderr if loading fails.
    """
    t0 = time.perf_counter()
    width, height = _parse_size(size)
    from meddiag_desktop.qt._trace import trace

    trace("run_gui")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("MedDiag Desktop")
    app.setOrganizationName("meddiag-desktop")
    app.setDesktopFileName("meddiag")
    from PySide6.QtGui import QIcon

    from meddiag_desktop.paths import resource_path

    try:
        app.setWindowIcon(QIcon(str(resource_path("meddiag.svg"))))
    except FileNotFoundError:
        pass  # an incomplete install shows Qt's default icon; nothing else depends on it
    from meddiag_desktop.qt.theme import apply_dark_theme

    apply_dark_theme(app)
    trace("Qt application ready")
    from meddiag_desktop.qt.main_window import MainWindow, start_open_task
    from meddiag_desktop.qt.opening import DEMO

    # Start reading the study at once, on a worker thread, while the window is built.
    task = start_open_task(DEMO if demo else str(path)) if (demo or path) else None
    trace("imports done")
    win = MainWindow()
    trace("window created")
    win.resize(width, height)
    status = {"code": 0}

    if screenshot:
        from meddiag_desktop.qt.screenshot import save_window_png

        def finish(code: int, message: str = "") -> None:
            status["code"] = code
            if message:
                print(message, file=sys.stderr if code else sys.stdout)
            win.close()
            app.quit()

        def shoot(_volume=None) -> None:
            QTimer.singleShot(0, win, save)  # once the window has laid itself out for the study

        def save() -> None:
            from meddiag_desktop.qt.vtk_widget import VtkWidget

            for view in win.findChildren(VtkWidget):  # views whose paint has not come yet render now
                if view.isVisible() and (view.render_pending or view.render_count == 0):
                    view.render_now()
            trace("study rendered in all views")
            win.volume_widget.refine()  # the PNG shows the full-quality 3D frame, not the draft
            try:
                save_window_png(win, screenshot)
            except Exception as exc:  # noqa: BLE001
                finish(1, f"meddiag: could not save screenshot: {exc}")
                return
            trace("screenshot saved")
            _report_modules()
            finish(0, f"meddiag: saved {screenshot} ({time.perf_counter() - t0:.2f} s)")

        win.volume_shown.connect(shoot)
        win.load_failed.connect(lambda msg: finish(1, f"meddiag: {msg}"))
        QTimer.singleShot(int(SCREENSHOT_TIMEOUT_S * 1000), lambda: finish(3, "meddiag: timed out loading the study"))
        if not path and not demo:
            QTimer.singleShot(0, lambda: shoot())

    previous_hook = sys.excepthook

    def show_uncaught(exc_type, exc, tb) -> None:  # last-resort error boundary: show, keep running
        import traceback

        traceback.print_exception(exc_type, exc, tb)
        from meddiag_desktop.qt.errors import user_message

        try:
            win.show_error(user_message(exc))
        except Exception:  # noqa: BLE001 - the window may be gone
            previous_hook(exc_type, exc, tb)

    sys.excepthook = show_uncaught
    win.show()
    if task is not None:
        win.adopt_task(task, "Opening the demo study" if demo else f"Opening {path}")
    trace("event loop starts")
    try:
        rc = app.exec()
    finally:
        sys.excepthook = previous_hook
    if not screenshot:
        _report_modules()
    return status["code"] if screenshot else int(rc)
