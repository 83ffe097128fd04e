;; The code caches' checksum (scripts/build.mjs, the prologue: FNV_LANES is this text as
;; wat2wasm assembles it, hex; test/cli/binary.test.ts checks that it is).
;; f(p, n, h): four FNV-1a lanes, each started at h, over the n 16-byte blocks from p (lane k
;; takes the block's k-th little-endian 32-bit word), folded in order into lane 0.
(module
  (memory (export "m") 0)
  (func (export "f") (param $p i32) (param $n i32) (param $h i32) (result i32)
    (local $acc v128)
    (local $k v128)
    (local.set $acc (i32x4.splat (local.get $h)))
    (local.set $k (i32x4.splat (i32.const 16777619)))
    (block $done
      (loop $top
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (i32x4.mul (v128.xor (local.get $acc) (v128.load (local.get $p))) (local.get $k)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $top)))
    (local.set $h (i32x4.extract_lane 0 (local.get $acc)))
    (local.set $h (i32.mul (i32.xor (local.get $h) (i32x4.extract_lane 1 (local.get $acc))) (i32.const 16777619)))
    (local.set $h (i32.mul (i32.xor (local.get $h) (i32x4.extract_lane 2 (local.get $acc))) (i32.const 16777619)))
    (local.set $h (i32.mul (i32.xor (local.get $h) (i32x4.extract_lane 3 (local.get $acc))) (i32.const 16777619)))
    (local.get $h)))
