package devstack

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestWaitReadyPortTaken: a child that exits saying its address is in use
// is errPortTaken, so that onFreePort tries another port; one that exits
// for another reason is not.
func TestWaitReadyPortTaken(t *testing.T) {
	// exit is waitReady's error for a child that ran script and exited.
	exit := func(script string) error {
		p, err := startProcess("child", "/bin/sh", []string{"-c", script}, nil, filepath.Join(t.TempDir(), "child.log"))
		if err != nil {
			t.Fatal(err)
		}
		<-p.done
		return p.waitReady(context.Background(), time.Minute, func() error { return errors.New("not ready") })
	}
	if err := exit(`echo "listen tcp 0.0.0.0:37533: bind: address already in use" >&2; exit 1`); !errors.Is(err, errPortTaken) {
		t.Errorf("child that could not bind: %v, want errPortTaken", err)
	}
	if err := exit(`echo "no such config file" >&2; exit 1`); err == nil || errors.Is(err, errPortTaken) {
		t.Errorf("child that failed otherwise: %v, want an error that is not errPortTaken", err)
	}
}

// TestOnFreePort: a chosen port is used as given, once; with 0, a port
// that turned out taken is replaced by a newly picked one, three times at
// most, and any other outcome ends the tries. Only the process of the last
// try is the stack's to stop, with its port.
func TestOnFreePort(t *testing.T) {
	var s *Stack
	var ports []int
	child := &process{name: "child"}
	try := func(errs ...error) func(int) (*process, error) {
		s, ports = &Stack{}, nil
		return func(port int) (*process, error) {
			ports = append(ports, port)
			err := errs[0]
			errs = errs[1:]
			return child, err
		}
	}
	other := errors.New("config unreadable")
	for _, tt := range []struct {
		name    string
		port    int
		errs    []error
		want    error
		tries   int
		tracked bool
	}{
		{"chosen port taken", 4566, []error{errPortTaken}, errPortTaken, 1, false},
		{"chosen port", 4566, []error{nil}, nil, 1, true},
		{"taken twice", 0, []error{errPortTaken, errPortTaken, nil}, nil, 3, true},
		{"always taken", 0, []error{errPortTaken, errPortTaken, errPortTaken, nil}, errPortTaken, 3, false},
		{"other error", 0, []error{other, nil}, other, 1, true},
	} {
		port, err := s.onFreePort(tt.port, try(tt.errs...))
		if !errors.Is(err, tt.want) || len(ports) != tt.tries {
			t.Errorf("%s: %v after tries on %v, want %v after %d", tt.name, err, ports, tt.want, tt.tries)
			continue
		}
		if tt.port != 0 && ports[0] != tt.port || slices.Contains(ports, 0) {
			t.Errorf("%s: tried %v, want %d or picked ports", tt.name, ports, tt.port)
		}
		if port != ports[len(ports)-1] {
			t.Errorf("%s: returned port %d, want the last tried of %v", tt.name, port, ports)
		}
		if tracked := len(s.procs) == 1 && slices.Equal(s.ports, []int{port}); tracked != tt.tracked {
			t.Errorf("%s: stack holds procs %v ports %v; want the last try tracked: %v", tt.name, s.procs, s.ports, tt.tracked)
		}
	}
}
