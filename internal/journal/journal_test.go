package journal_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmlambda/lambda/internal/journal"
)

func open(t *testing.T, dir string) *journal.Store {
	t.Helper()
	s, err := journal.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func put(fn string, kind journal.Kind, seq uint64, v string) journal.Op {
	return journal.Op{Function: fn, Kind: kind, Seq: seq, Value: []byte(v)}
}

func del(fn string, kind journal.Kind, seq uint64) journal.Op {
	return journal.Op{Function: fn, Kind: kind, Seq: seq}
}

func rec(seq uint64, v string) journal.Record { return journal.Record{Seq: seq, Value: []byte(v)} }

type fk struct {
	fn   string
	kind journal.Kind
}

func TestJournalStore(t *testing.T) {
	const (
		ev  = journal.Events
		out = journal.Outbox
	)
	for _, tc := range []struct {
		name string
		// applies are made in order, each one call of Apply.
		applies [][]journal.Op
		// want is every function and kind's records; a missing key holds
		// none.
		want map[fk][]journal.Record
		// last is LastSeq by function.
		last map[string]uint64
	}{
		{
			name:    "empty journal",
			applies: nil,
			want:    map[fk][]journal.Record{{"f", ev}: nil, {"f", out}: nil},
			last:    map[string]uint64{"f": 0},
		},
		{
			name:    "no ops is a no-op",
			applies: [][]journal.Op{{}},
			last:    map[string]uint64{"f": 0},
		},
		{
			name:    "one put",
			applies: [][]journal.Op{{put("f", ev, 1, "a")}},
			want:    map[fk][]journal.Record{{"f", ev}: {rec(1, "a")}, {"f", out}: nil},
			last:    map[string]uint64{"f": 1, "g": 0},
		},
		{
			name: "puts and deletes in one apply",
			applies: [][]journal.Op{
				{put("f", ev, 1, "a"), put("f", ev, 2, "b"), put("f", ev, 3, "c")},
				// An event finishes: its record goes and its delivery is
				// queued, in one transaction.
				{del("f", ev, 2), put("f", out, 4, "dl")},
			},
			want: map[fk][]journal.Record{{"f", ev}: {rec(1, "a"), rec(3, "c")}, {"f", out}: {rec(4, "dl")}},
			last: map[string]uint64{"f": 4},
		},
		{
			name:    "a put and a delete of one key in one apply: the last wins",
			applies: [][]journal.Op{{put("f", ev, 1, "a"), del("f", ev, 1)}, {del("f", ev, 2), put("f", ev, 2, "b")}},
			want:    map[fk][]journal.Record{{"f", ev}: {rec(2, "b")}},
			last:    map[string]uint64{"f": 2},
		},
		{
			name:    "a put replaces",
			applies: [][]journal.Op{{put("f", ev, 7, "first")}, {put("f", ev, 7, "second")}},
			want:    map[fk][]journal.Record{{"f", ev}: {rec(7, "second")}},
			last:    map[string]uint64{"f": 7},
		},
		{
			name:    "a delete of a missing record is not an error",
			applies: [][]journal.Op{{del("f", ev, 9)}, {del("nobody", out, 1)}},
			want:    map[fk][]journal.Record{{"f", ev}: nil, {"nobody", out}: nil},
			last:    map[string]uint64{"f": 0, "nobody": 0},
		},
		{
			name: "records come back in sequence order, not insertion or byte order",
			applies: [][]journal.Op{
				{put("f", ev, 300, "300"), put("f", ev, 1, "1")},
				{put("f", ev, 256, "256"), put("f", ev, 2, "2")},
				{put("f", ev, 1<<40, "big"), put("f", ev, 255, "255")},
			},
			want: map[fk][]journal.Record{{"f", ev}: {rec(1, "1"), rec(2, "2"), rec(255, "255"), rec(256, "256"), rec(300, "300"), rec(1<<40, "big")}},
			last: map[string]uint64{"f": 1 << 40},
		},
		{
			name: "LastSeq is the largest over every kind",
			applies: [][]journal.Op{
				{put("f", ev, 3, "e"), put("f", out, 12, "o"), put("f", ev, 7, "e")},
				{put("g", out, 2, "o"), put("g", ev, 5, "e")},
			},
			want: map[fk][]journal.Record{
				{"f", ev}: {rec(3, "e"), rec(7, "e")}, {"f", out}: {rec(12, "o")},
				{"g", ev}: {rec(5, "e")}, {"g", out}: {rec(2, "o")},
			},
			last: map[string]uint64{"f": 12, "g": 5, "h": 0},
		},
		{
			name: "LastSeq falls when the last record goes",
			applies: [][]journal.Op{
				{put("f", ev, 3, "e"), put("f", out, 12, "o")},
				{del("f", out, 12)},
			},
			want: map[fk][]journal.Record{{"f", ev}: {rec(3, "e")}, {"f", out}: nil},
			last: map[string]uint64{"f": 3},
		},
		{
			name: "functions and kinds are apart",
			applies: [][]journal.Op{
				{put("f", ev, 1, "f-ev"), put("f", out, 1, "f-out"), put("g", ev, 1, "g-ev")},
				{del("g", out, 1), del("h", ev, 1)},
			},
			want: map[fk][]journal.Record{
				{"f", ev}: {rec(1, "f-ev")}, {"f", out}: {rec(1, "f-out")},
				{"g", ev}: {rec(1, "g-ev")}, {"g", out}: nil, {"h", ev}: nil,
			},
			last: map[string]uint64{"f": 1, "g": 1, "h": 0},
		},
		{
			name:    "an empty value is a put",
			applies: [][]journal.Op{{{Function: "f", Kind: ev, Seq: 1, Value: []byte{}}}},
			want:    map[fk][]journal.Record{{"f", ev}: {{Seq: 1}}},
			last:    map[string]uint64{"f": 1},
		},
		{
			name: "a function name with odd bytes",
			applies: [][]journal.Op{
				{put("f/with:odd\x00bytes", ev, 1, "a"), put("f", ev, 2, "b")},
			},
			want: map[fk][]journal.Record{{"f/with:odd\x00bytes", ev}: {rec(1, "a")}, {"f", ev}: {rec(2, "b")}},
			last: map[string]uint64{"f/with:odd\x00bytes": 1, "f": 2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			require.Equal(t, filepath.Join(dir, "async.db"), s.Path())
			for _, ops := range tc.applies {
				require.NoError(t, s.Apply(ops...))
			}
			check := func(t *testing.T, s *journal.Store) {
				t.Helper()
				for k, want := range tc.want {
					got, err := s.Load(k.fn, k.kind)
					require.NoError(t, err)
					require.Len(t, got, len(want), "%s/%s", k.fn, k.kind)
					for i := range want {
						require.Equal(t, want[i].Seq, got[i].Seq, "%s/%s[%d]", k.fn, k.kind, i)
						require.True(t, bytes.Equal(want[i].Value, got[i].Value), "%s/%s[%d]: %q, want %q", k.fn, k.kind, i, got[i].Value, want[i].Value)
					}
				}
				for fn, want := range tc.last {
					got, err := s.LastSeq(fn)
					require.NoError(t, err)
					require.Equal(t, want, got, "LastSeq(%s)", fn)
				}
			}
			check(t, s)

			// Everything is on disk: a reopened journal holds the same.
			require.NoError(t, s.Close())
			check(t, open(t, dir))
		})
	}
}

// TestJournalApplyIsOneTransaction checks that an Apply that fails part
// way changes nothing, and leaves the journal usable.
func TestJournalApplyIsOneTransaction(t *testing.T) {
	s := open(t, t.TempDir())
	require.NoError(t, s.Apply(put("f", journal.Events, 1, "keep")))

	// An empty function name is refused by bolt after the first two ops
	// were made in the transaction.
	err := s.Apply(
		del("f", journal.Events, 1),
		put("f", journal.Outbox, 2, "lost"),
		put("", journal.Events, 3, "bad"),
	)
	require.Error(t, err)
	err = s.Apply(put("f", journal.Outbox, 4, "lost"), journal.Op{Function: "f", Seq: 5, Value: []byte("no kind")})
	require.Error(t, err)

	got, err := s.Load("f", journal.Events)
	require.NoError(t, err)
	require.Equal(t, []journal.Record{rec(1, "keep")}, got)
	outbox, err := s.Load("f", journal.Outbox)
	require.NoError(t, err)
	require.Empty(t, outbox)
	last, err := s.LastSeq("f")
	require.NoError(t, err)
	require.Equal(t, uint64(1), last)

	require.NoError(t, s.Apply(put("f", journal.Outbox, 2, "ok")))
	require.Equal(t, 1, len(must(s.Load("f", journal.Outbox))))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestJournalLoadCopiesValues checks that loaded values are the caller's:
// changing one changes nothing stored, and they stay valid after the journal
// grows (bolt remaps its file) and after it closes.
func TestJournalLoadCopiesValues(t *testing.T) {
	dir := t.TempDir()
	s, err := journal.Open(dir)
	require.NoError(t, err)

	in := []byte("original")
	require.NoError(t, s.Apply(journal.Op{Function: "f", Kind: journal.Events, Seq: 1, Value: in}))
	copy(in, "CHANGED!") // the caller's slice is not kept either
	got, err := s.Load("f", journal.Events)
	require.NoError(t, err)
	require.Equal(t, "original", string(got[0].Value))

	got[0].Value[0] = 'X'
	again, err := s.Load("f", journal.Events)
	require.NoError(t, err)
	require.Equal(t, "original", string(again[0].Value))

	// Grow the file well past its first mapping, so that bolt remaps it.
	big := bytes.Repeat([]byte{'z'}, 64<<10)
	var ops []journal.Op
	for i := uint64(2); i < 2+256; i++ {
		ops = append(ops, journal.Op{Function: "f", Kind: journal.Outbox, Seq: i, Value: big})
	}
	require.NoError(t, s.Apply(ops...))
	require.NoError(t, s.Close())
	require.Equal(t, "original", string(again[0].Value))
	require.Equal(t, "Xriginal", string(got[0].Value))
}

func TestJournalOpenTwiceFailsWhileInUse(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Apply(put("f", journal.Events, 1, "a")))

	start := time.Now()
	s2, err := journal.Open(dir)
	if s2 != nil {
		_ = s2.Close()
	}
	require.Error(t, err)
	require.ErrorContains(t, err, "in use")
	require.ErrorContains(t, err, filepath.Join(dir, "async.db"))
	// bolt waits a second for the lock before it gives up.
	require.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond)

	// The first is untouched, and once it is closed the journal opens.
	require.NoError(t, s.Apply(put("f", journal.Events, 2, "b")))
	require.NoError(t, s.Close())
	s3 := open(t, dir)
	require.Equal(t, 2, len(must(s3.Load("f", journal.Events))))
}

func TestJournalOpenCreatesTheDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "state")
	s := open(t, dir)
	require.Equal(t, filepath.Join(dir, "async.db"), s.Path())
	require.FileExists(t, s.Path())
}

func TestJournalOpenFailsOnAFile(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	// A file where the directory should be.
	_, err := journal.Open(s.Path())
	require.Error(t, err)
}

// TestJournalConcurrentApply has many goroutines apply at once, as
// InvokeAsync's callers do: their writes are grouped into shared
// transactions, and every one of them lands.
func TestJournalConcurrentApply(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	const (
		goroutines = 64
		each       = 20
	)
	fns := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	start := make(chan struct{})
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range each {
				seq := uint64(g*each + i + 1)
				fn := fns[int(seq)%len(fns)]
				// An accept, and for even seqs its finish: the event goes
				// and a delivery is queued in the outbox, in one Apply.
				if err := s.Apply(put(fn, journal.Events, seq, fmt.Sprint(seq))); err != nil {
					errs <- err
					continue
				}
				if seq%2 == 0 {
					if err := s.Apply(del(fn, journal.Events, seq), put(fn, journal.Outbox, seq, "out")); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	check := func(s *journal.Store) {
		total := 0
		for _, fn := range fns {
			evs, err := s.Load(fn, journal.Events)
			require.NoError(t, err)
			outs, err := s.Load(fn, journal.Outbox)
			require.NoError(t, err)
			for i, r := range evs {
				require.Equal(t, uint64(1), r.Seq%2, "event %d should have finished", r.Seq)
				require.Equal(t, fmt.Sprint(r.Seq), string(r.Value))
				require.Equal(t, fn, fns[int(r.Seq)%len(fns)])
				if i > 0 {
					require.Greater(t, r.Seq, evs[i-1].Seq)
				}
			}
			for _, r := range outs {
				require.Zero(t, r.Seq%2)
				require.Equal(t, "out", string(r.Value))
			}
			require.Equal(t, len(evs), len(must(s.Load(fn, journal.Events))))
			require.Equal(t, len(outs), len(must(s.Load(fn, journal.Outbox))))
			total += len(evs) + len(outs)
		}
		require.Equal(t, goroutines*each, total)
		var last uint64
		for _, fn := range fns {
			last = max(last, must(s.LastSeq(fn)))
		}
		require.Equal(t, uint64(goroutines*each), last)
	}
	check(s)
	require.NoError(t, s.Close())
	check(open(t, dir))
}
