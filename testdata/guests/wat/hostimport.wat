;; hostimport.wat: a guest that calls a host function, acme.lookup, with the
;; one signature of every host function (docs/ABI.md), and fetches an output
;; too large for its 64-byte buffer with wasmlambda_v1.host_result.
;;
;; invoke passes the payload to acme.lookup and returns its output: with
;; status 0 when lookup succeeded, and with status 1 when it failed (the
;; output is then the host's error message, not an error object). An output
;; that host_result cannot fetch is a trap.
;;
;; Build: wat2wasm hostimport.wat -o hostimport.wasm
;;
;; Memory map (three 64 KiB pages):
;;   16..28        the 12-byte result record
;;   32..36        the output's length, written by the host
;;   1024..61024   the request buffer handed out by alloc
;;   65536..65600  the 64-byte output buffer
;;   69632..131072 the buffer for host_result
(module
  (type $hostfn (func (param i32 i32 i32 i32 i32) (result i32)))
  (import "acme" "lookup" (func $lookup (type $hostfn)))
  (import "wasmlambda_v1" "host_result" (func $host_result (param i32 i32) (result i32)))

  (memory (export "memory") 3)

  (func (export "wasmlambda_v1_alloc") (param $size i32) (result i32)
    (if (result i32) (i32.le_u (local.get $size) (i32.const 60000))
      (then (i32.const 1024))
      (else (i32.const 0))))

  (func $result (param $status i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 16) (local.get $status))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))

  (func (export "wasmlambda_v1_invoke") (param $ptr i32) (param $len i32) (result i32)
    (local $off i32)
    (local $n i32)
    (local $i i32)
    (local $status i32)
    (local $out i32)
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
    (local.set $status
      (call $lookup (local.get $off) (local.get $n) (i32.const 65536) (i32.const 64) (i32.const 32)))
    (local.set $out (i32.const 65536))
    (if (i32.gt_u (i32.load (i32.const 32)) (i32.const 64))
      (then
        (if (i32.ne (call $host_result (i32.const 69632) (i32.const 61440)) (i32.load (i32.const 32)))
          (then unreachable))
        (local.set $out (i32.const 69632))))
    (call $result (i32.ne (local.get $status) (i32.const 0)) (local.get $out) (i32.load (i32.const 32))))
)
