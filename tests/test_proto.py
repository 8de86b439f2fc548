"""The committed stubs are exactly what `make proto` generates from proto/."""

from __future__ import annotations

from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ("forecast_pb2.py", "forecast_pb2.pyi", "forecast_pb2_grpc.py")


def test_generated_stubs_are_fresh(tmp_path: Path) -> None:
    args = [
        "protoc",
        f"-I{ROOT / 'proto'}",
        f"-I{Path(protoc.__file__).parent / '_proto'}",
        f"--python_out={tmp_path}",
        f"--pyi_out={tmp_path}",
        f"--grpc_python_out={tmp_path}",
        str(ROOT / "proto/gigcast/v1/forecast.proto"),
    ]
    assert protoc.main(args) == 0
    for name in GENERATED:
        fresh = (tmp_path / "gigcast/v1" / name).read_text()
        committed = (ROOT / "gigcast/v1" / name).read_text()
        assert committed == fresh, f"gigcast/v1/{name} is stale: run `make proto`"
