;; counter.wat: the minimal echo guest, written by hand in WAT. It is a
;; complete, correct ABI v1 guest (docs/ABI.md) with no WASI imports at all:
;; it returns the request payload unchanged with status 0.
;;
;; Besides echoing, invoke increments a mutable global, exported as "calls"
;; (an extra export the host ignores), to show where warm state lives.
;;
;; Build: wat2wasm counter.wat -o counter.wasm
;;
;; Memory map (one 64 KiB page):
;;   16..28      the 12-byte result record
;;   64..        the error objects (data segments)
;;   1024..61024 the request buffer handed out by alloc
(module
  (memory (export "memory") 1)

  (global $calls (export "calls") (mut i32) (i32.const 0))

  ;; {"errorMessage":"malformed request envelope","errorType":"CounterError"}
  (data (i32.const 64)
    "{\"errorMessage\":\"malformed request envelope\",\"errorType\":\"CounterError\"}")
  ;; {"errorMessage":"unsupported ABI version","errorType":"CounterError"}
  (data (i32.const 256)
    "{\"errorMessage\":\"unsupported ABI version\",\"errorType\":\"CounterError\"}")

  ;; wasmlambda_v1_alloc(size) -> address: one fixed buffer of 60000 bytes;
  ;; 0 (cannot) for anything bigger.
  (func (export "wasmlambda_v1_alloc") (param $size i32) (result i32)
    (if (result i32) (i32.le_u (local.get $size) (i32.const 60000))
      (then (i32.const 1024))
      (else (i32.const 0))))

  ;; result writes the result record at 16 and returns its address.
  (func $result (param $status i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 16) (local.get $status))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))

  ;; wasmlambda_v1_invoke(ptr, len) -> record address.
  (func (export "wasmlambda_v1_invoke") (param $ptr i32) (param $len i32) (result i32)
    (local $end i32)  ;; one past the last byte of the envelope
    (local $off i32)  ;; the next field's length word
    (local $n i32)    ;; the current field's length
    (local $i i32)    ;; the current field's index: 6 is the payload

    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))

    (block $malformed
      ;; The 20-byte header: version, flags, deadline, memory MB.
      (br_if $malformed (i32.lt_u (local.get $len) (i32.const 20)))
      (if (i32.ne (i32.load (local.get $ptr)) (i32.const 1))
        (then
          (return (call $result (i32.const 1) (i32.const 256) (i32.const 69)))))
      (local.set $end (i32.add (local.get $ptr) (local.get $len)))
      (local.set $off (i32.add (local.get $ptr) (i32.const 20)))

      ;; Seven fields follow, each a u32 length and that many bytes: request
      ;; ID, function name, version, ARN, client context, identity, payload.
      (loop $fields
        ;; Room for the length word?
        (br_if $malformed
          (i32.lt_u (i32.sub (local.get $end) (local.get $off)) (i32.const 4)))
        (local.set $n (i32.load (local.get $off)))
        (local.set $off (i32.add (local.get $off) (i32.const 4)))
        ;; Room for the bytes?
        (br_if $malformed
          (i32.gt_u (local.get $n) (i32.sub (local.get $end) (local.get $off))))
        ;; The payload: echo it. It lies in the request buffer, which stays
        ;; valid until the next alloc, after the host has copied it out.
        (if (i32.eq (local.get $i) (i32.const 6))
          (then
            (return (call $result (i32.const 0) (local.get $off) (local.get $n)))))
        (local.set $off (i32.add (local.get $off) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fields)))

    ;; Status 1: a function error; the instance stays warm.
    (call $result (i32.const 1) (i32.const 64) (i32.const 72)))
)
