;; badglobal.wat: an ABI v1 guest that imports a global. The host provides
;; only WASI functions, so deploy must refuse it, naming the import.
;;
;; Build: wat2wasm badglobal.wat -o badglobal.wasm
(module
  (import "env" "counter" (global i32))
  (memory (export "memory") 1)
  (func (export "wasmlambda_v1_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "wasmlambda_v1_invoke") (param i32 i32) (result i32) i32.const 16))
