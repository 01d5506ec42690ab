import sys

from rewardgate.cli.main import main

sys.exit(main())
