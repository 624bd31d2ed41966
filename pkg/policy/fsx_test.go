package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsxkms/fsxkms/internal/testutil"
)

func mustParseFile(t testing.TB, name string) *Policy {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(doc)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return p
}

// TestCheckFSxGolden runs the FSx check on every policy fixture and compares
// the result with testdata/check/<fixture>.golden (go test -update rewrites them).
func TestCheckFSxGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			p := mustParseFile(t, name)
			res := CheckFSx(p, FSxParams{Account: "111122223333", Region: "us-east-1", Now: testNow})
			got, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			testutil.Golden(t, filepath.Join("testdata", "check", strings.TrimSuffix(name, ".json")+".golden"), got)
		})
	}
}

// testNow is the clock of the golden checks (aws:CurrentTime).
var testNow = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
