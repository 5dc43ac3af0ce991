;; A guest written by hand against the witx wasi-nn ABI (docs/abi.md section 3), without the
;; project's C header: loads a model by name and runs one int8 inference on the raw path.
;; run(x) -> output byte (sign-extended) or -(1000 + wasi-nn error).
(module
  (import "wasi_ephemeral_nn" "load_by_name"
    (func $load_by_name (param i32 i32 i32) (result i32)))
  (import "wasi_ephemeral_nn" "init_execution_context"
    (func $init (param i32 i32) (result i32)))
  (import "wasi_ephemeral_nn" "set_input"
    (func $set_input (param i32 i32 i32) (result i32)))
  (import "wasi_ephemeral_nn" "compute" (func $compute (param i32) (result i32)))
  (import "wasi_ephemeral_nn" "get_output"
    (func $get_output (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 16: model name (16 bytes); 64: dims {1, 1}; 80: tensor struct (20 bytes);
  ;; 128: input byte; 256: output; 272: bytes written; 288: graph; 292: context
  (data (i32.const 16) "hello_world_int8")
  (data (i32.const 64) "\01\00\00\00\01\00\00\00")
  ;; tensor: dims_ptr 64, dims_len 2, type u8 (3) + zero padding, data_ptr 128, data_len 1
  (data (i32.const 80) "\40\00\00\00\02\00\00\00\03\00\00\00\80\00\00\00\01\00\00\00")
  (func $fail (param $err i32) (result i32)
    (i32.sub (i32.const -1000) (local.get $err)))
  (func (export "run") (param $x i32) (result i32)
    (local $err i32)
    (i32.store8 (i32.const 128) (local.get $x))
    (local.set $err (call $load_by_name (i32.const 16) (i32.const 16) (i32.const 288)))
    (if (local.get $err) (then (return (call $fail (local.get $err)))))
    (local.set $err (call $init (i32.load (i32.const 288)) (i32.const 292)))
    (if (local.get $err) (then (return (call $fail (local.get $err)))))
    (local.set $err (call $set_input (i32.load (i32.const 292)) (i32.const 0) (i32.const 80)))
    (if (local.get $err) (then (return (call $fail (local.get $err)))))
    (local.set $err (call $compute (i32.load (i32.const 292))))
    (if (local.get $err) (then (return (call $fail (local.get $err)))))
    (local.set $err
      (call $get_output (i32.load (i32.const 292)) (i32.const 0) (i32.const 256) (i32.const 16)
        (i32.const 272)))
    (if (local.get $err) (then (return (call $fail (local.get $err)))))
    (i32.load8_s (i32.const 256)))
  ;; Imports outside the ABI must be refused: see tests/host.
)
