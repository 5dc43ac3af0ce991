"""What a device runs: the wasmtime host with wasi-nn, the pipeline executor, the fleet agent and
the device protocol client. No compiler and no `build_tools` needed (runtime_py/README.md)."""

__version__ = "0.1.0"
