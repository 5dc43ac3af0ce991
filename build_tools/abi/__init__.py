"""The tools' side of the ABI table (`edge_runtime.abi`, one `imports.toml` in the runtime
package): `c_glue` generates the C runtime's import glue from it."""
