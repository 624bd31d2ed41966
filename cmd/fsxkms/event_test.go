package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEventCommand runs "fsxkms event ..." against testdata/event/<name>.golden.
func TestEventCommand(t *testing.T) {
	f := func(name string) string { return filepath.Join("testdata", "event", name) }
	testGolden(t, "event", []goldenCase{
		{"text-eventbridge", []string{"decode", f("putkeypolicy-eventbridge.json")}, "", 0},
		{"json-flag-after-file", []string{"decode", f("putkeypolicy-eventbridge.json"), "--json"}, "", 0},
		{"json-flag-before-file", []string{"decode", "-json", f("putkeypolicy-eventbridge.json")}, "", 0},
		{"text-trail-log", []string{"decode", f("trail-log.json")}, "", 0},
		{"json-trail-log", []string{"decode", "--json", f("trail-log.json")}, "", 0},
		{"stdin-dash", []string{"decode", "-", "--json"}, "kms-cmk-deletion.json", 0},
		{"stdin-implicit", []string{"decode"}, "kms-cmk-deletion.json", 0},
		{"hide-ignored", []string{"decode", "--hide-ignored", f("trail-log.json")}, "", 0},
		{"hide-ignored-json", []string{"decode", f("trail-log.json"), "--json", "--hide-ignored"}, "", 0},
		{"lambda-destination", []string{"decode", f("lambda-destination.json")}, "", 0},
		{"bad-records", []string{"decode", f("bad-records.json")}, "", 2},
		{"not-json", []string{"decode", f("not-json.txt")}, "", 2},
		{"missing-file", []string{"decode", f("no-such-file.json")}, "", 2},
		{"two-files", []string{"decode", f("trail-log.json"), f("not-json.txt")}, "", 2},
		{"unknown-flag", []string{"decode", "--yaml"}, "", 2},
	})
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

// TestEventDecodeGzip: a gzip-compressed CloudTrail log file, as a trail
// delivers it to S3 (.json.gz), decodes as the file itself does, by its
// magic bytes whatever its name; a broken or oversized one is bad input.
func TestEventDecodeGzip(t *testing.T) {
	plain, err := os.ReadFile(filepath.Join("testdata", "event", "trail-log.json"))
	if err != nil {
		t.Fatal(err)
	}
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	compressed := gz(plain)
	logGz := write("111122223333_CloudTrail_us-east-1_20261126T0930Z_a1b2c3d4.json.gz", compressed)
	for _, flags := range [][]string{nil, {"--json"}, {"--hide-ignored"}} {
		wantCode, wantOut, wantErr := runCLI(append([]string{"event", "decode", filepath.Join("testdata", "event", "trail-log.json")}, flags...))
		for _, args := range [][]string{
			append([]string{"event", "decode", logGz}, flags...),
			append([]string{"event", "decode", write("no-suffix", compressed)}, flags...),
		} {
			code, stdout, stderr := runCLI(args)
			if code != wantCode || stdout != wantOut || stderr != wantErr {
				t.Errorf("fsxkms %s: exit %d, stdout:\n%s\nstderr:\n%s\nwant what the plain file gives (exit %d):\n%s", strings.Join(args, " "), code, stdout, stderr, wantCode, wantOut)
			}
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"event", "decode"}, bytes.NewReader(compressed), &stdout, &stderr); code != 0 || stdout.String() == "" {
		t.Errorf("gzip on stdin: exit %d, stderr %s", code, &stderr)
	}

	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"truncated.json.gz", compressed[:len(compressed)/2], "reading " + filepath.Join(dir, "truncated.json.gz") + ": gzip: unexpected EOF"},
		{"bomb.json.gz", gz(bytes.Repeat([]byte(" "), 10<<20+10)), "more than the 10485760-byte limit"},
	} {
		code, stdout, stderr := runCLI([]string{"event", "decode", write(tt.name, tt.data)})
		if code != 2 || stdout != "" || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.name, code, stdout, stderr, tt.want)
		}
	}
}
