"""Build, flash, deploy and conformance-test WebAssembly guests with wasi-nn on edge devices.

In a source checkout the runtime's native libraries come from here: `nnb` registers its CMake
build with `edge_runtime.native` (an installed runtime wheel ships them prebuilt instead)."""

from edge_runtime import native

from . import nnb

__version__ = "0.1.0"

native.register_builder("nnb", nnb.build_library)
