package main

import (
	"path/filepath"
	"testing"
)

// TestPolicyCommand runs "fsxkms policy ..." against testdata/policy/<name>.golden.
func TestPolicyCommand(t *testing.T) {
	f := func(name string) string { return filepath.Join("testdata", "policy", name) }
	testGolden(t, "policy", []goldenCase{
		{"eval-allow", []string{"eval", "--policy", f("aws-fsx.json"), "--request", f("request-decrypt.json")}, "", 0},
		{"eval-deny-json", []string{"eval", "--policy", f("break-deny-decrypt.json"), "--request", f("request-decrypt.json"), "--json"}, "", 0},
		{"eval-creategrant-console", []string{"eval", "--policy", f("console-default.json"), "--request", f("request-creategrant.json")}, "", 0},
		{"eval-policy-stdin", []string{"eval", "--policy", "-", "--request", f("request-decrypt.json")}, "aws-fsx.json", 0},
		{"eval-bad-request", []string{"eval", "--policy", f("aws-fsx.json"), "--request", f("request-bad.json")}, "", 2},
		{"eval-missing-request", []string{"eval", "--policy", f("aws-fsx.json")}, "", 2},
		{"eval-bad-policy", []string{"eval", "--policy", f("request-decrypt.json"), "--request", f("request-decrypt.json")}, "", 2},
		{"check-usable", []string{"check", "--policy", f("aws-fsx.json"), "--account", "111122223333", "--region", "us-east-1"}, "", 0},
		{"check-broken", []string{"check", "--policy", f("break-deny-decrypt.json"), "--account", "111122223333", "--region", "us-east-1"}, "", 1},
		{"check-console-principal", []string{"check", "--policy", f("console-default.json"), "--account", "111122223333", "--region", "us-east-1",
			"--principal", "arn:aws:iam::111122223333:role/FsxAdmin", "--json"}, "", 0},
		{"check-secure-transport-allow", []string{"check", "--policy", f("secure-transport-allow.json"), "--account", "111122223333", "--region", "us-east-1"}, "", 0},
		{"check-secure-transport-deny-false", []string{"check", "--policy", f("secure-transport-deny-false.json"), "--account", "111122223333", "--region", "us-east-1"}, "", 0},
		{"check-secure-transport-deny-true", []string{"check", "--policy", f("secure-transport-deny-true.json"), "--account", "111122223333", "--region", "us-east-1"}, "", 1},
		{"check-split-permissions", []string{"check", "--policy", f("split-permissions.json"), "--account", "111122223333", "--region", "us-east-1"}, "", 1},
		{"check-split-two-principals", []string{"check", "--policy", f("split-permissions.json"), "--account", "111122223333", "--region", "us-east-1",
			"--principal", "arn:aws:iam::111122223333:role/AppRole", "--principal", "arn:aws:iam::111122223333:role/KeyAdmin"}, "", 1},
		{"check-wrong-region", []string{"check", "--policy", f("aws-fsx.json"), "--account", "111122223333", "--region", "eu-west-1"}, "", 1},
		{"check-bad-account", []string{"check", "--policy", f("aws-fsx.json"), "--account", "1234", "--region", "us-east-1"}, "", 2},
		{"check-missing-file", []string{"check", "--policy", f("nope.json"), "--account", "111122223333", "--region", "us-east-1"}, "", 2},
		{"bad-flag", []string{"check", "--nope"}, "", 2},
	})
}
