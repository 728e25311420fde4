package pluginhost

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks the kernel to kill the plugin if the hub dies without
// stopping it (SIGKILL, OOM). The SDK also watches its parent, which covers
// the case where the thread that started the plugin exits first.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
