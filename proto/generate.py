"""Generate the Python protocol code from proto/rewardgate/v1/reward.proto.

    python proto/generate.py [OUT_DIR]

Writes ``reward_pb2.py``, ``reward_pb2.pyi`` and ``reward_pb2_grpc.py`` into
OUT_DIR (default: clients/rewardgate_client/v1, the one copy both the client
and the server import). protoc names modules after the proto package
(``rewardgate.v1``); the import inside the gRPC module is rewritten to
``rewardgate_client.v1`` so the code lives in the client distribution.
tests/unit/test_proto_generated.py regenerates into a temporary directory and
fails if the checked-in files differ.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PROTO = Path("rewardgate/v1/reward.proto")
DEFAULT_OUT = ROOT.parent / "clients" / "rewardgate_client" / "v1"
FILES = ("reward_pb2.py", "reward_pb2.pyi", "reward_pb2_grpc.py")


def generate(out_dir: Path = DEFAULT_OUT) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{ROOT}",
                f"--python_out={tmp}",
                f"--pyi_out={tmp}",
                f"--grpc_python_out={tmp}",
                str(ROOT / PROTO),
            ],
            check=True,
        )
        written = []
        for name in FILES:
            text = (Path(tmp) / PROTO.parent / name).read_text()
            text = text.replace("from rewardgate.v1 import", "from rewardgate_client.v1 import")
            target = out_dir / name
            target.write_text(text)
            written.append(target)
    return written


if __name__ == "__main__":
    for path in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT):
        print(path)
