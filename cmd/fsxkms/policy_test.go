package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/internal/testutil"
)

// TestPolicyCommand runs "fsxkms policy ..." and compares exit code, stdout
// and stderr with testdata/policy/<name>.golden (go test -update rewrites them).
func TestPolicyCommand(t *testing.T) {
	dir := filepath.Join("testdata", "policy")
	f := func(name string) string { return filepath.Join(dir, name) }
	stdinPolicy, err := os.ReadFile(f("aws-fsx.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		stdin []byte
		code  int
	}{
		{"eval-allow", []string{"eval", "--policy", f("aws-fsx.json"), "--request", f("request-decrypt.json")}, nil, 0},
		{"eval-deny-json", []string{"eval", "--policy", f("break-deny-decrypt.json"), "--request", f("request-decrypt.json"), "--json"}, nil, 0},
		{"eval-creategrant-console", []string{"eval", "--policy", f("console-default.json"), "--request", f("request-creategrant.json")}, nil, 0},
		{"eval-policy-stdin", []string{"eval", "--policy", "-", "--request", f("request-decrypt.json")}, stdinPolicy, 0},
		{"eval-bad-request", []string{"eval", "--policy", f("aws-fsx.json"), "--request", f("request-bad.json")}, nil, 2},
		{"eval-missing-request", []string{"eval", "--policy", f("aws-fsx.json")}, nil, 2},
		{"eval-bad-policy", []string{"eval", "--policy", f("request-decrypt.json"), "--request", f("request-decrypt.json")}, nil, 2},
		{"check-usable", []string{"check", "--policy", f("aws-fsx.json"), "--account", "111122223333", "--region", "us-east-1"}, nil, 0},
		{"check-broken", []string{"check", "--policy", f("break-deny-decrypt.json"), "--account", "111122223333", "--region", "us-east-1"}, nil, 1},
		{"check-console-principal", []string{"check", "--policy", f("console-default.json"), "--account", "111122223333", "--region", "us-east-1",
			"--principal", "arn:aws:iam::111122223333:role/FsxAdmin", "--json"}, nil, 0},
		{"check-secure-transport-allow", []string{"check", "--policy", f("secure-transport-allow.json"), "--account", "111122223333", "--region", "us-east-1"}, nil, 0},
		{"check-secure-transport-deny-false", []string{"check", "--policy", f("secure-transport-deny-false.json"), "--account", "111122223333", "--region", "us-east-1"}, nil, 0},
		{"check-secure-transport-deny-true", []string{"check", "--policy", f("secure-transport-deny-true.json"), "--account", "111122223333", "--region", "us-east-1"}, nil, 1},
		{"check-split-permissions", []string{"check", "--policy", f("split-permissions.json"), "--account", "111122223333", "--region", "us-east-1"}, nil, 1},
		{"check-split-two-principals", []string{"check", "--policy", f("split-permissions.json"), "--account", "111122223333", "--region", "us-east-1",
			"--principal", "arn:aws:iam::111122223333:role/AppRole", "--principal", "arn:aws:iam::111122223333:role/KeyAdmin"}, nil, 1},
		{"check-wrong-region", []string{"check", "--policy", f("aws-fsx.json"), "--account", "111122223333", "--region", "eu-west-1"}, nil, 1},
		{"check-bad-account", []string{"check", "--policy", f("aws-fsx.json"), "--account", "1234", "--region", "us-east-1"}, nil, 2},
		{"check-missing-file", []string{"check", "--policy", f("nope.json"), "--account", "111122223333", "--region", "us-east-1"}, nil, 2},
		{"bad-flag", []string{"check", "--nope"}, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"policy"}, tt.args...), bytes.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, &stdout, &stderr)
			}
			got := "exit " + strconv.Itoa(code) + "\n-- stdout --\n" + stdout.String() + "-- stderr --\n" + stderr.String()
			testutil.Golden(t, f(tt.name+".golden"), []byte(got))
			if tt.code == 2 && !strings.Contains(stderr.String(), "fsxkms policy") && !strings.Contains(stderr.String(), "usage") {
				t.Errorf("bad input gave no clear error: %q", stderr.String())
			}
		})
	}
}
