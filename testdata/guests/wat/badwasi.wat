;; badwasi.wat: an otherwise valid-looking ABI v1 guest that imports a WASI
;; function no host implements: wasi_snapshot_preview1.no_such_function.
;;
;; Proves: deploy refuses a module importing a WASI function the host lacks,
;; with an error that names the import.
;;
;; Build: wat2wasm badwasi.wat -o badwasi.wasm
(module
  (import "wasi_snapshot_preview1" "no_such_function" (func $nope))

  (memory (export "memory") 1)

  ;; A fixed 60000-byte request buffer at 1024.
  (func (export "wasmlambda_v1_alloc") (param $size i32) (result i32)
    (if (result i32) (i32.le_u (local.get $size) (i32.const 60000))
      (then (i32.const 1024))
      (else (i32.const 0))))

  ;; Calls the import, then returns an empty success record at 16 (never
  ;; reached: the module must not deploy).
  (func (export "wasmlambda_v1_invoke") (param $ptr i32) (param $len i32) (result i32)
    (call $nope)
    (i32.store (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.const 16))
)
