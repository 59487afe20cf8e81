;; bigout.wat: an ABI v1 guest whose invoke returns a status-0 result of
;; 7 MiB (7340032 bytes), more than the 6 MB response limit.
;;
;; Proves: an oversized response is a function error
;; Function.ResponseSizeTooLarge, and the instance stays warm (calling it again
;; gives the same error, not a fresh instance).
;;
;; The memory is 128 pages (8 MiB) so the payload, at 1 MiB (0x100000) for
;; 7 MiB, lies wholly inside it: the record is well formed, only too big.
;; The payload bytes are zeros; the host must refuse on the length alone.
;; The record itself is at 16.
;;
;; Build: wat2wasm bigout.wat -o bigout.wasm
(module
  (memory (export "memory") 128)

  ;; A fixed 60000-byte request buffer at 1024.
  (func (export "wasmlambda_v1_alloc") (param $size i32) (result i32)
    (if (result i32) (i32.le_u (local.get $size) (i32.const 60000))
      (then (i32.const 1024))
      (else (i32.const 0))))

  (func (export "wasmlambda_v1_invoke") (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 16) (i32.const 0))         ;; status 0: success
    (i32.store (i32.const 20) (i32.const 0x100000))  ;; payload address: 1 MiB
    (i32.store (i32.const 24) (i32.const 7340032))   ;; payload length: 7 MiB
    (i32.const 16))
)
