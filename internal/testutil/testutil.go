// Package testutil holds what the repository's tests share: one golden-file
// compare and the one -update flag that rewrites golden files.
//
// Only tests import it; importing it registers -update on the test binary:
//
//	go test ./pkg/alert/ -update   # rewrite, then review git diff testdata
package testutil

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files with what the tests produce instead of comparing")

// Golden wants got to equal the golden file at path. With -update it writes
// got to path instead (creating its directory) and passes.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs at line %d (run go test -update and review the diff)\n--- got ---\n%s",
			path, firstDiffLine(got, want), got)
	}
}

// firstDiffLine is the 1-based line on which a and b first differ.
func firstDiffLine(a, b []byte) int {
	line := 1
	for i := 0; i < len(a) && i < len(b) && a[i] == b[i]; i++ {
		if a[i] == '\n' {
			line++
		}
	}
	return line
}
