;; loop.wat: an ABI v1 guest whose invoke spins forever.
;;
;; Proves: the deadline interrupts a guest that never calls the host (the
;; runtime must be built with WithCloseOnContextDone); the caller gets
;; Sandbox.Timedout and the instance is discarded.
;;
;; Build: wat2wasm loop.wat -o loop.wasm
(module
  (memory (export "memory") 1)

  ;; A fixed 60000-byte request buffer at 1024.
  (func (export "wasmlambda_v1_alloc") (param $size i32) (result i32)
    (if (result i32) (i32.le_u (local.get $size) (i32.const 60000))
      (then (i32.const 1024))
      (else (i32.const 0))))

  (func (export "wasmlambda_v1_invoke") (param $ptr i32) (param $len i32) (result i32)
    (loop $spin
      (br $spin))
    (unreachable))
)
