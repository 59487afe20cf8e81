;; grow.wat: an ABI v1 guest whose invoke grows its memory 1 MiB at a time
;; until memory.grow fails (returns -1), then traps with unreachable.
;;
;; Proves: the memory limit holds (memory.grow fails at the function's memory
;; size rather than exhausting the host), and a trap after reaching it is
;; reported as Runtime.OutOfMemory; the instance is discarded.
;;
;; The memory is declared with a minimum of 1 page and no maximum, so only
;; the host's limit stops it.
;;
;; Build: wat2wasm grow.wat -o grow.wasm
(module
  (memory (export "memory") 1)

  ;; A fixed 60000-byte request buffer at 1024.
  (func (export "wasmlambda_v1_alloc") (param $size i32) (result i32)
    (if (result i32) (i32.le_u (local.get $size) (i32.const 60000))
      (then (i32.const 1024))
      (else (i32.const 0))))

  (func (export "wasmlambda_v1_invoke") (param $ptr i32) (param $len i32) (result i32)
    (loop $more
      ;; 16 pages of 64 KiB = 1 MiB; memory.grow returns the old size in
      ;; pages, or -1 when it cannot grow.
      (br_if $more
        (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (unreachable))
)
