package lambda

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wasmlambda/lambda/internal/lazyregexp"
	"github.com/wasmlambda/lambda/internal/vfs"
	"github.com/wasmlambda/lambda/internal/wasm"
)

// AWS Lambda's limits on layers, packages and scratch space.
const (
	// DefaultMaxLayers is how many layers a function may use, as AWS.
	DefaultMaxLayers = 5
	// DefaultMaxUnzippedSize bounds a function's package and layers
	// together, unzipped: AWS's 250 MB, counted as AWS counts it
	// (262,144,000 bytes).
	DefaultMaxUnzippedSize = 262_144_000
	// DefaultEphemeralStorageMB is the size of /tmp, AWS's default.
	DefaultEphemeralStorageMB = 512
	// MaxEphemeralStorageMB is AWS's largest /tmp.
	MaxEphemeralStorageMB = 10240
)

// The guest paths AWS gives a function's files.
const (
	// LayersPath is where a function's layers are merged, read-only.
	LayersPath = "/opt"
	// TaskRoot is where a function's package is, read-only
	// (LAMBDA_TASK_ROOT).
	TaskRoot = "/var/task"
	// ScratchPath is a sandbox's private, writable scratch space.
	ScratchPath = "/tmp"
)

// LayerContent is where a layer version's files come from: exactly one
// field is set. The content is read, checked and copied when the version is
// published, so that the version never changes after.
type LayerContent struct {
	// Dir is a host directory. A symlink inside it is followed when its
	// target is inside it too; one that points outside is refused.
	Dir string
	// ZipFile is the path of a zip archive, as AWS's layer zip.
	ZipFile string
	// Zip is a zip archive in memory.
	Zip []byte
	// FS is any file system, such as an embed.FS.
	FS fs.FS
}

// LayerVersion is one immutable, numbered version of a layer, as AWS's
// PublishLayerVersion makes. A function keeps the versions it was deployed
// with even after they are deleted. It is safe for concurrent use.
type LayerVersion struct {
	name      string
	version   int
	arn       string
	tree      *vfs.Tree
	createdAt time.Time
	deleted   atomic.Bool
}

// Name is the layer's name.
func (l *LayerVersion) Name() string { return l.name }

// Version is the version number: 1 for a layer's first, then 2, 3, ...
func (l *LayerVersion) Version() int { return l.version }

// ARN is the version's ARN: arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION.
func (l *LayerVersion) ARN() string { return l.arn }

// Size is the total size of the version's files, in bytes.
func (l *LayerVersion) Size() int64 { return l.tree.Size() }

// CreatedAt is when the version was published.
func (l *LayerVersion) CreatedAt() time.Time { return l.createdAt }

// Deleted reports whether the version was deleted. A deleted version can
// no longer be given to Deploy, but functions deployed with it keep it.
func (l *LayerVersion) Deleted() bool { return l.deleted.Load() }

// FS is a read-only view of the version's files, as a guest sees them
// under /opt when this is its only layer.
func (l *LayerVersion) FS() fs.FS { return l.tree.FS() }

var layerNameRE = lazyregexp.New(`^[a-zA-Z0-9_-]{1,140}$`)

