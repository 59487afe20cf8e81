package s3

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The directory-backed bucket's reserved names: see Bucket.
const (
	dirMetaName = "%s3" // Dir's metadata directory
	dirSelfName = "%%"  // an object whose key is also a prefix, in its directory
	dirNameMax  = 255   // a file name's longest, in bytes
)

// bucketDir is the directory of a directory-backed bucket.
type bucketDir struct {
	root string // absolute
	meta string // root/%s3
}

// dirBucketFile is what a directory-backed bucket records of itself.
type dirBucketFile struct {
	Versioning bool
}

// dirMeta is what a directory-backed bucket records of a key, in
// %s3/keys/<sha256 of the key>.json.
type dirMeta struct {
	Key      string
	Versions []dirMetaVersion // oldest first
}

type dirMetaVersion struct {
	ID           string    `json:",omitempty"`
	ETag         string    `json:",omitempty"`
	Size         int64     `json:",omitempty"`
	Modified     time.Time `json:""`
	DeleteMarker bool      `json:",omitempty"`
	// Stamp is the current version's file as it was recorded: a file
	// found otherwise was changed by another program.
	Stamp *fileStamp `json:",omitempty"`
}

// fileStamp tells whether a file is still the one recorded.
type fileStamp struct {
	Size    int64
	ModTime int64 // nanoseconds
	Dev     uint64
	Ino     uint64
}

func stampOf(fi fs.FileInfo) fileStamp {
	s := fileStamp{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}
	s.Dev, s.Ino = fileID(fi)
	return s
}

func openBucketDir(dir string, versioning bool) (*bucketDir, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("s3: bucket directory: %w", err)
	}
	d := &bucketDir{root: root, meta: filepath.Join(root, dirMetaName)}
	for _, sub := range []string{"tmp", "keys", "versions", "reloc"} {
		if err := os.MkdirAll(filepath.Join(d.meta, sub), 0o755); err != nil {
			return nil, fmt.Errorf("s3: bucket directory: %w", err)
		}
	}
	// What a crash left in tmp was never committed.
	tmps, err := os.ReadDir(filepath.Join(d.meta, "tmp"))
	if err != nil {
		return nil, fmt.Errorf("s3: bucket directory: %w", err)
	}
	for _, t := range tmps {
		_ = os.RemoveAll(filepath.Join(d.meta, "tmp", t.Name()))
	}
	bf := filepath.Join(d.meta, "bucket.json")
	raw, err := os.ReadFile(bf)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		raw, _ = json.Marshal(dirBucketFile{Versioning: versioning})
		if err := writeFileAtomic(d, bf, raw); err != nil {
			return nil, fmt.Errorf("s3: bucket directory: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("s3: bucket directory: %w", err)
	default:
		var f dirBucketFile
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("s3: bucket directory: %s: %w", bf, err)
		}
		if f.Versioning != versioning {
			return nil, fmt.Errorf("s3: bucket directory %s has versioning %v, not %v", root, f.Versioning, versioning)
		}
	}
	return d, nil
}

// dirSegmentEscaped is whether a key's segment is stored escaped.
func dirSegmentEscaped(s string) bool {
	return s == "" || s == "." || s == ".." || strings.ContainsRune(s, 0) || s[0] == '%'
}

func dirEncodeSegment(s string) string {
	if dirSegmentEscaped(s) {
		return "%" + hex.EncodeToString([]byte(s))
	}
	return s
}

// dirDecodeName returns the key segment a file name stores, and false for
// a name that stores none.
func dirDecodeName(n string) (string, bool) {
	if n == "" || n[0] != '%' {
		return n, n != ""
	}
	h := n[1:]
	if strings.ToLower(h) != h {
		return "", false
	}
	b, err := hex.DecodeString(h)
	if err != nil || !dirSegmentEscaped(string(b)) {
		return "", false
	}
	return string(b), true
}

