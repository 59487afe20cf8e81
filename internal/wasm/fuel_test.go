package wasm

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero/api"
)

// withGlobalExport returns code with one more export: the global idx as
// name.
func withGlobalExport(t testing.TB, code []byte, name string, idx uint64) []byte {
	t.Helper()
	var secs [][]byte
	for _, s := range sections(t, code) {
		body := s.body
		if s.id == secExport {
			c := &cursor{t: t, b: body}
			n := c.u()
			body = cat(leb(n+1), body[c.off:], wname(name), []byte{externGlobl}, leb(idx))
		}
		secs = append(secs, sec(s.id, body))
	}
	return module(secs...)
}

// fuelFixture leaves functions with loops in every way there is: by a
// branch to the function's label (br, br_if, br_table), by return, and by
// falling off the end, after direct and indirect calls into functions with
// and without loops, and into an imported function, and bulk operations. $nested and $results branch
// across nested loops and out of loops with results, whose labels the
// rewrite renumbers.
const fuelFixture = `(module
	(import "env" "seven" (func $seven (result i32)))
	(type $v (func))
	(type $vi (func (param i32)))
	(type $r (func (result i32)))
	(table 4 funcref)
	(elem (i32.const 0) $leaf $byReturn $seven)
	(memory 1)
	(func $leaf (drop (memory.size)))
	(func $byBr (param $n i32)
		(loop $l
			(br_if 1 (i32.eqz (local.get $n)))
			(local.set $n (i32.sub (local.get $n) (i32.const 1)))
			(call $leaf)
			(br $l)))
	(func $byBrOut (param $n i32)
		(block $b
			(loop $l
				(if (i32.eqz (local.get $n)) (then (br 2)))
				(local.set $n (i32.sub (local.get $n) (i32.const 1)))
				(br $l))))
	(func $byReturn (param $n i32)
		(loop $l
			(if (i32.eqz (local.get $n)) (then (return)))
			(local.set $n (i32.sub (local.get $n) (i32.const 1)))
			(call_indirect (type $v) (i32.const 0))
			(br $l)))
	(func $byTable (param $n i32) (param $mode i32)
		(block $b
			(loop $l
				(memory.fill (i32.const 0) (i32.const 7) (i32.mul (local.get $n) (i32.const 700)))
				(local.set $n (i32.sub (local.get $n) (i32.const 1)))
				(br_table $l $b 2 (select (i32.const 0) (local.get $mode) (local.get $n))))))
	(func $byEnd (param $n i32) (result i32)
		(loop $l
			(local.set $n (i32.sub (local.get $n) (i32.const 1)))
			(call $byBr (local.get $n))
			(br_if $l (i32.gt_s (local.get $n) (i32.const 0))))
		(local.get $n))
	(type $pair (func (result i32 i32)))
	(func $nested (param $n i32) (result i32)
		(local $i i32) (local $j i32) (local $acc i32)
		(block $out
			(loop $outer
				(local.set $i (i32.add (local.get $i) (i32.const 1)))
				(local.set $j (i32.const 0))
				(block $next
					(loop $inner
						(local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (local.get $j))))
						(br_if $out (i32.gt_u (local.get $acc) (i32.const 1000000)))
						(br_if $next (i32.eq (local.get $j) (i32.const 7)))
						(local.set $j (i32.add (local.get $j) (i32.const 1)))
						(br_table $inner $outer $next
							(i32.rem_u (i32.add (local.get $i) (local.get $j)) (i32.const 11)))))
				(br_if $outer (i32.lt_u (local.get $i) (local.get $n)))))
		(local.get $acc))
	(func $results (param $n i32) (result i32)
		(local $a i32)
		(i32.add
			(loop $l (result i32)
				(local.set $n (i32.sub (local.get $n) (i32.const 1)))
				(br_if $l (i32.gt_s (local.get $n) (i32.const 0)))
				(i32.const 5))
			(block $b (result i32)
				(i32.add
					(loop $m (type $pair)
						(local.set $a (i32.add (local.get $a) (i32.const 3)))
						(drop (br_if $b (i32.const 40) (i32.gt_u (local.get $a) (i32.const 100))))
						(br_if $m (i32.lt_u (local.get $a) (i32.const 30)))
						(i32.const 1) (local.get $a))))))
	(global $g (mut i32) (i32.const 0))
	(func $deep (param $n i32) (param $how i32) (result i32)
		(block $b
			(loop $outer
				(loop $inner
					(drop (br_if 3 (i32.const 5) (i32.and (i32.eqz (local.get $n)) (i32.eq (local.get $how) (i32.const 0)))))
					(if (i32.and (i32.eqz (local.get $n)) (i32.eq (local.get $how) (i32.const 1)))
						(then (br 4 (i32.const 6))))
					(if (i32.and (i32.eqz (local.get $n)) (i32.eq (local.get $how) (i32.const 2)))
						(then (return (i32.const 7))))
					(br_if $b (i32.eqz (local.get $n)))
					(local.set $n (i32.sub (local.get $n) (i32.const 1)))
					(br_if $inner (i32.and (local.get $n) (i32.const 1)))
					(br $outer))))
		(i32.const 99))
	(func $deepTable (param $n i32) (param $how i32)
		(global.set $g (i32.const 8))
		(block $b
			(loop $outer
				(loop $inner
					(local.set $n (i32.sub (local.get $n) (i32.const 1)))
					(br_table $inner $outer $b 3 (select
						(i32.and (local.get $n) (i32.const 1))
						(i32.add (i32.const 2) (i32.and (local.get $how) (i32.const 1)))
						(local.get $n))))))
		(global.set $g (i32.const 99)))
	(func (export "sum") (param $k i32) (result i32)
		(call $deepTable (i32.add (local.get $k) (i32.const 1)) (i32.rem_u (local.get $k) (i32.const 4)))
		(i32.add (i32.add (call $nested (local.get $k)) (call $results (local.get $k)))
			(i32.add (call $deep (local.get $k) (i32.rem_u (local.get $k) (i32.const 4)))
				(global.get $g))))
	(func (export "run") (param $k i32)
		(local $i i32)
		(loop $l
			(call $byBr (local.get $i))
			(drop (call_indirect (type $r) (i32.const 2)))
			(call $byBrOut (local.get $i))
			(call_indirect (type $vi) (local.get $i) (i32.const 1))
			(call $byTable (i32.add (local.get $i) (i32.const 1)) (i32.const 1))
			(call $byTable (i32.add (local.get $i) (i32.const 1)) (i32.const 2))
			(drop (call $byEnd (i32.add (local.get $i) (i32.const 1))))
			(call $leaf)
			(drop (call $seven))
			(drop (call $nested (local.get $i)))
			(drop (call $results (local.get $i)))
			(local.set $i (i32.add (local.get $i) (i32.const 1)))
			(br_if $l (i32.lt_u (local.get $i) (local.get $k))))))`

