package devstack_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsxkms/fsxkms/internal/devstack"
)

// wantStartError starts a stack with opts, which must fail with an error
// containing every one of wants.
func wantStartError(t *testing.T, opts devstack.Options, wants ...string) {
	t.Helper()
	s, err := devstack.Start(context.Background(), opts)
	if err == nil {
		s.Stop()
		t.Errorf("Start(%+v) succeeded, want an error containing %q", opts, wants)
		return
	}
	for _, want := range wants {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start(%+v): %v, want it to contain %q", opts, err, want)
		}
	}
}

// TestStartBusyPort: Start fails on a port in use, naming the server and
// the port.
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
		{"moto (DynamoDB)", devstack.Options{DynamoDBPort: busy}},
		{"STS server", devstack.Options{STSPort: busy}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantStartError(t, tt.opts, fmt.Sprintf("%s: port %d is busy", tt.name, busy))
		})
	}
}

// TestStartBadInventory: Start fails naming a missing inventory file.
func TestStartBadInventory(t *testing.T) {
	wantStartError(t, devstack.Options{Inventory: "testdata/none.json"}, "testdata/none.json")
}

// TestStartWithoutMoto: without moto_server on PATH, Start fails naming
// what to install; it never starts a stack without its state table.
func TestStartWithoutMoto(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	wantStartError(t, devstack.Options{}, "moto_server not found on PATH", "pip install 'moto[server]'", "no python3-moto package")
}

// TestStartMotoFails: a moto_server that exits at once (a pyenv shim whose
// Python has no moto says "command not found") fails Start with its log
// and what to install.
func TestStartMotoFails(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho \"pyenv: moto_server: command not found\" >&2\nexit 127\n"
	if err := os.WriteFile(filepath.Join(dir, "moto_server"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	wantStartError(t, devstack.Options{}, "exited before it answered", "pyenv: moto_server: command not found", "pip install 'moto[server]'")
}

func TestStopLeavesNothing(t *testing.T) {
	s, err := devstack.Start(context.Background(), devstack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ports, pids, dir := s.Ports(), s.Pids(), s.Dir
	if len(ports) != 7 || len(pids) != 3 { // three processes; the KMS proxy, FSx and Security Hub and STS servers in-process
		t.Errorf("Ports %v, Pids %v: want 7 ports and 3 processes (local-kms, goaws, moto_server)", ports, pids)
	}
	// moto_server is a pyenv shim that execs pyenv, which execs Python:
	// the pid Stop signals must be the interpreter serving the port.
	moto := 0
	for _, pid := range pids {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.Contains(string(b), "moto_server") {
			moto = pid
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); !strings.Contains(filepath.Base(exe), "python") {
				t.Errorf("moto_server's pid %d runs %q, want the Python interpreter (cmdline %q)", pid, exe, b)
			}
		}
	}
	if moto == 0 {
		t.Errorf("no process of %v runs moto_server", pids)
	}
	stopLeavesNothing(t, s)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left after Stop (err %v)", dir, err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// stopLeavesNothing stops s and checks that none of its ports is open and
// none of its processes alive, nor anything they started.
func stopLeavesNothing(t *testing.T, s *devstack.Stack) {
	t.Helper()
	ports, pids := s.Ports(), s.Pids()
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
	// Nor anything the servers started: each ran in its own process group.
	for _, left := range groupMembers(t, pids) {
		t.Errorf("process left after Stop in the group of a server: %s", left)
	}
}

// groupMembers returns the live processes (not zombies) whose process
// group is one of pgids, as "pid (comm) state".
func groupMembers(t *testing.T, pgids []int) []string {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if pgrp, _ := strconv.Atoi(f[2]); slices.Contains(pgids, pgrp) {
			out = append(out, string(b[:i+1])+" "+f[0])
		}
	}
	return out
}

// BenchmarkStart starts and stops the whole stack, single-account and with
// two member accounts (one more local-kms each): start-ms is Start alone.
//
//	go test -run '^$' -bench 'Start$' -benchtime 10x ./internal/devstack/
func BenchmarkStart(b *testing.B) {
	for _, members := range [][]string{nil, {"222233334444", "333344445555"}} {
		b.Run(fmt.Sprintf("members=%d", len(members)), func(b *testing.B) {
			var start time.Duration
			for b.Loop() {
				t0 := time.Now()
				s, err := devstack.Start(context.Background(), devstack.Options{MemberAccounts: members})
				start += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Stop(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(start.Milliseconds())/float64(b.N), "start-ms")
		})
	}
}
