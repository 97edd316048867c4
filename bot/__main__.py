"""`python -m bot` is the same as the `homeward` command."""

import sys

from bot.cli import main

sys.exit(main())
