//go:build unix

package relay

import (
	"fmt"
	"syscall"
)

// raiseOpenFiles makes room for n open files: the soft limit goes up to
// the hard one, and the hard one too when the process may (root).
func raiseOpenFiles(n uint64) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	if l.Cur >= n {
		return nil
	}
	want := syscall.Rlimit{Cur: n, Max: max(l.Max, n)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
		return nil
	}
	if l.Max < n {
		return fmt.Errorf("%d open files needed, the hard limit is %d (raise it: ulimit -Hn %d)", n, l.Max, n)
	}
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: l.Max})
}
