//go:build !linux

package pluginhost

import "os/exec"

// dieWithParent is Linux-only; elsewhere the SDK's parent watch ends orphans.
func dieWithParent(*exec.Cmd) {}
