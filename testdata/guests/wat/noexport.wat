;; noexport.wat: a module with neither the ABI v1 exports nor _start; it
;; exports only its memory and a function "hello".
;;
;; Proves: deploy refuses a module with no handler, with an error that names
;; the missing export (wasmlambda_v1_invoke / _start).
;;
;; Build: wat2wasm noexport.wat -o noexport.wasm
(module
  (memory (export "memory") 1)

  (func (export "hello") (result i32)
    (i32.const 42))
)