// TestInstrumentFuelLikeReference holds the rewrite, whose functions pass
// the fuel to each other and whose loops are wrapped, to the reference that
// keeps it in the global and checks inside every loop: after every call,
// the fuel left and the checks made are the same, so no step is lost or
// charged twice, whichever way a function or a loop is left; and every
// function computes what it computed before the rewrite. Both with tables
// of the module's own, which hold functions that take the fuel, and with an
// imported table, which holds functions of their original signature.
func TestInstrumentFuelLikeReference(t *testing.T) {
	imported := strings.Replace(fuelFixture, "(module", `(module (import "env" "tab" (table 4 funcref))`, 1)
	imported = strings.Replace(imported, "\t(table 4 funcref)\n", "", 1)
	require.NotEqual(t, fuelFixture, imported)
	for _, tc := range []struct{ name, src string }{
		{"own table", fuelFixture},
		{"imported table", imported},
	} {
		t.Run(tc.name, func(t *testing.T) { testFuelLikeReference(t, tc.src) })
	}
}

func testFuelLikeReference(t *testing.T, src string) {
	code := wat(t, src)
	ctx := context.Background()
	type run struct {
		mod   api.Module
		check *checker
	}
	var runs []run
	plain, _ := plainRuntime(t, api.CoreFeaturesV2, envWAT)
	orig := instantiate(t, plain, code)
	for _, globalOnly := range []bool{true, false} {
		out, err := instrumentWith(code, globalOnly)
		require.NoError(t, err)
		rw := requireInstrumented(t, code, out)
		rt, check := plainRuntime(t, api.CoreFeaturesV2, envWAT)
		runs = append(runs, run{instantiate(t, rt, withGlobalExport(t, out, "fuel", rw.fuel)), check})
	}
	for k := uint64(0); k < 60; k++ {
		var fuel [2]uint64
		for i, r := range runs {
			_, err := r.mod.ExportedFunction("run").Call(ctx, k)
			require.NoError(t, err)
			fuel[i] = r.mod.ExportedGlobal("fuel").Get()
		}
		require.Equal(t, fuel[0], fuel[1], "fuel left after run(%d)", k)
		want, err := orig.ExportedFunction("sum").Call(ctx, k)
		require.NoError(t, err)
		for _, r := range runs {
			got, err := r.mod.ExportedFunction("sum").Call(ctx, k)
			require.NoError(t, err)
			require.Equal(t, want, got, "sum(%d)", k)
		}
		require.Equal(t, runs[0].check.calls.Load(), runs[1].check.calls.Load(), "checks after run(%d)", k)
	}
	require.Greater(t, runs[0].check.calls.Load(), int64(20), "the runs cross many checks")
}
