//go:build !linux

package devstack

import "syscall"

// sysProcAttr puts a child in its own process group so Stop can kill all
// it started. Outside Linux there is no parent-death signal: a killed
// test binary can leave its servers behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