// dirKeyPath is key's path, relative to Dir and slash-separated, before
// dirSelfName: see Bucket.
func dirKeyPath(key string) (string, error) {
	if len(key) > MaxKeyLength {
		// Refused before this by every caller; refused here too, so that
		// every path given out reads back as its key (dirPathKey).
		return "", fmt.Errorf("%w: a key is at most %d bytes, not %d", ErrInvalidKey, MaxKeyLength, len(key))
	}
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = dirEncodeSegment(s)
		if len(segs[i]) > dirNameMax {
			return "", fmt.Errorf("%w: %q: a directory-backed bucket holds key segments of up to %d bytes", ErrInvalidKey, key, dirNameMax)
		}
	}
	return strings.Join(segs, "/"), nil
}

// dirPathKey is the key a file stores, from its slash-separated path
// relative to Dir, and false for a file that stores none.
func dirPathKey(rel string) (string, bool) {
	segs := strings.Split(rel, "/")
	if len(segs) > 1 && segs[len(segs)-1] == dirSelfName {
		segs = segs[:len(segs)-1]
	}
	for i, n := range segs {
		s, ok := dirDecodeName(n)
		if !ok {
			return "", false
		}
		segs[i] = s
	}
	key := strings.Join(segs, "/")
	return key, len(key) <= MaxKeyLength
}

func dirKeyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

func (d *bucketDir) metaPath(key string) string {
	return filepath.Join(d.meta, "keys", dirKeyHash(key)+".json")
}

func (d *bucketDir) versionPath(key, id string) string {
	return filepath.Join(d.meta, "versions", dirKeyHash(key), id)
}

func (d *bucketDir) relocPath(key string) string {
	return filepath.Join(d.meta, "reloc", dirKeyHash(key))
}

// natural is key's file path before dirSelfName.
func (d *bucketDir) natural(key string) string {
	rel, _ := dirKeyPath(key)
	return filepath.Join(d.root, filepath.FromSlash(rel))
}

// locate is where key's current version is, or would be now: its natural
// path, or dirSelfName in it when that is a directory.
func (d *bucketDir) locate(key string) string {
	p := d.natural(key)
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		return filepath.Join(p, dirSelfName)
	}
	return p
}

// tmpFile is a file being staged.
type tmpFile interface {
	io.Writer
	Name() string
	Sync() error
	Close() error
}

func (d *bucketDir) createTemp() (tmpFile, error) {
	return os.CreateTemp(filepath.Join(d.meta, "tmp"), "put-")
}

func (d *bucketDir) open(v *objVersion) (*os.File, error) {
	f, err := os.Open(v.path)
	if err != nil {
		return nil, fmt.Errorf("s3: reading an object: %w", err)
	}
	return f, nil
}

func removeFile(name string) error { return os.Remove(name) }

// writeFileAtomic writes name through a synced temporary file renamed
// over it.
func writeFileAtomic(d *bucketDir, name string, data []byte) error {
	f, err := d.createTemp()
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// place makes the directories of key's path, moving an object whose key
// is one of them aside into it as dirSelfName, and returns where key's
// current version goes. b.mu is held.
func (b *Bucket) place(key string) (string, error) {
	d := b.dir
	rel, err := dirKeyPath(key)
	if err != nil {
		return "", err
	}
	segs := strings.Split(rel, "/")
	cur := d.root
	for i, s := range segs[:len(segs)-1] {
		cur = filepath.Join(cur, s)
		fi, err := os.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return "", fmt.Errorf("s3: storing %q: %w", key, err)
			}
		case err != nil:
			return "", fmt.Errorf("s3: storing %q: %w", key, err)
		case fi.IsDir():
		case fi.Mode().IsRegular():
			// The object whose key is this prefix moves into it.
			k2, _ := dirPathKey(strings.Join(segs[:i+1], "/"))
			if err := b.relocate(k2, cur); err != nil {
				return "", fmt.Errorf("s3: storing %q: %w", key, err)
			}
		default:
			return "", fmt.Errorf("s3: storing %q: %s is neither a file nor a directory", key, cur)
		}
	}
	return d.locate(key), nil
}

// relocate moves the file p, key's current version, to p/%%. b.mu is held.
func (b *Bucket) relocate(key, p string) error {
	tmp := b.dir.relocPath(key)
	if err := os.Rename(p, tmp); err != nil {
		return err
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		_ = os.Rename(tmp, p)
		return err
	}
	to := filepath.Join(p, dirSelfName)
	if err := os.Rename(tmp, to); err != nil {
		return err // loadDir restores it
	}
	if e := b.objects[key]; e != nil {
		if v := e.live(); v != nil && v.path == p {
			v.path = to
		}
	}
	return nil
}

