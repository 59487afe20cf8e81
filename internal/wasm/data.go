package wasm

// secData is the data section's id.
const secData = 11

// dataGap is the longest run of zeros merged into a data segment.
const dataGap = 4096

type dataSegment struct {
	offset uint32
	data   []byte
}

// coalesceData merges consecutive active data segments with constant
// offsets when the gap between them is short and no earlier segment wrote
// into it, filling the gap with the zeros a fresh memory holds there. Go
// emits tens of thousands of small segments, which wazero would otherwise
// copy one by one at every instantiation. It returns nil to keep the
// section as it is: a passive segment or an offset that is not a constant
// (both of which need instructions that name segments, and a data count
// section the caller checks for) leaves it alone.
//
// This is sound because a guest's memory is its own and starts as zeros
// (imported memories are refused), and segments are applied in order:
// a later segment still overwrites a merged one as it did the originals.
func coalesceData(b []byte) []byte {
	r := reader{b: b}
	n := r.count()
	segs := make([]dataSegment, 0, n)
	for i := uint32(0); i < n; i++ {
		if r.u32() != 0 || r.byte() != 0x41 { // active, memory 0, i32.const
			return nil
		}
		off := r.s32()
		if r.byte() != 0x0b { // end
			return nil
		}
		data := r.bytes(int(r.u32()))
		if r.err != nil {
			return nil
		}
		segs = append(segs, dataSegment{uint32(off), data})
	}
	if r.err != nil || r.off != len(b) {
		return nil
	}
	var out []dataSegment
	for _, s := range segs {
		if k := len(out) - 1; k >= 0 {
			last := &out[k]
			end := uint64(last.offset) + uint64(len(last.data))
			start := uint64(s.offset)
			if start >= end && start-end <= dataGap && !writes(out[:k], end, start) {
				last.data = append(last.data, make([]byte, start-end)...)
				last.data = append(last.data, s.data...)
				continue
			}
		}
		out = append(out, dataSegment{s.offset, append([]byte(nil), s.data...)})
	}
	if len(out) == len(segs) {
		return nil
	}
	return encodeData(out)
}

// encodeData encodes segs as a data section of active segments of memory
// 0 at constant offsets.
func encodeData(segs []dataSegment) []byte {
	body := appendU32(nil, uint32(len(segs)))
	for _, s := range segs {
		body = append(body, 0, 0x41) // active, memory 0, i32.const
		body = appendS32(body, int32(s.offset))
		body = append(body, 0x0b) // end
		body = appendU32(body, uint32(len(s.data)))
		body = append(body, s.data...)
	}
	return body
}

// writes reports whether a segment of segs writes within [lo, hi).
func writes(segs []dataSegment, lo, hi uint64) bool {
	for _, s := range segs {
		if uint64(s.offset) < hi && uint64(s.offset)+uint64(len(s.data)) > lo {
			return true
		}
	}
	return false
}

// s32 reads a signed LEB128 32-bit integer.
func (r *reader) s32() int32 {
	var v int64
	var shift uint
	for {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return int32(v)
		}
		if shift >= 35 {
			r.fail(errTruncated)
			return 0
		}
	}
}
