"""Build, flash, deploy and conformance-test WebAssembly guests with wasi-nn on edge devices."""

__version__ = "0.1.0"
