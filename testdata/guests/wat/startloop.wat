;; startloop.wat: an ABI v1 guest whose start section spins forever, before
;; the host has had any chance to call an export.
;;
;; Proves: code that runs at instantiation is stopped at the deadline too.
;; The host's instrumentation turns the start section into the export
;; "wasmlambda.start" and calls it after instantiation, like _initialize,
;; under the caller's context, so its loop is checked like any other;
;; instantiating under a 100 ms deadline returns a deadline fault promptly
;; instead of hanging in the start function.
;;
;; Build: wat2wasm startloop.wat -o startloop.wasm
(module
  (memory (export "memory") 1)

  ;; A fixed 60000-byte request buffer at 1024.
  (func (export "wasmlambda_v1_alloc") (param $size i32) (result i32)
    (if (result i32) (i32.le_u (local.get $size) (i32.const 60000))
      (then (i32.const 1024))
      (else (i32.const 0))))

  ;; Returns an empty success record at 16 (never reached: instantiation
  ;; never finishes).
  (func (export "wasmlambda_v1_invoke") (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.const 16))

  (func $spin
    (loop $forever
      (br $forever)))

  (start $spin)
)
