package wasm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// The on-disk cache of rewritten modules.
//
// A runtime given a cache directory keeps, beside wazero's compiled code, the
// output of instrument for each module it deploys, so that a later process
// deploying the same code reads the rewrite instead of redoing it, and then
// pays only wazero's own cached compile. An entry is the file
//
//	<dir>/rewrite/<CRC-32C><CRC-32>-<length>-<rewriterVersion>.rw
//
// named by two checksums (Castagnoli's and IEEE's) and the length of the
// original module, and holds a header and the rewritten module:
//
//	"wlrewrt\x00" | SHA-256 of the original (32 bytes) | rewriterVersion (u32 LE)
//	| CRC-32C of the rewritten module (u32 LE) | the rewritten module
//
// An entry is used only when the SHA-256 in its header is the original's:
// the name is cheap to compute, so the entry is read while the SHA-256 of
// the original is computed beside it, but it does not identify a module.
// Two modules whose names collide take turns in the one file; neither ever
// gets the other's rewrite. The checksum of the rewritten module catches a
// file cut short or damaged; such a file is ignored and written again. It
// does not stand against someone who can write the directory on purpose:
// they could as well change wazero's compiled machine code beside it, which
// wazero loads as it finds it, so the directory must be as trusted as the
// process.
//
// Entries are written to a temporary file and renamed into place, so a
// reader sees a whole entry or none, even with several processes at once.
// A failure to read or write the cache only costs the rewrite; it never
// fails a deploy. Nothing removes old entries, as wazero removes none of its
// own.

// rewriteMagic starts every entry.
const rewriteMagic = "wlrewrt\x00"

// rewriteHeaderSize is the size of an entry's header.
const rewriteHeaderSize = len(rewriteMagic) + sha256.Size + 4 + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// rewriteStore is the on-disk cache of rewritten modules under one
// directory. A nil *rewriteStore caches nothing.
type rewriteStore struct {
	dir string
}

func newRewriteStore(cacheDir string) *rewriteStore {
	if cacheDir == "" {
		return nil
	}
	return &rewriteStore{dir: filepath.Join(cacheDir, "rewrite")}
}

// entryName is what names the entry of a module: its two checksums and
// its length.
type entryName struct {
	castagnoli, ieee uint32
	size             int64
}

// nameOf is the entryName of the module code.
func nameOf(code []byte) entryName {
	return entryName{crc32.Checksum(code, castagnoli), crc32.ChecksumIEEE(code), int64(len(code))}
}

// path is the file of the entry for the module code.
func (s *rewriteStore) path(code []byte) string { return s.pathOf(nameOf(code)) }

// pathOf is the file of the entry named n.
func (s *rewriteStore) pathOf(n entryName) string {
	return filepath.Join(s.dir, fmt.Sprintf("%08x%08x-%d-%d.rw",
		n.castagnoli, n.ieee, n.size, rewriterVersion))
}

// header returns an entry's header for the original's key and the
// rewritten module out.
func rewriteHeader(key [sha256.Size]byte, out []byte) []byte {
	h := make([]byte, 0, rewriteHeaderSize)
	h = append(h, rewriteMagic...)
	h = append(h, key[:]...)
	h = binary.LittleEndian.AppendUint32(h, rewriterVersion)
	return binary.LittleEndian.AppendUint32(h, crc32.Checksum(out, castagnoli))
}

// load returns the sound entry the cache holds under the name of the module
// code, if any: the SHA-256 its header names, which the caller must compare
// with the module's own, and the rewrite.
func (s *rewriteStore) load(code []byte) (key [sha256.Size]byte, out []byte, ok bool) {
	if s == nil {
		return key, nil, false
	}
	return s.loadNamed(nameOf(code))
}

// loadNamed is load for the module whose entry is named n.
func (s *rewriteStore) loadNamed(n entryName) (key [sha256.Size]byte, out []byte, ok bool) {
	b, err := os.ReadFile(s.pathOf(n))
	if err != nil || len(b) < rewriteHeaderSize {
		return key, nil, false
	}
	copy(key[:], b[len(rewriteMagic):])
	out = b[rewriteHeaderSize:]
	if !bytes.Equal(b[:rewriteHeaderSize], rewriteHeader(key, out)) {
		return key, nil, false
	}
	return key, out[:len(out):len(out)], true
}

// put stores out, the rewrite of the module code, whose SHA-256 is key. It
// reports whether it did.
func (s *rewriteStore) put(code []byte, key [sha256.Size]byte, out []byte) bool {
	if s == nil {
		return false
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return false
	}
	f, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return false
	}
	_, err = f.Write(rewriteHeader(key, out))
	if err == nil {
		_, err = f.Write(out)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), s.path(code))
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return false
	}
	return true
}
