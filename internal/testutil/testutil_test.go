package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures; Fatal and Fatalf end the
// goroutine, as testing's do, so golden runs Golden in one of its own.
type recorder struct {
	testing.TB
	failed []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }
func (r *recorder) Fatal(args ...any) {
	r.failed = append(r.failed, fmt.Sprint(args...))
	runtime.Goexit()
}

// golden runs Golden on a recorder and returns the failures.
func golden(t *testing.T, path string, got []byte) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Golden(r, path, got)
	}()
	<-done
	return r.failed
}

func TestGolden(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.golden")
	if err := os.WriteFile(path, []byte("one\ntwo\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		got  string
		want string // substring of the failure; "" for none
	}{
		{"equal", path, "one\ntwo\nthree\n", ""},
		{"differs on line 2", path, "one\n2\nthree\n", "a.golden differs at line 2"},
		{"longer", path, "one\ntwo\nthree\nfour\n", "differs at line 4"},
		{"missing file", filepath.Join(dir, "none.golden"), "x", "run go test -update to create it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failed := golden(t, tt.path, []byte(tt.got))
			switch {
			case tt.want == "" && len(failed) > 0:
				t.Errorf("failed: %q", failed)
			case tt.want != "" && (len(failed) != 1 || !strings.Contains(failed[0], tt.want)):
				t.Errorf("failures %q, want one containing %q", failed, tt.want)
			}
		})
	}
}

func TestGoldenUpdate(t *testing.T) {
	was := *update
	*update = true
	t.Cleanup(func() { *update = was })
	path := filepath.Join(t.TempDir(), "new", "dir", "b.golden")
	if failed := golden(t, path, []byte("written\n")); len(failed) > 0 {
		t.Fatalf("failed: %q", failed)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "written\n" {
		t.Fatalf("golden file = %q, %v; want the bytes written", b, err)
	}
}
