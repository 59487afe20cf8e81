package s3

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// dirWatcher watches a directory-backed bucket's directory for files other
// programs change: each path an event names is looked at again once it has
// been quiet for a while, and compared with what the bucket recorded.
type dirWatcher struct {
	b     *Bucket
	w     *fsnotify.Watcher
	quiet time.Duration
	done  chan struct{}
	ended chan struct{}
	due   map[string]time.Time // the paths to look at, and when; the loop's own
}

func startDirWatcher(b *Bucket, quiet time.Duration) (*dirWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	dw := &dirWatcher{
		b: b, w: w, quiet: quiet,
		done: make(chan struct{}), ended: make(chan struct{}),
		due: map[string]time.Time{},
	}
	if err := dw.addTree(b.dir.root); err != nil {
		_ = w.Close()
		return nil, err
	}
	go dw.loop()
	return dw, nil
}

func (dw *dirWatcher) stop() error {
	close(dw.done)
	<-dw.ended
	return dw.w.Close()
}

// addTree watches dir and the directories under it, but the metadata.
func (dw *dirWatcher) addTree(dir string) error {
	meta := dw.b.dir.meta
	return filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone already
			}
			return err
		}
		if !de.IsDir() {
			return nil
		}
		if p == meta {
			return filepath.SkipDir
		}
		if err := dw.w.Add(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}

func (dw *dirWatcher) loop() {
	defer close(dw.ended)
	tick := time.NewTicker(max(dw.quiet/4, 5*time.Millisecond))
	defer tick.Stop()
	meta := dw.b.dir.meta
	for {
		select {
		case <-dw.done:
			return
		case ev, ok := <-dw.w.Events:
			if !ok {
				return
			}
			p := ev.Name
			if p == meta || strings.HasPrefix(p, meta+string(filepath.Separator)) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
					if err := dw.addTree(p); err != nil {
						dw.b.logf("watching a directory", "path", p, "error", err)
					}
				}
			}
			dw.due[p] = time.Now().Add(dw.quiet)
		case err, ok := <-dw.w.Errors:
			if !ok {
				return
			}
			dw.b.logf("watching the directory", "error", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				dw.due[dw.b.dir.root] = time.Now().Add(dw.quiet)
			}
		case now := <-tick.C:
			// The paths due, in the order of their events, so that the
			// changes keep it.
			var due []string
			for p, t := range dw.due {
				if !t.After(now) {
					due = append(due, p)
				}
			}
			slices.SortFunc(due, func(a, b string) int { return dw.due[a].Compare(dw.due[b]) })
			for _, p := range due {
				delete(dw.due, p)
				for _, a := range dw.b.rescan(p) {
					dw.due[a] = time.Now().Add(dw.quiet)
				}
			}
		}
	}
}

// rescan compares the files at and under p with the bucket's records, and
// records what another program changed, emitting the changes. It returns
// the files that changed while they were read, to look at again.
func (b *Bucket) rescan(p string) (again []string) {
	d := b.dir
	rel, err := filepath.Rel(d.root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil
	}
	rel = filepath.ToSlash(rel)
	var cands []string
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	if rel == "." {
		cands = slices.Clone(b.keys)
	} else {
		key, ok := dirPathKey(rel)
		if !ok {
			b.mu.Unlock()
			return nil
		}
		cands = append([]string{key}, b.keysWithPrefix(key+"/")...)
	}
	// Objects whose files are gone.
	sep := string(filepath.Separator)
	for _, key := range cands {
		e := b.objects[key]
		if e == nil || e.live() == nil {
			continue
		}
		v := e.live()
		if v.path != p && !strings.HasPrefix(v.path, p+sep) && rel != "." {
			continue
		}
		if _, err := os.Lstat(v.path); errors.Is(err, fs.ErrNotExist) {
			b.externalDelete(key, e)
		}
	}
	b.mu.Unlock()

	// Files new or changed.
	_ = filepath.WalkDir(p, func(f string, de fs.DirEntry, err error) error {
		if err != nil {
			return nil //nolint:nilerr // gone already: nothing to record
		}
		if f == d.meta {
			return filepath.SkipDir
		}
		if !de.Type().IsRegular() {
			return nil
		}
		if !b.rescanFile(f) {
			again = append(again, f)
		}
		return nil
	})
	return again
}

// rescanFile records the file f if another program created or changed it.
// It returns false when f changed while it was read.
func (b *Bucket) rescanFile(f string) bool {
	d := b.dir
	rel, err := filepath.Rel(d.root, f)
	if err != nil {
		return true
	}
	key, ok := dirPathKey(filepath.ToSlash(rel))
	if !ok || b.checkKey(key) != nil {
		return true
	}
	fi, err := os.Lstat(f)
	if err != nil {
		return true
	}
	b.mu.Lock()
	e := b.objects[key]
	same := e != nil && e.live() != nil && e.live().path == f && e.live().stamp == stampOf(fi)
	b.mu.Unlock()
	if same || d.locate(key) != f {
		return true
	}
	v, err := b.externalVersion(f)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			b.logf("reading a file", "path", f, "error", err)
		}
		return true
	}
	if v == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return true
	}
	if fi, err := os.Lstat(f); err != nil || stampOf(fi) != v.stamp {
		return err != nil
	}
	e = b.entry(key)
	if cur := e.live(); cur != nil && cur.stamp == v.stamp && cur.path == f {
		return true // recorded meanwhile
	}
	b.externalPut(key, e, v)
	return true
}

// externalPut records v, a file another program wrote, as key's current
// version, and emits ObjectCreated:Put. The version it overwrote is gone
// for good, its bytes with it. b.mu is held.
func (b *Bucket) externalPut(key string, e *objEntry, v *objVersion) {
	if cur := e.live(); cur != nil && (cur.path == v.path || !b.versioned) {
		e.versions = e.versions[:len(e.versions)-1]
	}
	if !b.versioned {
		e.versions = e.versions[:0]
	}
	e.versions = append(e.versions, v)
	b.setLive(key)
	b.change(ObjectCreatedPut, key, v, time.Now().UTC())
	b.saveMeta(key, e)
}

// externalDelete records that another program removed the file of key's
// current version, and emits ObjectRemoved:Delete: the version is gone for
// good, and in a versioned bucket the one before it, if an object, is
// current again. b.mu is held.
func (b *Bucket) externalDelete(key string, e *objEntry) {
	i := len(e.versions) - 1
	v := e.versions[i]
	if err := b.dirDeleteVersion(key, e, i); err != nil {
		b.logf("restoring a version", "key", key, "error", err)
	}
	e.versions = slices.Delete(e.versions, i, i+1)
	if !b.versioned {
		v = nil
	}
	b.setLive(key)
	b.change(ObjectRemovedDelete, key, v, time.Now().UTC())
	b.saveMeta(key, e)
}
