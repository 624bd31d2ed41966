package devstack

import "syscall"

// sysProcAttr puts a child in its own process group (so Stop can kill all
// it started) and has the kernel kill it when the parent dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
