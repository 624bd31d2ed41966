package devstack

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// Main starts a stack with opts, points the process's environment at it
// (Setenv), runs the tests and stops the stack. It returns the exit code
// for os.Exit. When the stack cannot start it prints why and returns 1:
// the tests fail, they are never skipped.
//
//	func TestMain(m *testing.M) { os.Exit(devstack.Main(m, devstack.Options{})) }
//
// Tests reach the stack through Current.
func Main(m *testing.M, opts Options) int {
	s, err := Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "devstack: the local AWS stack did not start, so the tests cannot run:\n%v\n", err)
		return 1
	}
	current = s
	code := 1
	func() {
		defer func() {
			if err := s.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				code = 1
			}
		}()
		if err := s.Setenv(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		code = m.Run()
	}()
	return code
}

var current *Stack

// Current returns the stack Main started, or nil outside Main.
func Current() *Stack { return current }