// moveInto moves the file from to key's current place. b.mu is held.
func (b *Bucket) moveInto(key, from string, v *objVersion) error {
	to, err := b.place(key)
	if err != nil {
		return err
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("s3: storing %q: %w", key, err)
	}
	fi, err := os.Lstat(to)
	if err != nil {
		return fmt.Errorf("s3: storing %q: %w", key, err)
	}
	v.path, v.stamp = to, stampOf(fi)
	return nil
}

// dirCommit stores st as v, key's new current version. b.mu is held.
func (b *Bucket) dirCommit(key string, e *objEntry, v *objVersion, st *staged) error {
	if cur := e.live(); cur != nil && b.versioned {
		if err := b.dirRetire(key, cur); err != nil {
			return err
		}
	}
	if err := b.moveInto(key, st.tmp, v); err != nil {
		return err
	}
	st.tmp = ""
	return nil
}

// dirRetire moves v, key's current version, among the earlier versions.
// b.mu is held.
func (b *Bucket) dirRetire(key string, v *objVersion) error {
	to := b.dir.versionPath(key, v.id)
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return fmt.Errorf("s3: keeping a version of %q: %w", key, err)
	}
	if err := os.Rename(v.path, to); err != nil {
		return fmt.Errorf("s3: keeping a version of %q: %w", key, err)
	}
	b.dir.prune(filepath.Dir(v.path))
	v.path = to
	return nil
}

// dirRemove removes v's file. b.mu is held.
func (b *Bucket) dirRemove(v *objVersion) error {
	if err := os.Remove(v.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("s3: deleting an object: %w", err)
	}
	b.dir.prune(filepath.Dir(v.path))
	return nil
}

// dirDeleteVersion removes the file of e's version i, and when it is the
// latest, puts the one before it, an object, in its place. b.mu is held.
func (b *Bucket) dirDeleteVersion(key string, e *objEntry, i int) error {
	v := e.versions[i]
	if !v.deleteMarker {
		if err := b.dirRemove(v); err != nil {
			return err
		}
	}
	if i == len(e.versions)-1 && i > 0 {
		if prev := e.versions[i-1]; !prev.deleteMarker {
			if err := b.moveInto(key, prev.path, prev); err != nil {
				return err
			}
		}
	}
	return nil
}

