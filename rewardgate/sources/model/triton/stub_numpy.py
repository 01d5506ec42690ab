"""The numpy the Triton python-backend stub can use, checked before it is used.

The stubs shipped in nvidia-pytriton 0.7 are built against the numpy 1.x C
API. With numpy 2 in the environment they reach (this one, through
``REWARDGATE_SITE_DIRS``) the model still loads and answers, but every
response carries empty output tensors: the gateway would see a shape error
per batch, or worse a silent zero. So the version is checked in both places
that can know it: ``LocalTritonServer.start`` (before Triton starts) and the
Triton model's ``initialize`` (inside whatever stub really runs it), each
failing with this module's message.
"""

from __future__ import annotations

from importlib import metadata

#: First numpy major the stub cannot use.
UNSUPPORTED_MAJOR = 2


def stub_numpy_problem(numpy_version: str) -> str | None:
    """Why the stub cannot run with ``numpy_version``, or None when it can."""
    try:
        major = int(numpy_version.split(".")[0])
    except ValueError:
        return f"numpy version {numpy_version!r} cannot be read; the Triton stub needs numpy<2"
    if major >= UNSUPPORTED_MAJOR:
        return (
            f"numpy {numpy_version} is installed where Triton's python-backend stub runs; the stub "
            "(nvidia-pytriton 0.7) is built for numpy 1.x and returns empty outputs with numpy 2. "
            "Install numpy<2 in this environment (pip install 'numpy<2')."
        )
    return None


def installed_numpy_problem() -> str | None:
    """:func:`stub_numpy_problem` for the numpy installed in this environment (not imported)."""
    try:
        return stub_numpy_problem(metadata.version("numpy"))
    except metadata.PackageNotFoundError:
        return "numpy is not installed; the Triton model needs numpy<2"
