// Command fileops is the Go test guest for file-system mounts: the event
// {"ops": [OP, ...]} runs each operation in order and returns
// {"results": [LINE, ...]}, one line per operation: the operation, "=>",
// its output (quoted) and "ok" or its error (the errno's name, such as
// EROFS, or else the error's text).
//
// Operations: read:PATH, write:PATH=DATA (os.WriteFile: created or
// truncated), create:PATH=DATA (os.Create, read-write), append:PATH=DATA,
// mkdir:PATH, mkdirall:PATH, remove:PATH, rename:OLD=NEW, symlink:TARGET=LINK,
// ls:PATH, stat:PATH, truncate:PATH=N, and:
//
//	sync:PATH=DATA   creates PATH, writes DATA, syncs it, tries to write
//	                 DATA again (its result is that write's error), and
//	                 closes it
//	seek:PATH=DATA   creates PATH, writes DATA, seeks to 0 and writes DATA
//	                 again (its result is that write's error), and closes it
//	hold:PATH=DATA   creates PATH and writes DATA, and keeps it open
//	release          closes the files hold left open
//	crash:PATH=DATA  creates PATH, writes DATA, and traps (an out-of-bounds
//	                 load) with the file open: the sandbox dies
//
// Build from the repository root:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fileops.wasm ./testdata/guests/go/fileops
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/wasmlambda/lambda/guest"
)

var errnoNames = map[syscall.Errno]string{
	syscall.EACCES:    "EACCES",
	syscall.EBADF:     "EBADF",
	syscall.EEXIST:    "EEXIST",
	syscall.EINVAL:    "EINVAL",
	syscall.EIO:       "EIO",
	syscall.EISDIR:    "EISDIR",
	syscall.ENOENT:    "ENOENT",
	syscall.ENOSYS:    "ENOSYS",
	syscall.ENOTDIR:   "ENOTDIR",
	syscall.ENOTEMPTY: "ENOTEMPTY",
	syscall.ENOTSUP:   "ENOTSUP",
	syscall.EPERM:     "EPERM",
	syscall.EROFS:     "EROFS",
}

type event struct {
	Ops []string `json:"ops"`
}

type result struct {
	Results []string `json:"results"`
}

var (
	// held are the files hold left open.
	held []*os.File
	// far is an address past any linear memory, for crash's trap.
	far uintptr = 0xfffffff0
)

func handler(_ context.Context, ev event) (result, error) {
	res := result{Results: []string{}}
	for _, op := range ev.Ops {
		out, err := run(op)
		name := "ok"
		var errno syscall.Errno
		switch {
		case errors.As(err, &errno) && errnoNames[errno] != "":
			name = errnoNames[errno]
		case err != nil:
			name = err.Error()
		}
		res.Results = append(res.Results, fmt.Sprintf("%s => %q %s", op, out, name))
	}
	return res, nil
}

// run runs one operation, returning its output.
func run(op string) (string, error) {
	verb, rest, _ := strings.Cut(op, ":")
	a, b, _ := strings.Cut(rest, "=")
	switch verb {
	case "read":
		data, err := os.ReadFile(rest)
		return string(data), err
	case "write":
		return "", os.WriteFile(a, []byte(b), 0o644)
	case "create":
		f, err := os.Create(a)
		if err != nil {
			return "", err
		}
		if _, err := f.WriteString(b); err != nil {
			f.Close()
			return "", err
		}
		return "", f.Close()
	case "append":
		f, err := os.OpenFile(a, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return "", err
		}
		if _, err := f.WriteString(b); err != nil {
			f.Close()
			return "", err
		}
		return "", f.Close()
	case "mkdir":
		return "", os.Mkdir(rest, 0o755)
	case "mkdirall":
		return "", os.MkdirAll(rest, 0o755)
	case "remove":
		return "", os.Remove(rest)
	case "rename":
		return "", os.Rename(a, b)
	case "symlink":
		return "", os.Symlink(a, b)
	case "ls":
		entries, err := os.ReadDir(rest)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return strings.Join(names, ","), err
	case "stat":
		fi, err := os.Stat(rest)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d dir=%v", fi.Size(), fi.IsDir()), nil
	case "truncate":
		n, _ := strconv.Atoi(b)
		return "", os.Truncate(a, int64(n))
	case "sync", "seek":
		f, err := os.Create(a)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if _, err := f.WriteString(b); err != nil {
			return "", err
		}
		if verb == "sync" {
			if err := f.Sync(); err != nil {
				return "", err
			}
		} else if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
		_, err = f.WriteString(b)
		return "", err
	case "hold", "crash":
		f, err := os.Create(a)
		if err != nil {
			return "", err
		}
		if _, err := f.WriteString(b); err != nil {
			return "", err
		}
		held = append(held, f)
		if verb == "crash" {
			return string(rune(*(*byte)(unsafe.Pointer(far)))), nil
		}
		return "", nil
	case "release":
		var errs []error
		for _, f := range held {
			errs = append(errs, f.Close())
		}
		held = nil
		return "", errors.Join(errs...)
	}
	return "", fmt.Errorf("unknown operation %q", op)
}

// A reactor never runs main: register the handler in init.
func init() { guest.Start(handler) }

func main() {}
