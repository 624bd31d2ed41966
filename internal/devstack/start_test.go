package devstack_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/internal/devstack"
)

func TestStartBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	for _, tt := range []struct {
		name string
		opts devstack.Options
	}{
		{"local-kms", devstack.Options{LocalKMSPort: busy}},
		{"goaws", devstack.Options{SNSPort: busy}},
		{"KMS proxy", devstack.Options{KMSPort: busy}},
		{"FSx server", devstack.Options{FSxPort: busy}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := devstack.Start(context.Background(), tt.opts)
			if err == nil {
				s.Stop()
				t.Fatal("Start succeeded on a busy port")
			}
			want := fmt.Sprintf("%s: port %d is busy", tt.name, busy)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want it to contain %q", err, want)
			}
		})
	}
}

func TestStartBadInventory(t *testing.T) {
	_, err := devstack.Start(context.Background(), devstack.Options{Inventory: "testdata/none.json"})
	if err == nil || !strings.Contains(err.Error(), "testdata/none.json") {
		t.Errorf("err = %v, want one naming the missing inventory file", err)
	}
}

func TestStopLeavesNothing(t *testing.T) {
	s, err := devstack.Start(context.Background(), devstack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ports, pids, dir := s.Ports(), s.Pids(), s.Dir
	if len(ports) != 4 || len(pids) != 2 {
		t.Errorf("Ports %v, Pids %v: want 4 ports and 2 processes", ports, pids)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			c.Close()
			t.Errorf("port %d still open after Stop", p)
		}
	}
	for _, pid := range pids {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Errorf("process %d still alive after Stop: %s", pid, b)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left after Stop (err %v)", dir, err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