// PublishLayerVersion publishes a new version of the named layer, as AWS's
// PublishLayerVersion: the first is version 1, and each later one takes the
// next number. Numbers are never reused, even after a deletion.
//
// # Errors
//
//   - ErrInvalidConfig: a bad name, not exactly one content field, content
//     over Options.MaxUnzippedSize, or a path that would escape the layer:
//     a zip entry with ".." or an absolute name ("zip slip"), or a symlink
//     that leads outside it. The message names the path.
func (r *Runtime) PublishLayerVersion(ctx context.Context, name string, content LayerContent) (*LayerVersion, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !layerNameRE.MatchString(name) {
		return nil, invalidConfig("layer name %q: want 1 to 140 letters, digits, hyphens or underscores", name)
	}
	tree, err := loadContent(content, vfs.Limits{MaxBytes: r.maxUnzipped})
	if err != nil {
		return nil, invalidConfig("layer %s: %v", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, serviceError(ErrClosed, "the runtime is closed")
	}
	r.layerSeq[name]++
	l := &LayerVersion{
		name:      name,
		version:   r.layerSeq[name],
		tree:      tree,
		createdAt: time.Now(),
	}
	l.arn = fmt.Sprintf("arn:aws:lambda:%s:%s:layer:%s:%d", r.region, r.accountID, name, l.version)
	r.layers[name] = append(r.layers[name], l)
	return l, nil
}

func loadContent(c LayerContent, lim vfs.Limits) (*vfs.Tree, error) {
	set := 0
	for _, ok := range []bool{c.Dir != "", c.ZipFile != "", c.Zip != nil, c.FS != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return nil, fmt.Errorf("set exactly one of Dir, ZipFile, Zip and FS (%d set)", set)
	}
	switch {
	case c.Dir != "":
		return vfs.FromDir(c.Dir, lim)
	case c.FS != nil:
		return vfs.FromFS(c.FS, lim)
	case c.Zip != nil:
		return vfs.FromZip(bytes.NewReader(c.Zip), int64(len(c.Zip)), lim)
	default:
		f, err := os.Open(c.ZipFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		return vfs.FromZip(f, fi.Size(), lim)
	}
}

// LayerVersion returns a version of the named layer; version 0 means the
// latest. Deleted versions are not returned.
func (r *Runtime) LayerVersion(name string, version int) (*LayerVersion, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	vs := r.layers[name]
	for i := len(vs) - 1; i >= 0; i-- {
		if l := vs[i]; !l.Deleted() && (version == 0 || l.version == version) {
			return l, true
		}
	}
	return nil, false
}

// LayerVersions lists the versions of the named layer that are not
// deleted, newest first, as AWS's ListLayerVersions.
func (r *Runtime) LayerVersions(name string) []*LayerVersion {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*LayerVersion
	for _, l := range r.layers[name] {
		if !l.Deleted() {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version > out[j].version })
	return out
}

// DeleteLayerVersion deletes a version, as AWS's DeleteLayerVersion: it
// can no longer be used to deploy, and its number is not reused, but the
// functions deployed with it keep it. Deleting a missing version is not an
// error, as on AWS.
func (r *Runtime) DeleteLayerVersion(name string, version int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	vs := r.layers[name]
	for i, l := range vs {
		if l.version == version {
			l.deleted.Store(true)
			r.layers[name] = append(vs[:i:i], vs[i+1:]...)
			return nil
		}
	}
	return nil
}

// Mount grants a function a host directory or a file system at a guest
// path, beyond its package, layers and /tmp.
type Mount struct {
	// Path is the guest path: absolute, clean, and apart from /opt,
	// /var/task and /tmp. Required.
	Path string
	// HostDir is a host directory to mount. Exactly one of HostDir and FS
	// is set. A symlink in it that leads outside it is refused at deploy,
	// and one made later cannot be followed out.
	HostDir string
	// FS is a file system to mount. It is read-only unless ReadWrite is
	// set and FS is a WriteFS.
	FS fs.FS
	// ReadWrite lets the guest change HostDir, or write to FS through its
	// WriteFS methods (an FS that is not a WriteFS is refused at deploy). By
	// default a mount is read-only: a write fails with EROFS, "read-only
	// file system".
	ReadWrite bool
}

// WriteFS is a file system a guest may write to, through a Mount with
// ReadWrite set: an object store's bucket, for one. A file the guest creates
// is written through Create, and is committed, becoming visible through
// Open, when the guest closes it.
//
// The guest sees it as an object store: directories are implicit, a file is
// written whole and in order, and cannot be changed in place or renamed
// (docs/ABI.md has the details and the errors). A file the guest leaves
// open when its sandbox ends (it crashed, timed out or was closed, or a
// command exited) is not committed: its writer is never closed, but if it
// has a method CloseWithError(error) error, as io.PipeWriter does, that is
// called with a non-nil error so that it can release what it holds.
//
// It must be safe for concurrent use: every sandbox of the function
// shares it, and each may read and write at once.
type WriteFS interface {
	fs.FS
	// Create creates the file name, or truncates it, for writing. What is
	// written is committed when Close returns nil; a file whose Close
	// fails, or that is never closed, is not committed.
	Create(name string) (io.WriteCloser, error)
	// Remove removes the file name.
	Remove(name string) error
}

// files is what a function's sandboxes see of the file system.
type files struct {
	pkg    *vfs.Tree // /var/task
	layers *vfs.Tree // /opt
	// static are the mounts every sandbox shares.
	static []wasm.Mount
	// hostMounts and writeMounts (FS mounts with ReadWrite) are made per
	// sandbox.
	hostMounts  []Mount
	writeMounts []Mount
	scratchMax  int64
}

// packageFiles splits code into the module and the package's files. Code
// is a wasm module, or a zip holding one; see FunctionConfig.Code.
func packageFiles(cfg *FunctionConfig, code []byte, lim vfs.Limits) ([]byte, *vfs.Tree, error) {
	if !isZip(code) {
		return code, nil, nil
	}
	tree, err := vfs.FromZip(bytes.NewReader(code), int64(len(code)), lim)
	if err != nil {
		return nil, nil, fmt.Errorf("package: %w", err)
	}
	var candidates []string
	for _, name := range []string{cfg.Handler, cfg.Handler + ".wasm"} {
		if b, err := tree.ReadFile(name); err == nil && bytes.HasPrefix(b, []byte("\x00asm")) {
			return b, tree, nil
		}
	}
	for _, name := range tree.Files() {
		if !strings.Contains(name, "/") && path.Ext(name) == ".wasm" {
			candidates = append(candidates, name)
		}
	}
	if len(candidates) == 1 {
		b, err := tree.ReadFile(candidates[0])
		return b, tree, err
	}
	if len(candidates) == 0 {
		return nil, nil, fmt.Errorf("package: no module: want a wasm file named %s or %s.wasm, or a single .wasm file, at the root of the zip", cfg.Handler, cfg.Handler)
	}
	return nil, nil, fmt.Errorf("package: %d .wasm files at the root (%s) and none named %s or %s.wasm: set Handler to pick one", len(candidates), strings.Join(candidates, ", "), cfg.Handler, cfg.Handler)
}

// openCode opens the code at path. A zip, a deployment package, it reads
// whole, to unpack it, and returns its bytes. A module, or anything else, it
// returns open, with its size, for wasm.Compile to read no further than it
// must: a module whose rewrite is cached is only hashed, never held in
// memory whole. The caller closes the source.
func openCode(path string) (source, error) {
	f, err := os.Open(path)
	if err != nil {
		return source{}, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return source{}, err
	}
	var head [4]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && err != io.EOF {
		f.Close()
		return source{}, err
	}
	if !isZip(head[:n]) {
		return source{file: f, size: int(st.Size())}, nil
	}
	defer f.Close()
	var b bytes.Buffer
	b.Grow(int(st.Size()) + bytes.MinRead)
	if _, err := b.ReadFrom(f); err != nil { // from the start: ReadAt left the offset there
		return source{}, err
	}
	return source{pkg: b.Bytes()}, nil
}

// isZip reports whether b begins a zip: a local file header, or the end
// of an empty archive.
func isZip(b []byte) bool {
	return bytes.HasPrefix(b, []byte("PK\x03\x04")) || bytes.HasPrefix(b, []byte("PK\x05\x06"))
}

// buildFiles checks and assembles a function's file systems.
func (r *Runtime) buildFiles(cfg *FunctionConfig, pkg *vfs.Tree, codeSize int) (*files, error) {
	if len(cfg.Layers) > r.maxLayers {
		return nil, invalidConfig("function %s: %d layers, over the limit of %d", cfg.Name, len(cfg.Layers), r.maxLayers)
	}
	size := int64(codeSize)
	if pkg != nil {
		size = pkg.Size()
	}
	seen := map[string]int{}
	trees := make([]*vfs.Tree, 0, len(cfg.Layers))
	for i, l := range cfg.Layers {
		switch {
		case l == nil:
			return nil, invalidConfig("function %s: Layers[%d] is nil", cfg.Name, i)
		case l.Deleted():
			return nil, invalidConfig("function %s: layer version %s was deleted", cfg.Name, l.arn)
		}
		if v, ok := seen[l.name]; ok {
			return nil, invalidConfig("function %s: two versions of layer %s (%d and %d): a function may use one", cfg.Name, l.name, v, l.version)
		}
		seen[l.name] = l.version
		size += l.Size()
		trees = append(trees, l.tree)
	}
	if size > r.maxUnzipped {
		return nil, invalidConfig("function %s: package and layers are %d bytes unzipped, over the limit of %d", cfg.Name, size, r.maxUnzipped)
	}
	fl := &files{pkg: pkg, layers: vfs.Merge(trees...), scratchMax: int64(cfg.EphemeralStorageMB) << 20}
	if fl.pkg == nil {
		fl.pkg = vfs.Merge()
	}
	// The package comes first: a Go guest starts in the first preopen, and
	// AWS starts the bootstrap in /var/task. It is at "/" too, for guests on
	// wasi-libc, whose working directory is always "/": their relative paths
	// name the package's files there.
	pkgFS := fl.pkg.SysFS()
	fl.static = []wasm.Mount{
		{GuestPath: TaskRoot, FS: pkgFS},
		{GuestPath: "/", FS: pkgFS},
		{GuestPath: LayersPath, FS: fl.layers.SysFS()},
	}
	taken := []string{LayersPath, TaskRoot, ScratchPath}
	for i, m := range cfg.Mounts {
		p := m.Path
		if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
			return nil, invalidConfig("function %s: Mounts[%d].Path %q: want an absolute, clean path other than /", cfg.Name, i, p)
		}
		for _, t := range taken {
			if p == t || strings.HasPrefix(p, t+"/") || strings.HasPrefix(t, p+"/") {
				return nil, invalidConfig("function %s: Mounts[%d].Path %s overlaps %s", cfg.Name, i, p, t)
			}
		}
		taken = append(taken, p)
		switch {
		case (m.HostDir == "") == (m.FS == nil):
			return nil, invalidConfig("function %s: Mounts[%d] (%s): set exactly one of HostDir and FS", cfg.Name, i, p)
		case m.FS != nil && m.ReadWrite:
			if _, ok := m.FS.(WriteFS); !ok {
				return nil, invalidConfig("function %s: Mounts[%d] (%s): ReadWrite needs an FS that is a WriteFS, with Create and Remove; a %T is read-only", cfg.Name, i, p, m.FS)
			}
			fl.writeMounts = append(fl.writeMounts, m)
			continue
		case m.FS != nil:
			fl.static = append(fl.static, wasm.Mount{GuestPath: p, FS: vfs.ReadOnly(m.FS)})
			continue
		}
		if fi, err := os.Stat(m.HostDir); err != nil || !fi.IsDir() {
			return nil, invalidConfig("function %s: Mounts[%d] (%s): HostDir %s is not a directory", cfg.Name, i, p, m.HostDir)
		}
		if err := vfs.CheckHostDir(m.HostDir); err != nil {
			return nil, invalidConfig("function %s: Mounts[%d] (%s): %v", cfg.Name, i, p, err)
		}
		fl.hostMounts = append(fl.hostMounts, m)
	}
	return fl, nil
}
