"""Triton python-backend entry point: the shared rewardgate reward-model runner."""

import os
import site

# The python backend stub embeds an interpreter that ignores PYTHONPATH; when
# rewardgate and torch live in a virtualenv, REWARDGATE_SITE_DIRS names its
# site-packages (addsitedir also reads their .pth files, e.g. editable installs).
for directory in filter(None, os.environ.get("REWARDGATE_SITE_DIRS", "").split(os.pathsep)):
    site.addsitedir(directory)

from rewardgate.sources.model.triton.python_model import TritonPythonModel  # noqa: E402, F401
