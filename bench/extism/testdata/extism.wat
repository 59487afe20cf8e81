;; extism.wat: the benchmark plugin on Extism's kernel ABI (the imports of
;; extism:host/env), the twin of wasmlambda.wat, written as Extism's PDKs
;; work. Its input is K, a u64, then DATA (a multiple of 8 bytes): run
;; copies the input into its memory, then K times copies DATA into a block
;; of Extism's memory, calls the host function echo (extism:host/user) with
;; it, and copies the block echo returns into its memory; it sets the last
;; output, or DATA itself when K is 0, as its output.
;;
;; Build: wat2wasm extism.wat -o extism.wasm
;;
;; Memory map (two 64 KiB pages):
;;   1024..       the input
;;   65536..      the output of echo
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/user" "echo" (func $echo (param i64) (result i64)))

  (memory (export "memory") 2)

  ;; toExtism copies n bytes at ptr into a new block of Extism's memory and
  ;; returns the block.
  (func $toExtism (param $ptr i32) (param $n i32) (result i64)
    (local $block i64)
    (local $i i32)
    (local.set $block (call $alloc (i64.extend_i32_u (local.get $n))))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $store_u64
          (i64.add (local.get $block) (i64.extend_i32_u (local.get $i)))
          (i64.load (i32.add (local.get $ptr) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $copy)))
    (local.get $block))

  (func (export "run") (result i32)
    (local $n i32)
    (local $i i32)
    (local $k i64)
    (local $out i32)
    (local $outLen i32)
    (local $block i64)
    ;; The input, into memory at 1024.
    (local.set $n (i32.wrap_i64 (call $input_length)))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i64.store (i32.add (i32.const 1024) (local.get $i))
          (call $input_load_u64 (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $copy)))
    (local.set $k (i64.load (i32.const 1024)))
    (local.set $out (i32.const 1032))
    (local.set $outLen (i32.sub (local.get $n) (i32.const 8)))
    (block $done
      (loop $calls
        (br_if $done (i64.eqz (local.get $k)))
        (local.set $block (call $echo (call $toExtism (i32.const 1032) (i32.sub (local.get $n) (i32.const 8)))))
        (local.set $outLen (i32.wrap_i64 (call $length (local.get $block))))
        (local.set $i (i32.const 0))
        (block $copied
          (loop $copy
            (br_if $copied (i32.ge_u (local.get $i) (local.get $outLen)))
            (i64.store (i32.add (i32.const 65536) (local.get $i))
              (call $load_u64 (i64.add (local.get $block) (i64.extend_i32_u (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 8)))
            (br $copy)))
        (local.set $out (i32.const 65536))
        (local.set $k (i64.sub (local.get $k) (i64.const 1)))
        (br $calls)))
    (call $output_set (call $toExtism (local.get $out) (local.get $outLen)) (i64.extend_i32_u (local.get $outLen)))
    (i32.const 0))
)
