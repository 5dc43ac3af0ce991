"""The Python wasmtime host: the Raspberry Pi runtime (also runs on any 64-bit Linux)."""
