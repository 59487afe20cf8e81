//go:build unix

package gobuild

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// lockKey takes the exclusive lock on the file at path, creating it,
// waiting while another build, in this process or another, holds it, until
// ctx ends. It returns the function that releases it. Where the file
// system cannot lock, it returns at once, without a lock. The lock file stays:
// removing it would let a build that opened it before the removal lock a
// file that no other build sees.
func lockKey(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			// A file system without flock (some network ones): build
			// unlocked, which the rename keeps safe.
			_ = f.Close()
			return func() {}, nil
		}
		if testHookLockBusy != nil {
			testHookLockBusy()
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			_ = f.Close()
			return nil, ctx.Err()
		}
	}
}
