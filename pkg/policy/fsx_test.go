package policy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

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
			golden := filepath.Join("testdata", "check", strings.TrimSuffix(name, ".json")+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("CheckFSx(%s) differs from %s:\n%s", name, golden, got)
			}
		})
	}
}

// testNow is the clock of the golden checks (aws:CurrentTime).
var testNow = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
