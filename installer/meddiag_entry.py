"""Entry point of the frozen (PyInstaller) MedDiag Desktop: same command line as ``meddiag``.

``freeze_support()`` must run first: the viewer starts worker processes with the
``spawn`` method (DICOM decoding, AI plugins), and in a frozen app each child is
this same executable started with ``--multiprocessing-fork``; freeze_support turns
such a start into the child's work loop instead of a second viewer.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    # The install folder may be read-only and must stay unchanged: bundled plugin
    # sources are imported from it (also in the worker processes, which return
    # from freeze_support), so never write __pycache__ there.
    sys.dont_write_bytecode = True
    multiprocessing.freeze_support()
    from meddiag_desktop.cli import main

    sys.exit(main())
