"""``python -m meddiag_desktop`` does what the ``meddiag`` command does."""

import sys

from meddiag_desktop.cli import main

sys.exit(main())
