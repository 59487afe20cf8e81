// Command fsguest is a WASI test guest for package vfs: it runs the file
// operations given as arguments, in order, and prints one line per operation:
// the operation, "=>", its result (quoted) and "ok" or its error (the
// errno's name, such as EROFS).
//
// Operations: read:PATH, write:PATH=DATA, append:PATH=DATA, fill:PATH=N
// (writes N bytes, appending), symlink:TARGET=LINK, remove:PATH,
// mkdir:PATH, rename:OLD=NEW, ls:PATH, stat:PATH, truncate:PATH=N.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o fsguest.wasm .
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

var errnoNames = map[syscall.Errno]string{
	syscall.EACCES:  "EACCES",
	syscall.EBADF:   "EBADF",
	syscall.EEXIST:  "EEXIST",
	syscall.EIO:     "EIO",
	syscall.EISDIR:  "EISDIR",
	syscall.ELOOP:   "ELOOP",
	syscall.ENOENT:  "ENOENT",
	syscall.ENOSYS:  "ENOSYS",
	syscall.ENOTDIR: "ENOTDIR",
	syscall.EPERM:   "EPERM",
	syscall.EROFS:   "EROFS",
}

func main() {
	for _, arg := range os.Args[1:] {
		op, rest, _ := strings.Cut(arg, ":")
		a, b, _ := strings.Cut(rest, "=")
		var out string
		var err error
		switch op {
		case "read":
			var data []byte
			data, err = os.ReadFile(rest)
			out = string(data)
		case "write":
			err = os.WriteFile(a, []byte(b), 0o644)
		case "append", "fill":
			data := []byte(b)
			if op == "fill" {
				n, _ := strconv.Atoi(b)
				data = make([]byte, n)
			}
			var f *os.File
			if f, err = os.OpenFile(a, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
				_, err = f.Write(data)
				f.Close()
			}
		case "truncate":
			n, _ := strconv.Atoi(b)
			err = os.Truncate(a, int64(n))
		case "symlink":
			err = os.Symlink(a, b)
		case "remove":
			err = os.Remove(rest)
		case "mkdir":
			err = os.Mkdir(rest, 0o755)
		case "rename":
			err = os.Rename(a, b)
		case "ls":
			var entries []os.DirEntry
			entries, err = os.ReadDir(rest)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			out = strings.Join(names, ",")
		case "stat":
			var fi os.FileInfo
			if fi, err = os.Stat(rest); err == nil {
				out = fmt.Sprintf("%d dir=%v", fi.Size(), fi.IsDir()) // WASI has no permissions
			}
		default:
			err = fmt.Errorf("unknown operation %q", op)
		}
		result := "ok"
		var errno syscall.Errno
		switch {
		case errors.As(err, &errno):
			result = errnoNames[errno]
			if result == "" {
				result = errno.Error()
			}
		case err != nil:
			result = err.Error()
		}
		fmt.Printf("%s => %q %s\n", arg, out, result)
	}
}
