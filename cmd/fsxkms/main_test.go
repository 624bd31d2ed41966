package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestRun: fsxkms with no command, help, or an unknown command prints the
// usage, which lists every command of the table once, in its order.
func TestRun(t *testing.T) {
	tests := []struct {
		args         []string
		code         int
		usageOnError bool
		stderr       string
	}{
		{nil, 2, false, ""},
		{[]string{"help"}, 0, false, ""},
		{[]string{"-h"}, 0, false, ""},
		{[]string{"--help"}, 0, false, ""},
		{[]string{"audit"}, 2, true, `fsxkms: unknown command "audit"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, strings.NewReader(""), &stdout, &stderr); code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			usage := stdout.String()
			if tt.usageOnError {
				usage = stderr.String()
				if !strings.HasPrefix(usage, tt.stderr+"\n") {
					t.Errorf("stderr %q, want it to begin with %q", usage, tt.stderr)
				}
			}
			var listed []string
			for _, line := range strings.Split(usage, "\n") {
				if f := strings.Fields(line); strings.HasPrefix(line, "  ") && len(f) > 1 {
					listed = append(listed, f[0])
				}
			}
			var want []string
			for _, c := range commands {
				want = append(want, c.name)
			}
			if !slices.Equal(listed, want) {
				t.Errorf("usage lists %v, want %v:\n%s", listed, want, usage)
			}
		})
	}
}

// TestCommandsSorted: the table is in name order, each name once, so usage
// lists the commands alphabetically.
func TestCommandsSorted(t *testing.T) {
	if !slices.IsSortedFunc(commands, func(a, b command) int { return strings.Compare(a.name, b.name) }) {
		t.Error("commands are not in name order")
	}
	for i := 1; i < len(commands); i++ {
		if commands[i].name == commands[i-1].name {
			t.Errorf("command %q listed twice", commands[i].name)
		}
	}
}
