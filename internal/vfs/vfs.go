// Package vfs builds the file systems a function sees: immutable in-memory
// trees for Lambda layers (/opt) and function packages (/var/task), loaded
// from a directory, a zip archive or an fs.FS, and host directories confined
// to themselves, optionally read-only or bounded by a quota (/tmp and
// explicit mounts).
//
// Every constructor treats its input as hostile: paths that would escape
// (absolute names, ".." components, symlinks that resolve outside) are
// refused with an error wrapping ErrUnsafePath, and trees over
// Limits.MaxBytes with an error wrapping ErrTooLarge.
package vfs

import "errors"

// Limits bound what a tree may hold.
type Limits struct {
	// MaxBytes bounds the total size of the regular files, counted as they
	// are read or decompressed (never trusting a zip header's sizes, so a
	// zip bomb stops at the limit). 0 means no limit.
	MaxBytes int64
}

// ErrTooLarge is wrapped by errors of trees over Limits.MaxBytes (and of
// trees with more than a million entries, whatever the limit).
var ErrTooLarge = errors.New("vfs: tree too large")

// ErrUnsafePath is wrapped by errors refusing a path that would escape: an
// absolute path, a ".." component, a backslash or drive letter in a zip entry
// name, or a symlink whose target resolves outside the tree or mount.
var ErrUnsafePath = errors.New("vfs: unsafe path")

// maxEntries bounds the number of files and directories of a tree, counting
// each path once (a directory reached through several symlinks counts once
// per path). It stops trees that are small in bytes but huge in entries, such
// as a zip of empty files or nested symlinks to directories. A variable for
// tests only.
var maxEntries int64 = 1 << 20

// maxLinkHops bounds the symlinks followed while resolving one path, as
// Linux's MAXSYMLINKS does: more means a loop.
const maxLinkHops = 40
