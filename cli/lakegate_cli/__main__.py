"""`python -m lakegate_cli ...`."""

import sys

from lakegate_cli.main import main

sys.exit(main())
