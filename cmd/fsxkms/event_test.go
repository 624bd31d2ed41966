package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/internal/testutil"
)

// TestEventCommand runs "fsxkms event ..." and compares exit code, stdout
// and stderr with testdata/event/<name>.golden (go test -update rewrites them).
func TestEventCommand(t *testing.T) {
	dir := filepath.Join("testdata", "event")
	f := func(name string) string { return filepath.Join(dir, name) }
	deletion, err := os.ReadFile(f("kms-cmk-deletion.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		stdin []byte
		code  int
	}{
		{"text-eventbridge", []string{"event", "decode", f("putkeypolicy-eventbridge.json")}, nil, 0},
		{"json-flag-after-file", []string{"event", "decode", f("putkeypolicy-eventbridge.json"), "--json"}, nil, 0},
		{"json-flag-before-file", []string{"event", "decode", "-json", f("putkeypolicy-eventbridge.json")}, nil, 0},
		{"text-trail-log", []string{"event", "decode", f("trail-log.json")}, nil, 0},
		{"json-trail-log", []string{"event", "decode", "--json", f("trail-log.json")}, nil, 0},
		{"stdin-dash", []string{"event", "decode", "-", "--json"}, deletion, 0},
		{"stdin-implicit", []string{"event", "decode"}, deletion, 0},
		{"bad-records", []string{"event", "decode", f("bad-records.json")}, nil, 2},
		{"not-json", []string{"event", "decode", f("not-json.txt")}, nil, 2},
		{"missing-file", []string{"event", "decode", f("no-such-file.json")}, nil, 2},
		{"two-files", []string{"event", "decode", f("trail-log.json"), f("not-json.txt")}, nil, 2},
		{"unknown-flag", []string{"event", "decode", "--yaml"}, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, bytes.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, &stderr)
			}
			got := fmt.Sprintf("exit: %d\n--- stdout\n%s--- stderr\n%s", code, &stdout, &stderr)
			testutil.Golden(t, f(tt.name+".golden"), []byte(got))
		})
	}
}

// TestEventDecodeTooLarge feeds more than kmsevent.MaxInputSize bytes.
func TestEventDecodeTooLarge(t *testing.T) {
	big := bytes.Repeat([]byte(" "), 10<<20+10)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"event", "decode"}, bytes.NewReader(big), &stdout, &stderr); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "limit") || stdout.Len() != 0 {
		t.Errorf("stdout %q, stderr %q; want only a size-limit error", &stdout, &stderr)
	}
}
