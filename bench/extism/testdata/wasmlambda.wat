;; wasmlambda.wat: the benchmark guest on wasmlambda's ABI v1, the twin of
;; extism.wat. Its payload is K, a u64, then DATA: it calls the host
;; function bench.echo K times with DATA, each output copied into its output
;; buffer, and returns the last output, or DATA itself when K is 0.
;;
;; Build: wat2wasm wasmlambda.wat -o wasmlambda.wasm
;;
;; Memory map (three 64 KiB pages):
;;   16..28         the 12-byte result record
;;   32..36         the output's length, written by the host
;;   1024..61024    the request buffer handed out by alloc
;;   65536..126976  the output buffer
(module
  (import "bench" "echo" (func $echo (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 3)

  (func (export "wasmlambda_v1_alloc") (param $size i32) (result i32)
    (if (result i32) (i32.le_u (local.get $size) (i32.const 60000))
      (then (i32.const 1024))
      (else (i32.const 0))))

  (func (export "wasmlambda_v1_invoke") (param $ptr i32) (param $len i32) (result i32)
    (local $off i32)
    (local $n i32)
    (local $i i32)
    (local $k i32)
    (local $out i32)
    (local $outLen i32)
    ;; Skip the 20-byte header and six fields to reach the payload.
    (local.set $off (i32.add (local.get $ptr) (i32.const 20)))
    (loop $fields
      (local.set $n (i32.load (local.get $off)))
      (local.set $off (i32.add (local.get $off) (i32.const 4)))
      (if (i32.lt_u (local.get $i) (i32.const 6))
        (then
          (local.set $off (i32.add (local.get $off) (local.get $n)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $fields))))
    (local.set $k (i32.load (local.get $off)))
    (local.set $off (i32.add (local.get $off) (i32.const 8)))
    (local.set $n (i32.sub (local.get $n) (i32.const 8)))
    (local.set $out (local.get $off))
    (local.set $outLen (local.get $n))
    (block $done
      (loop $calls
        (br_if $done (i32.eqz (local.get $k)))
        (if (call $echo (local.get $off) (local.get $n) (i32.const 65536) (i32.const 61440) (i32.const 32))
          (then unreachable))
        (local.set $out (i32.const 65536))
        (local.set $outLen (i32.load (i32.const 32)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $calls)))
    (i32.store (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (local.get $out))
    (i32.store (i32.const 24) (local.get $outLen))
    (i32.const 16))
)
