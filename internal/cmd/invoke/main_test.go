package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

// TestChangesCoverEveryEvent checks the table against the decoder's: every
// event name the monitor acts on has a way to be made, or a reason it
// cannot, and a restoring event's "before" is a breaking event invoke can
// make.
func TestChangesCoverEveryEvent(t *testing.T) {
	names := append(kmsevent.RelevantEventNames(), kmsevent.NativeDetailTypes()...)
	for _, n := range names {
		c, ok := changes[n]
		switch {
		case !ok:
			t.Errorf("%s: no entry in changes: make invoke would not say how it reproduces it", n)
		case (c.apply == nil) == (c.why == ""):
			t.Errorf("%s: want either apply or why", n)
		case c.before != "" && (changes[c.before].apply == nil || changes[c.before].before != ""):
			t.Errorf("%s: before %s is not an event invoke makes directly", n, c.before)
		}
	}
	for n := range changes {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+n+" ") {
			t.Errorf("changes has %s, which the decoder does not act on", n)
		}
	}
}

// sections splits invoke's output into one section per event file.
func sections(out string) map[string]string {
	got := map[string]string{}
	file := ""
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, "events/") || strings.HasPrefix(line, "/") {
			file = filepath.Base(strings.TrimSuffix(strings.Fields(line)[0], ":"))
		}
		if file != "" {
			got[file] += line + "\n"
		}
	}
	return got
}

// eventsDir is the repository's events/, for a test that starts the local
// stack and the function: it skips the test with -short.
func eventsDir(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the local stack and the function (-short)")
	}
	root, err := devstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "events")
}

// invoke runs invoke with args and returns what it printed on stdout; it
// ends the test when invoke exits other than 0.
func invoke(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if rc := run(context.Background(), args, &stdout, &stderr); rc != 0 {
		t.Fatalf("invoke exited %d\n%s\n%s", rc, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestEverySample runs every file of events/ as `make invoke` does and
// checks that each says what it did on the local stack and what the
// function made of it: the alert, or why there is none.
func TestEverySample(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(eventsDir(t), "*.json"))
	if len(files) < 20 {
		t.Fatalf("found %d files in events/, want the samples", len(files))
	}
	got := sections(invoke(t, files...))
	for _, f := range files {
		s, ok := got[filepath.Base(f)]
		if !ok {
			t.Errorf("%s: no section in the output", filepath.Base(f))
			continue
		}
		for _, bad := range []string{"COULD NOT MAKE THE CHANGE", "FAILED"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s:\n%s", bad, s)
			}
		}
		if !strings.Contains(s, "  local stack: ") || !strings.Contains(s, "  kms-events: ") ||
			!(strings.Contains(s, "  alert: ") || strings.Contains(s, "  no alert published")) {
			t.Errorf("section does not say what was made, what the function did and which alert it sent:\n%s", s)
		}
		if strings.Contains(s, "  no alert published") && !regexp.MustCompile(`kms-events: (ignored|.*(nothing to say|not judged for it|silent: ))`).MatchString(s) {
			t.Errorf("no alert, and no reason given:\n%s", s)
		}
	}
	// What the events the local stack could not make before must now say.
	for file, want := range map[string]string{
		"KMS-CMK-Deletion.json":                     "alias/fsx-prod: NONCOMPLIANT KEY_NOT_FOUND: alert sent (NEW)",
		"DeleteKey.json":                            "alias/fsx-prod: NONCOMPLIANT KEY_NOT_FOUND: alert sent (NEW)",
		"DeleteImportedKeyMaterial.json":            "alias/fsx-prod: NONCOMPLIANT KEY_PENDING_IMPORT: alert sent (NEW)",
		"KMS-Imported-Key-Material-Expiration.json": "alias/fsx-prod: NONCOMPLIANT KEY_PENDING_IMPORT: alert sent (NEW)",
		"DisconnectCustomKeyStore.json":             "alias/fsx-prod: NONCOMPLIANT KEY_UNAVAILABLE: alert sent (NEW)",
		"ConnectCustomKeyStore.json":                "alias/fsx-prod: COMPLIANT RESTORED: alert sent (RESOLVED)",
		"ImportKeyMaterial.json":                    "alias/fsx-prod: COMPLIANT RESTORED: alert sent (RESOLVED)",
		"EnableKey.json":                            "alias/fsx-prod: COMPLIANT RESTORED: alert sent (RESOLVED)",
		"CancelKeyDeletion.json":                    "alias/fsx-prod: NONCOMPLIANT KEY_DISABLED: alert sent (NEW, RESOLVED)",
		"UpdatePrimaryRegion.json":                  "alias/fsx-prod: UNKNOWN KEY_UNAVAILABLE: alert sent (NEW)",
		"RevokeGrant.json":                          "alias/fsx-prod: COMPLIANT GRANT_REVOKED: alert sent (NEW)",
		"DisableKey-not-FSx-key.json":               "kms-events: ignored the event: key not used by FSx",
		"ReplicateKey.json":                         "NOT REPRODUCED: local-kms has no multi-Region keys",
	} {
		if !strings.Contains(got[file], want) {
			t.Errorf("%s does not say %q:\n%s", file, want, got[file])
		}
	}
}

// TestKeepSaysWhySilent runs one event twice in sequence: the second is
// silent, and the output says it is because the alert state holds it.
func TestKeepSaysWhySilent(t *testing.T) {
	f := filepath.Join(eventsDir(t), "DisableKey.json")
	out := invoke(t, "-keep", f, f)
	parts := strings.Split(out, "\n\n"+f+":")
	if len(parts) != 3 {
		t.Fatalf("want the header and two sections:\n%s", out)
	}
	first, second := parts[1], parts[2]
	if !strings.Contains(first, "KEY_DISABLED: alert sent (NEW)") ||
		!strings.Contains(second, "KEY_DISABLED: silent: already said; the alert state (STATE_TABLE fsxkms-state)") ||
		!strings.Contains(second, "no alert published") {
		t.Errorf("want an alert, then silence said to be the alert state's:\n%s", out)
	}
}

func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		args        []string
		rc          int
		out, errOut string
	}{
		{[]string{"-h"}, 0, "usage: invoke", ""},
		{nil, 2, "", "usage: invoke"},
		{[]string{"-bogus", "x.json"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"-full", "-short", "x.json"}, 2, "", "usage: invoke"},
		{[]string{"no-such-file.json"}, 2, "", "no-such-file.json"},
	} {
		var stdout, stderr bytes.Buffer
		rc := run(context.Background(), tt.args, &stdout, &stderr)
		if rc != tt.rc || !strings.Contains(stdout.String(), tt.out) || !strings.Contains(stderr.String(), tt.errOut) ||
			(tt.out == "" && stdout.Len() > 0) {
			t.Errorf("invoke %q = %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, rc, stdout.String(), stderr.String(), tt.rc, tt.out, tt.errOut)
		}
	}
}
