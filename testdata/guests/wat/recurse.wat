;; recurse.wat: an ABI v1 guest whose invoke recurses forever, without a
;; single loop: $down calls itself with its argument plus one.
;;
;; Proves: unbounded recursion ends in a stack-overflow trap, reported as a
;; trap fault (not a deadline, not a hang), and the instance is discarded.
;; With no loop headers, only the deadline check at function entry could
;; stop it, were the stack unlimited.
;;
;; Build: wat2wasm recurse.wat -o recurse.wasm
(module
  (memory (export "memory") 1)

  ;; A fixed 60000-byte request buffer at 1024.
  (func (export "wasmlambda_v1_alloc") (param $size i32) (result i32)
    (if (result i32) (i32.le_u (local.get $size) (i32.const 60000))
      (then (i32.const 1024))
      (else (i32.const 0))))

  ;; Never returns: each call makes another. The addition after the call
  ;; keeps it from being a tail call.
  (func $down (param $depth i32) (result i32)
    (i32.add
      (call $down (i32.add (local.get $depth) (i32.const 1)))
      (i32.const 1)))

  (func (export "wasmlambda_v1_invoke") (param $ptr i32) (param $len i32) (result i32)
    (drop (call $down (i32.const 0)))
    (i32.store (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.const 16))
)
