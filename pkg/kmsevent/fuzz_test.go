package kmsevent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds Decode arbitrary bytes, seeded with every fixture in
// testdata (the checked-in corpus in testdata/fuzz/FuzzDecode adds more).
// Decode must not panic, and what it returns must hold its promises.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob("testdata/*/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range files {
		if raw, err := os.ReadFile(path); err == nil {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		events, err := Decode(raw)
		if err != nil && err.Error() == "" {
			t.Fatal("error with an empty message")
		}
		for i, e := range events {
			switch e.Relevance {
			case Breaking, Restoring, Notable, Attempted, Ignored:
			default:
				t.Fatalf("event %d: relevance %q", i, e.Relevance)
			}
			if e.Reason == "" || e.EventName == "" || e.KeyARNs == nil {
				t.Fatalf("event %d: reason %q, name %q, keys %v", i, e.Reason, e.EventName, e.KeyARNs)
			}
			for _, arn := range e.KeyARNs {
				if kind, _, err := parseARN(arn); err != nil || kind != "key" {
					t.Fatalf("event %d: key ARN %q does not parse as a key ARN: %v", i, arn, err)
				}
			}
			if e.Relevance != Ignored && len(e.KeyARNs) == 0 && len(e.Aliases) == 0 && e.CustomKeyStoreID == "" {
				t.Fatalf("event %d: %s without a key, alias or key store", i, e.Relevance)
			}
			if _, err := json.Marshal(e); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
		}
	})
}
