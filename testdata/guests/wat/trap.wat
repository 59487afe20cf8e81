;; trap.wat: an ABI v1 guest whose invoke loads from 0xFFFFFFF0, far beyond
;; its one page of memory: an out-of-bounds memory access trap.
;;
;; Proves: a trap becomes a function error Runtime.ExitError naming the trap,
;; and the instance is discarded.
;;
;; Build: wat2wasm trap.wat -o trap.wasm
(module
  (memory (export "memory") 1)

  ;; A fixed 60000-byte request buffer at 1024.
  (func (export "wasmlambda_v1_alloc") (param $size i32) (result i32)
    (if (result i32) (i32.le_u (local.get $size) (i32.const 60000))
      (then (i32.const 1024))
      (else (i32.const 0))))

  (func (export "wasmlambda_v1_invoke") (param $ptr i32) (param $len i32) (result i32)
    (i32.load (i32.const 0xFFFFFFF0)))
)
