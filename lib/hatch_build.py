"""Generate the gRPC/protobuf stubs from ../proto at build (and editable install) time.

The stubs are build products: they are written into centralino/v1/ and never committed.
"""

from __future__ import annotations

import pathlib
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def generate(proto_root: pathlib.Path, out_root: pathlib.Path) -> None:
    import importlib.resources

    from grpc_tools import protoc

    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    protos = sorted(str(p.relative_to(proto_root)) for p in proto_root.rglob("*.proto"))
    args = [
        "protoc",
        f"-I{proto_root}",
        f"-I{well_known}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed for {protos}")
    for package in {p.parent for p in out_root.joinpath("centralino").rglob("*_pb2.py")}:
        package.joinpath("__init__.py").touch()


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = pathlib.Path(self.root)
        proto_root = root.parent / "proto"
        if proto_root.is_dir():  # an sdist already carries the stubs
            generate(proto_root, root)
