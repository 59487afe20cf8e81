;; nestedloop.wat: an ABI v1 guest whose invoke never returns: an endless
;; outer loop around a hot inner loop of a million iterations, which calls
;; $mix, a function with a loop of its own, on every iteration.
;;
;; Proves: the deadline interrupts guest code wherever it is spinning: in an
;; inner loop (one whose block type takes a parameter and gives a result,
;; a type-index block type), in a function called from a loop, or at an
;; outer loop header; the caller gets a deadline fault promptly.
;;
;; Build: wat2wasm nestedloop.wat -o nestedloop.wasm
(module
  (memory (export "memory") 1)

  ;; A fixed 60000-byte request buffer at 1024.
  (func (export "wasmlambda_v1_alloc") (param $size i32) (result i32)
    (if (result i32) (i32.le_u (local.get $size) (i32.const 60000))
      (then (i32.const 1024))
      (else (i32.const 0))))

  ;; $mix(x) stirs x eight times in a loop of its own.
  (func $mix (param $x i32) (result i32)
    (local $k i32)
    (loop $stir
      (local.set $x
        (i32.xor (i32.mul (local.get $x) (i32.const 0x9E3779B1)) (local.get $k)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $stir (i32.lt_u (local.get $k) (i32.const 8))))
    (local.get $x))

  (func (export "wasmlambda_v1_invoke") (param $ptr i32) (param $len i32) (result i32)
    (local $acc i32)
    (local $j i32)
    (loop $outer
      ;; The inner loop carries its counter j on the operand stack: it takes
      ;; j as a parameter and yields the final j as its result.
      (i32.const 0)
      (loop $inner (param i32) (result i32)
        (local.set $j)
        (local.set $acc (call $mix (i32.add (local.get $acc) (local.get $j))))
        (local.tee $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get $j) (i32.const 1000000))))
      (local.set $acc (i32.add (local.get $acc)))
      (br $outer))
    (unreachable))
)
