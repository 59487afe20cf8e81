;; sleep.wat: an ABI v1 guest whose invoke sleeps for 60 seconds in WASI
;; poll_oneoff (one relative clock subscription on CLOCK_MONOTONIC), then
;; returns an empty success record.
;;
;; Proves: a guest blocked in the host, where no loop check of the runtime can
;; see the deadline, is still interrupted when the deadline passes
;; (Sandbox.Timedout), long before the 60 s are up.
;;
;; Build: wat2wasm sleep.wat -o sleep.wasm
;;
;; Memory map: 16 result record; 64 nevents (u32); 128 the 48-byte
;; subscription; 256 the 32-byte event; 1024.. the request buffer.
(module
  ;; errno poll_oneoff(in: *subscription, out: *event, nsubscriptions: u32,
  ;;                   nevents: *u32)
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 1)

  ;; A fixed 60000-byte request buffer at 1024.
  (func (export "wasmlambda_v1_alloc") (param $size i32) (result i32)
    (if (result i32) (i32.le_u (local.get $size) (i32.const 60000))
      (then (i32.const 1024))
      (else (i32.const 0))))

  (func (export "wasmlambda_v1_invoke") (param $ptr i32) (param $len i32) (result i32)
    ;; The subscription (WASI preview 1 layout, 48 bytes):
    ;;   0  u64 userdata
    ;;   8  u8  tag: 0 = clock
    ;;   16 u32 clock id: 1 = CLOCK_MONOTONIC
    ;;   24 u64 timeout in nanoseconds
    ;;   32 u64 precision
    ;;   40 u16 flags: 0 = relative (not subscription_clock_abstime)
    (i64.store (i32.const 128) (i64.const 0))
    (i64.store (i32.const 136) (i64.const 0))
    (i32.store (i32.const 144) (i32.const 1))
    (i64.store (i32.const 152) (i64.const 60000000000)) ;; 60 s
    (i64.store (i32.const 160) (i64.const 0))
    (i64.store (i32.const 168) (i64.const 0))

    ;; Sleep. The errno is dropped: whether the host returns early or not,
    ;; the guest only reports success.
    (drop (call $poll_oneoff
      (i32.const 128) (i32.const 256) (i32.const 1) (i32.const 64)))

    ;; Status 0, empty payload (a null response).
    (i32.store (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.const 16))
)