// prune removes dir and its parents up to Dir's root while they are
// empty.
func (d *bucketDir) prune(dir string) {
	stop := filepath.Join(d.meta, "versions")
	for dir != d.root && dir != stop && strings.HasPrefix(dir, d.root+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// saveMeta records key's versions. A failure is logged: the bytes are in
// place, and a metadata out of date is found again, from the file, when
// the bucket is opened. b.mu is held.
func (b *Bucket) saveMeta(key string, e *objEntry) {
	if b.dir == nil {
		return
	}
	mp := b.dir.metaPath(key)
	if e == nil || len(e.versions) == 0 {
		if err := os.Remove(mp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.logf("removing metadata", "key", key, "error", err)
		}
		return
	}
	m := dirMeta{Key: key}
	for _, v := range e.versions {
		mv := dirMetaVersion{ID: v.id, ETag: v.etag, Size: v.size, Modified: v.modified, DeleteMarker: v.deleteMarker}
		if v == e.live() {
			s := v.stamp
			mv.Stamp = &s
		}
		m.Versions = append(m.Versions, mv)
	}
	raw, err := json.Marshal(m)
	if err == nil {
		err = writeFileAtomic(b.dir, mp, raw)
	}
	if err != nil {
		b.logf("writing metadata", "key", key, "error", err)
	}
}

func (b *Bucket) logf(msg string, args ...any) {
	if b.logger != nil {
		b.logger.Warn("s3: bucket: "+msg, append([]any{"bucket", b.name}, args...)...)
	}
}

// externalVersion records the file p, found in Dir, as a version of key:
// its ETag is its MD5. It returns nil when p changed while it was read.
func (b *Bucket) externalVersion(p string) (*objVersion, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h := newHashWriter()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, err
	}
	after, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	st := stampOf(after)
	if st != stampOf(before) || n != st.Size {
		return nil, nil
	}
	v := &objVersion{etag: hex.EncodeToString(h.Sum(nil)), size: n, modified: after.ModTime().UTC(), path: p, stamp: st}
	if b.versioned {
		v.id = newVersionID()
	}
	return v, nil
}

// loadDir reads a directory-backed bucket's objects: its metadata, checked
// against the files, and the files it has none of.
func (b *Bucket) loadDir() error {
	d := b.dir
	metas, err := os.ReadDir(filepath.Join(d.meta, "keys"))
	if err != nil {
		return fmt.Errorf("s3: bucket directory: %w", err)
	}
	seen := map[string]bool{}
	for _, me := range metas {
		mp := filepath.Join(d.meta, "keys", me.Name())
		raw, err := os.ReadFile(mp)
		if err != nil {
			return fmt.Errorf("s3: bucket directory: %w", err)
		}
		var m dirMeta
		if err := json.Unmarshal(raw, &m); err != nil || b.checkKey(m.Key) != nil || d.metaPath(m.Key) != mp {
			b.logf("ignoring damaged metadata", "file", mp, "error", err)
			continue
		}
		e := b.entry(m.Key)
		for i, mv := range m.Versions {
			v := &objVersion{id: mv.ID, etag: mv.ETag, size: mv.Size, modified: mv.Modified, deleteMarker: mv.DeleteMarker}
			if v.deleteMarker {
				e.versions = append(e.versions, v)
				continue
			}
			if i < len(m.Versions)-1 {
				v.path = d.versionPath(m.Key, v.id)
				if _, err := os.Lstat(v.path); err == nil {
					e.versions = append(e.versions, v)
				}
				continue
			}
			// The current version: restore it if a crash left it aside.
			if _, err := os.Lstat(d.relocPath(m.Key)); err == nil {
				if _, err := os.Lstat(d.locate(m.Key)); errors.Is(err, fs.ErrNotExist) {
					if err := b.moveInto(m.Key, d.relocPath(m.Key), v); err != nil {
						return err
					}
				}
			}
			v.path = d.locate(m.Key)
			fi, err := os.Lstat(v.path)
			if err != nil || !fi.Mode().IsRegular() {
				continue // removed while the bucket was closed
			}
			seen[v.path] = true
			if mv.Stamp == nil || *mv.Stamp != stampOf(fi) {
				nv, err := b.externalVersion(v.path)
				if err != nil || nv == nil {
					return fmt.Errorf("s3: bucket directory: reading %s: %v", v.path, err)
				}
				v = nv
			} else {
				v.stamp = *mv.Stamp
			}
			e.versions = append(e.versions, v)
		}
		// A current version removed while the bucket was closed leaves
		// the one before it current: it goes in its place.
		if l := e.live(); l != nil && strings.HasPrefix(l.path, filepath.Join(d.meta, "versions")+string(filepath.Separator)) {
			if err := b.moveInto(m.Key, l.path, l); err != nil {
				return err
			}
			seen[l.path] = true
		}
	}
	err = filepath.WalkDir(d.root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == d.meta {
			return filepath.SkipDir
		}
		if !de.Type().IsRegular() || seen[p] {
			return nil
		}
		rel, _ := filepath.Rel(d.root, p)
		key, ok := dirPathKey(filepath.ToSlash(rel))
		if !ok || d.locate(key) != p {
			return nil
		}
		v, err := b.externalVersion(p)
		if err != nil || v == nil {
			return fmt.Errorf("reading %s: %v", p, err)
		}
		e := b.entry(key)
		if cur := e.live(); cur != nil {
			return nil
		}
		e.versions = append(e.versions, v)
		return nil
	})
	if err != nil {
		return fmt.Errorf("s3: bucket directory: %w", err)
	}
	for key, e := range b.objects {
		b.saveMeta(key, e)
		if len(e.versions) == 0 {
			delete(b.objects, key)
			continue
		}
		if e.live() != nil {
			b.keys = append(b.keys, key)
		}
		if l := e.latest(); l != nil {
			b.seq = max(b.seq, uint64(l.modified.UnixNano()))
		}
	}
	slices.Sort(b.keys)
	return nil
}
