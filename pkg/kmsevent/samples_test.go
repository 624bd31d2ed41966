package kmsevent

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedDir finds ../shared beside the project: $FSXKMS_SHARED, else
// ../../../shared from this package. It returns "" when neither exists.
func sharedDir() string {
	for _, dir := range []string{os.Getenv("FSXKMS_SHARED"), filepath.Join("..", "..", "..", "shared")} {
		if dir == "" {
			continue
		}
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir
		}
	}
	return ""
}

// TestSharedSamples decodes every public sample in ../shared/samples/events
// and wants each event to name at least one key ARN or be ignored with a
// reason. The samples are not part of the project; without them the test
// is skipped.
func TestSharedSamples(t *testing.T) {
	shared := sharedDir()
	if shared == "" {
		t.Skip("../shared not found (set FSXKMS_SHARED); skipping the public samples")
	}
	files, err := filepath.Glob(filepath.Join(shared, "samples", "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("%s is there but holds no samples in samples/events", shared)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			events, err := Decode(raw)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(events) == 0 {
				t.Fatal("Decode gave no events")
			}
			for i, e := range events {
				switch {
				case e.Relevance == Ignored && e.Reason != "":
					t.Logf("event %d %s: ignored: %s", i, e.EventName, e.Reason)
				case e.Relevance == Ignored:
					t.Errorf("event %d %s: ignored without a reason", i, e.EventName)
				case len(e.KeyARNs) == 0:
					t.Errorf("event %d %s: %s but no key ARN (aliases %q, warnings %q)", i, e.EventName, e.Relevance, e.Aliases, e.Warnings)
				default:
					t.Logf("event %d %s: %s %q", i, e.EventName, e.Relevance, e.KeyARNs)
				}
			}
		})
	}
}
