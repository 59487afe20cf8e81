package vfs

import (
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strings"
	"time"
)

// node is a file or directory of a Tree. Nodes are immutable once built, so
// trees share them freely: Merge reuses its inputs' nodes, and a directory
// reached through several symlinks is one node under several names.
type node struct {
	dir      bool
	data     []byte // regular files only; never modified
	mode     fs.FileMode
	modTime  time.Time
	children map[string]*node // directories only
	names    []string         // sorted keys of children
}

// newDir returns a directory node with the given children.
// epoch stands in for a missing modification time: a zero time.Time would
// reach the guest as a date in 1754.
var epoch = time.Unix(0, 0).UTC()

func newDir(modTime time.Time, children map[string]*node) *node {
	if modTime.IsZero() {
		modTime = epoch
	}
	if children == nil {
		children = map[string]*node{}
	}
	names := make([]string, 0, len(children))
	for name := range children {
		names = append(names, name)
	}
	sort.Strings(names)
	return &node{dir: true, mode: fs.ModeDir | 0o555, modTime: modTime, children: children, names: names}
}

// newFile returns a regular file node; it is read-only, and executable if
// the source was.
func newFile(data []byte, srcMode fs.FileMode, modTime time.Time) *node {
	if modTime.IsZero() {
		modTime = epoch
	}
	mode := fs.FileMode(0o444)
	if srcMode&0o111 != 0 {
		mode = 0o555
	}
	return &node{data: data, mode: mode, modTime: modTime}
}

// emptyRoot is the root of an empty tree.
var emptyRoot = newDir(time.Time{}, nil)

// Tree is an immutable in-memory file tree (regular files and directories
// only). Safe for concurrent use.
type Tree struct {
	root *node
	size int64
}

// newTree wraps a root directory, computing its size.
func newTree(root *node) *Tree {
	size, _ := countTree(root)
	return &Tree{root: root, size: size}
}

// rootNode is t's root directory; a nil or zero Tree is empty.
func (t *Tree) rootNode() *node {
	if t == nil || t.root == nil {
		return emptyRoot
	}
	return t.root
}

// Size returns the total bytes of the tree's regular files, each path counted
// once (a file materialized from a symlink counts again).
func (t *Tree) Size() int64 {
	if t == nil {
		return 0
	}
	return t.size
}

// ReadFile returns a copy of the content of the regular file name, a
// slash-separated path relative to the tree's root ("a/b.txt") following
// fs.ValidPath rules.
func (t *Tree) ReadFile(name string) ([]byte, error) {
	return treeFS{t.rootNode()}.ReadFile(name)
}

// Stat describes the file or directory name (see ReadFile for the form of
// name; "." is the root).
func (t *Tree) Stat(name string) (fs.FileInfo, error) {
	return treeFS{t.rootNode()}.Stat(name)
}

// Files returns the slash-separated paths of the tree's regular files,
// sorted.
func (t *Tree) Files() []string {
	var files []string
	var walk func(prefix string, n *node)
	walk = func(prefix string, n *node) {
		for _, name := range n.names {
			c := n.children[name]
			p := name
			if prefix != "" {
				p = prefix + "/" + name
			}
			if c.dir {
				walk(p, c)
			} else {
				files = append(files, p)
			}
		}
	}
	walk("", t.rootNode())
	sort.Strings(files)
	return files
}

// Merge returns a new tree with trees applied in order (nil ones skipped):
// directories merge, and for a path present in several trees the last tree's
// entry wins (a file replaces a directory and the directory's contents, and
// vice versa). A directory present in several trees takes the last one's
// modification time. Merge shares file data with its inputs and copies none.
func Merge(trees ...*Tree) *Tree {
	var root *node
	for _, t := range trees {
		if t == nil {
			continue
		}
		root = mergeNode(root, t.rootNode())
	}
	if root == nil {
		root = emptyRoot
	}
	return newTree(root)
}

// mergeNode lays b over a (which may be nil).
func mergeNode(a, b *node) *node {
	if a == nil || !a.dir || !b.dir {
		return b
	}
	children := make(map[string]*node, len(a.children)+len(b.children))
	for name, c := range a.children {
		children[name] = c
	}
	for name, c := range b.children {
		children[name] = mergeNode(children[name], c)
	}
	return newDir(b.modTime, children)
}

// countTree returns the bytes of regular files and the number of entries
// (files and directories, the root excluded) under root, counting each path
// once. It runs in time linear in the number of distinct nodes, however often
// they are shared, and saturates instead of overflowing.
func countTree(root *node) (bytes, entries int64) {
	type count struct{ bytes, entries int64 }
	memo := map[*node]count{}
	var walk func(n *node) count
	walk = func(n *node) count {
		if c, ok := memo[n]; ok {
			return c
		}
		var c count
		for _, child := range n.children {
			if child.dir {
				cc := walk(child)
				c.bytes = addSat(c.bytes, cc.bytes)
				c.entries = addSat(c.entries, cc.entries)
			} else {
				c.bytes = addSat(c.bytes, int64(len(child.data)))
			}
			c.entries = addSat(c.entries, 1)
		}
		memo[n] = c
		return c
	}
	c := walk(root)
	return c.bytes, c.entries
}

// addSat adds two non-negative numbers, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// checkLimits refuses a finished tree over the limits.
func checkLimits(root *node, lim Limits) error {
	bytes, entries := countTree(root)
	if lim.MaxBytes > 0 && bytes > lim.MaxBytes {
		return fmt.Errorf("%w: %d bytes of files once symlinks are materialized, over the limit of %d", ErrTooLarge, bytes, lim.MaxBytes)
	}
	if entries > maxEntries {
		return fmt.Errorf("%w: more than %d files and directories", ErrTooLarge, maxEntries)
	}
	return nil
}

// lookup finds the node at a valid slash path ("." is the root); it returns
// nil if there is none.
func lookup(root *node, name string) *node {
	n := root
	if name == "." {
		return n
	}
	for name != "" {
		var elem string
		elem, name, _ = strings.Cut(name, "/")
		if !n.dir {
			return nil
		}
		if n = n.children[elem]; n == nil {
			return nil
		}
	}
	return n
}
