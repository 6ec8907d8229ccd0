import sys

from trialscope.cli import main

sys.exit(main())
