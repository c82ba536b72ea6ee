import sys

from alpaserve.cli import main

sys.exit(main())
