package vfs

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// rawKind tells what a rawNode is.
type rawKind uint8

const (
	rawDir rawKind = iota
	rawFile
	rawLink
)

// rawNode is an entry of a tree being loaded, before its symlinks are
// resolved. Each rawNode has exactly one path: its real location.
type rawNode struct {
	kind     rawKind
	data     []byte      // rawFile
	mode     fs.FileMode // rawFile: the source's permission bits
	modTime  time.Time
	children map[string]*rawNode // rawDir

	// rawLink: the slash-separated target. rooted means it is relative to
	// the tree's root (a FromDir absolute target inside the directory);
	// outside means it is an absolute path that cannot be inside the tree.
	target  string
	rooted  bool
	outside bool
}

// builder accumulates a raw tree under Limits.
type builder struct {
	lim     Limits
	read    int64 // bytes of files read so far
	entries int64
	root    *rawNode
}

func newBuilder(lim Limits) *builder {
	return &builder{lim: lim, root: &rawNode{kind: rawDir, children: map[string]*rawNode{}}}
}

// maxPrealloc bounds the buffer reserved ahead of reading a zip entry from
// the size its header declares when there is no limit to bound it.
const maxPrealloc = 1 << 20

// readAll reads r for the file name, stopping with ErrTooLarge as soon as the
// bytes read so far pass the limit. hint is the expected size: reserving
// hint+1 bytes lets a file of that size be read without growing the buffer
// (the reservation is bounded by the limit). The result's capacity is close
// to its length, as trees keep their files' data.
func (b *builder) readAll(name string, r io.Reader, hint int64) ([]byte, error) {
	remaining := int64(-1)
	if b.lim.MaxBytes > 0 {
		remaining = b.lim.MaxBytes - b.read
		r = io.LimitReader(r, remaining+1)
	}
	size := max(hint, 0) + 1
	if remaining >= 0 {
		size = min(size, remaining+1)
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	n := int64(len(buf))
	if remaining >= 0 && n > remaining {
		return nil, fmt.Errorf("%w: %s: over the limit of %d bytes", ErrTooLarge, name, b.lim.MaxBytes)
	}
	b.read += n
	if cap(buf)-len(buf) > len(buf)/8+512 {
		buf = bytes.Clone(buf) // drop the slack of a wrong hint
	}
	return buf, nil
}

// count counts one more entry, refusing too many.
func (b *builder) count() error {
	b.entries++
	if b.entries > maxEntries {
		return fmt.Errorf("%w: more than %d files and directories", ErrTooLarge, maxEntries)
	}
	return nil
}

// finish resolves and materializes the raw tree's symlinks and checks the
// result against the limits.
func (b *builder) finish() (*Tree, error) {
	m := &materializer{root: b.root, dirs: map[*rawNode]*node{}, files: map[*rawNode]*node{}, active: map[*rawNode]bool{}}
	root, err := m.dir(b.root, nil)
	if err != nil {
		return nil, err
	}
	if err := checkLimits(root, b.lim); err != nil {
		return nil, err
	}
	return newTree(root), nil
}

// FromDir copies the contents of the directory dir into a Tree. A symlink
// inside is followed and its target copied (materialized) if it resolves
// inside dir, relative ones from the link's directory and absolute ones if
// they name a path inside dir; one that resolves outside (absolute or via
// ".."), dangles, or loops is refused with an error naming the link's path
// relative to dir and its target, wrapping ErrUnsafePath. Other special files
// (devices, sockets, fifos) are refused. Modification times are copied.
func FromDir(dir string, lim Limits) (*Tree, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("vfs: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("vfs: %w", err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("vfs: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("vfs: %s is not a directory", dir)
	}
	b := newBuilder(lim)
	b.root.modTime = fi.ModTime()
	d := &dirLoader{b: b, abs: abs, real: real}
	if err := d.load(real, "", b.root); err != nil {
		return nil, err
	}
	return b.finish()
}

// dirLoader reads a host directory into a raw tree.
type dirLoader struct {
	b    *builder
	abs  string // the directory, absolute
	real string // the directory, absolute with symlinks resolved
}

// load reads the host directory hostDir, at the slash path rel of the tree,
// into the raw directory into.
func (d *dirLoader) load(hostDir, rel string, into *rawNode) error {
	entries, err := os.ReadDir(hostDir)
	if err != nil {
		return fmt.Errorf("vfs: %w", err)
	}
	for _, e := range entries {
		if err := d.b.count(); err != nil {
			return err
		}
		name := e.Name()
		host := filepath.Join(hostDir, name)
		p := path.Join(rel, name)
		fi, err := os.Lstat(host)
		if err != nil {
			return fmt.Errorf("vfs: %w", err)
		}
		var n *rawNode
		switch mode := fi.Mode(); {
		case mode.IsDir():
			n = &rawNode{kind: rawDir, modTime: fi.ModTime(), children: map[string]*rawNode{}}
			if err := d.load(host, p, n); err != nil {
				return err
			}
		case mode.IsRegular():
			data, err := d.readFile(host, p, fi.Size())
			if err != nil {
				return err
			}
			n = &rawNode{kind: rawFile, data: data, mode: mode.Perm(), modTime: fi.ModTime()}
		case mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(host)
			if err != nil {
				return fmt.Errorf("vfs: %w", err)
			}
			n = d.link(target)
		default:
			return fmt.Errorf("vfs: %s: unsupported file type %v (only regular files, directories and symlinks)", p, mode.Type())
		}
		into.children[name] = n
	}
	return nil
}

func (d *dirLoader) readFile(host, rel string, size int64) ([]byte, error) {
	f, err := os.Open(host)
	if err != nil {
		return nil, fmt.Errorf("vfs: %w", err)
	}
	defer f.Close()
	data, err := d.b.readAll(rel, f, size)
	if err != nil && !errors.Is(err, ErrTooLarge) {
		err = fmt.Errorf("vfs: reading %s: %w", rel, err)
	}
	return data, err
}

// link makes the raw symlink to the host target, turning an absolute target
// that names a path inside the directory into a rooted one.
func (d *dirLoader) link(target string) *rawNode {
	n := &rawNode{kind: rawLink, target: filepath.ToSlash(target)}
	if !filepath.IsAbs(target) {
		return n
	}
	clean := filepath.Clean(target)
	for _, base := range []string{d.real, d.abs} {
		if rel, ok := inside(base, clean); ok {
			n.target, n.rooted = filepath.ToSlash(rel), true
			return n
		}
	}
	n.outside = true
	return n
}

// inside returns p relative to base if p is base or below it; both are
// clean absolute host paths.
func inside(base, p string) (string, bool) {
	if p == base {
		return ".", true
	}
	prefix := base
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	if !strings.HasPrefix(p, prefix) {
		return "", false
	}
	return p[len(prefix):], true
}

// FromFS copies the fs.FS fsys into a Tree, walking it with fs.WalkDir.
// fs.FS has no symlinks to follow: an entry with fs.ModeSymlink is refused
// with an error wrapping ErrUnsafePath, and other special files are refused.
// Modification times are not copied (they are the zero time).
func FromFS(fsys fs.FS, lim Limits) (*Tree, error) {
	b := newBuilder(lim)
	dirs := map[string]*rawNode{".": b.root}
	err := fs.WalkDir(fsys, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("vfs: %w", err)
		}
		if p == "." {
			if !e.IsDir() {
				return fmt.Errorf("vfs: the root of the fs.FS is not a directory")
			}
			return nil
		}
		if err := b.count(); err != nil {
			return err
		}
		parent := dirs[path.Dir(p)]
		name := path.Base(p)
		switch t := e.Type(); {
		case t.IsDir():
			n := &rawNode{kind: rawDir, children: map[string]*rawNode{}}
			parent.children[name] = n
			dirs[p] = n
		case t&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %s is a symlink, which an fs.FS cannot follow", ErrUnsafePath, p)
		case t.IsRegular():
			fi, err := e.Info()
			if err != nil {
				return fmt.Errorf("vfs: %w", err)
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("vfs: %s: unsupported file type %v", p, fi.Mode().Type())
			}
			f, err := fsys.Open(p)
			if err != nil {
				return fmt.Errorf("vfs: %w", err)
			}
			data, err := b.readAll(p, f, fi.Size())
			f.Close()
			if err != nil {
				if !errors.Is(err, ErrTooLarge) {
					err = fmt.Errorf("vfs: reading %s: %w", p, err)
				}
				return err
			}
			parent.children[name] = &rawNode{kind: rawFile, data: data, mode: fi.Mode().Perm()}
		default:
			return fmt.Errorf("vfs: %s: unsupported file type %v (only regular files and directories)", p, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b.finish()
}

// maxLinkTarget bounds the content of a zip symlink entry.
const maxLinkTarget = 4096

// FromZip reads the zip archive r of size bytes into a Tree. Each entry's
// name is checked before its content is read: an absolute name ("/x"), a ".." component,
// a backslash, a drive letter ("C:"), an empty or "." name or component is
// refused, naming the entry, with an error wrapping ErrUnsafePath. Directory
// entries (a trailing "/") make directories, and parents are implied.
// Symlink entries (mode with fs.ModeSymlink, the content being the target)
// are resolved within the tree once all entries are read and materialized;
// one that resolves outside the tree, dangles or loops is refused like
// FromDir's. A file and a directory at the same path, or a file entry twice,
// is refused. Files are decompressed under lim, whatever sizes their headers
// claim. Modification times are the entries' (zip Modified); implied
// directories have the zero time.
func FromZip(r io.ReaderAt, size int64, lim Limits) (*Tree, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !(errors.Is(err, zip.ErrInsecurePath) && zr != nil) {
		// ErrInsecurePath (GODEBUG=zipinsecurepath=0) comes with a usable
		// reader: the names are checked below, more strictly.
		return nil, fmt.Errorf("vfs: reading zip: %w", err)
	}
	b := newBuilder(lim)
	for _, f := range zr.File {
		if err := b.count(); err != nil {
			return nil, err
		}
		if err := b.addZipEntry(f); err != nil {
			return nil, err
		}
	}
	return b.finish()
}

// zipEntryName checks a zip entry name and returns its path and whether it
// names a directory.
func zipEntryName(name string) (string, bool, error) {
	refuse := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("%w: zip entry %q: %s", ErrUnsafePath, name, why)
	}
	switch {
	case name == "" || name == "/":
		return refuse("empty name")
	case strings.Contains(name, `\`):
		return refuse("backslash in the name")
	case strings.HasPrefix(name, "/"):
		return refuse("absolute path")
	case len(name) >= 2 && name[1] == ':' && isLetter(name[0]):
		return refuse("drive letter")
	case strings.ContainsRune(name, 0):
		return refuse("NUL in the name")
	}
	p, isDir := strings.CutSuffix(name, "/")
	for _, elem := range strings.Split(p, "/") {
		switch elem {
		case "..":
			return refuse(`".." component`)
		case ".":
			return refuse(`"." component`)
		case "":
			return refuse("empty component")
		}
	}
	if !fs.ValidPath(p) {
		return refuse("invalid path")
	}
	return p, isDir, nil
}

func isLetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// addZipEntry reads one entry into the raw tree.
func (b *builder) addZipEntry(f *zip.File) error {
	p, isDir, err := zipEntryName(f.Name)
	if err != nil {
		return err
	}
	mode := f.Mode()
	isDir = isDir || mode.IsDir()
	var n *rawNode
	switch {
	case isDir:
		n = &rawNode{kind: rawDir, modTime: f.Modified, children: map[string]*rawNode{}}
	case mode&fs.ModeSymlink != 0:
		target, err := readZipEntry(f, func(rc io.Reader) ([]byte, error) { return io.ReadAll(io.LimitReader(rc, maxLinkTarget+1)) })
		if err != nil {
			return err
		}
		if len(target) > maxLinkTarget {
			return fmt.Errorf("vfs: zip entry %q: symlink target longer than %d bytes", f.Name, maxLinkTarget)
		}
		n = &rawNode{kind: rawLink, target: string(target), modTime: f.Modified}
		if n.target == "" || strings.ContainsRune(n.target, 0) {
			return fmt.Errorf("%w: zip entry %q: symlink to %q: invalid target", ErrUnsafePath, f.Name, n.target)
		}
		n.outside = strings.HasPrefix(n.target, "/") || strings.Contains(n.target, `\`) ||
			len(n.target) >= 2 && n.target[1] == ':' && isLetter(n.target[0])
	case mode.Type() == 0:
		data, err := readZipEntry(f, func(rc io.Reader) ([]byte, error) {
			// The declared size is checked as the entry is read (archive/zip
			// fails on more or fewer bytes), and trusted for reserving memory
			// only as far as the limit goes.
			hint := int64(min(f.UncompressedSize64, 1<<62))
			if b.lim.MaxBytes <= 0 {
				hint = min(hint, maxPrealloc)
			}
			return b.readAll(f.Name, rc, hint)
		})
		if err != nil {
			return err
		}
		n = &rawNode{kind: rawFile, data: data, mode: mode.Perm(), modTime: f.Modified}
	default:
		return fmt.Errorf("vfs: zip entry %q: unsupported file type %v (only regular files, directories and symlinks)", f.Name, mode.Type())
	}
	return b.place(f.Name, p, n)
}

// readZipEntry opens the entry f and reads it with read.
func readZipEntry(f *zip.File, read func(io.Reader) ([]byte, error)) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("vfs: reading zip entry %q: %w", f.Name, err)
	}
	defer rc.Close()
	data, err := read(rc)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, err
		}
		return nil, fmt.Errorf("vfs: reading zip entry %q: %w", f.Name, err)
	}
	return data, nil
}

// place puts the raw node n at the path p, implying its parents and refusing
// conflicts with what is there.
func (b *builder) place(entry, p string, n *rawNode) error {
	elems := strings.Split(p, "/")
	dir := b.root
	for i, elem := range elems[:len(elems)-1] {
		c := dir.children[elem]
		if c == nil {
			c = &rawNode{kind: rawDir, children: map[string]*rawNode{}}
			dir.children[elem] = c
		} else if c.kind != rawDir {
			return fmt.Errorf("vfs: zip entry %q: %s is both a file and a directory", entry, strings.Join(elems[:i+1], "/"))
		}
		dir = c
	}
	name := elems[len(elems)-1]
	old := dir.children[name]
	switch {
	case old == nil:
		dir.children[name] = n
	case old.kind == rawDir && n.kind == rawDir:
		// An implied directory, or a directory listed twice (harmless):
		// the entry's time wins.
		old.modTime = n.modTime
	case old.kind == rawDir || n.kind == rawDir:
		return fmt.Errorf("vfs: zip entry %q: %s is both a file and a directory", entry, p)
	default:
		return fmt.Errorf("vfs: zip entry %q: duplicate entry for %s", entry, p)
	}
	return nil
}

// materializer turns a raw tree into nodes, replacing each symlink by what
// it resolves to. A directory reached through several paths becomes one node,
// so materializing is linear in the raw tree's size.
type materializer struct {
	root   *rawNode
	dirs   map[*rawNode]*node
	files  map[*rawNode]*node
	active map[*rawNode]bool // directories being materialized
}

// dir materializes the raw directory raw whose real path is elems.
func (m *materializer) dir(raw *rawNode, elems []string) (*node, error) {
	if n := m.dirs[raw]; n != nil {
		return n, nil
	}
	m.active[raw] = true
	defer delete(m.active, raw)
	names := make([]string, 0, len(raw.children))
	for name := range raw.children {
		names = append(names, name)
	}
	sort.Strings(names) // deterministic errors
	children := make(map[string]*node, len(names))
	for _, name := range names {
		c := raw.children[name]
		cElems := append(elems[:len(elems):len(elems)], name)
		var err error
		switch c.kind {
		case rawFile:
			children[name] = m.file(c)
		case rawDir:
			children[name], err = m.dir(c, cElems)
		case rawLink:
			children[name], err = m.link(c, elems, cElems)
		}
		if err != nil {
			return nil, err
		}
	}
	n := newDir(raw.modTime, children)
	m.dirs[raw] = n
	return n, nil
}

func (m *materializer) file(raw *rawNode) *node {
	n := m.files[raw]
	if n == nil {
		n = newFile(raw.data, raw.mode, raw.modTime)
		m.files[raw] = n
	}
	return n
}

// link materializes the raw symlink link, in the directory dirElems, whose
// own path is linkElems.
func (m *materializer) link(link *rawNode, dirElems, linkElems []string) (*node, error) {
	refuse := func(why string) error {
		return fmt.Errorf("%w: symlink %q -> %q %s", ErrUnsafePath, strings.Join(linkElems, "/"), link.target, why)
	}
	realElems, target, why := m.resolve(link, dirElems)
	switch {
	case why != "":
		return nil, refuse(why)
	case target.kind == rawFile:
		return m.file(target), nil
	case m.active[target]:
		return nil, refuse("loops: it leads to a directory that contains it")
	}
	return m.dir(target, realElems)
}

// resolve follows the symlink link found in the directory dirElems to a
// file or directory, returning its real path and raw node, or why it cannot.
func (m *materializer) resolve(link *rawNode, dirElems []string) ([]string, *rawNode, string) {
	elems := append([]string(nil), dirElems...)
	nodes := []*rawNode{m.root}
	for _, e := range dirElems {
		nodes = append(nodes, nodes[len(nodes)-1].children[e])
	}
	var pending []string
	follow := func(l *rawNode) string {
		if l.outside {
			return "points outside the tree (absolute path)"
		}
		if l.rooted {
			elems, nodes = elems[:0], nodes[:1]
		}
		pending = append(strings.Split(l.target, "/"), pending...)
		return ""
	}
	if why := follow(link); why != "" {
		return nil, nil, why
	}
	for hops := 1; len(pending) > 0; {
		elem := pending[0]
		pending = pending[1:]
		dir := nodes[len(nodes)-1]
		if dir.kind != rawDir { // "file/", "file/." or "file/x"
			return nil, nil, "does not resolve: " + path.Join(elems...) + " is not a directory"
		}
		switch elem {
		case "", ".":
			continue
		case "..":
			if len(elems) == 0 {
				return nil, nil, "points outside the tree (via ..)"
			}
			elems, nodes = elems[:len(elems)-1], nodes[:len(nodes)-1]
			continue
		}
		c := dir.children[elem]
		switch {
		case c == nil:
			return nil, nil, "dangles: " + path.Join(append(elems, elem)...) + " does not exist"
		case c.kind == rawLink:
			if hops++; hops > maxLinkHops {
				return nil, nil, "loops: too many levels of symlinks"
			}
			if why := follow(c); why != "" {
				return nil, nil, "leads to " + path.Join(append(elems, elem)...) + " -> " + c.target + ", which " + why
			}
		default:
			elems, nodes = append(elems, elem), append(nodes, c)
		}
	}
	target := nodes[len(nodes)-1]
	return elems, target, ""
}
