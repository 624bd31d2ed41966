package scenario_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

// TestEventsFolder checks that events/ holds exactly the samples genevents
// writes (run `go run ./internal/cmd/genevents` after changing them), and
// that each decodes to an event the monitor acts on.
func TestEventsFolder(t *testing.T) {
	dir := filepath.Join("..", "..", "events")
	samples := scenario.Samples(kmsevent.RelevantEventNames(), kmsevent.NativeDetailTypes())
	want := map[string]bool{}
	for _, s := range samples {
		want[s.File] = true
		got, err := os.ReadFile(filepath.Join(dir, s.File))
		if err != nil {
			t.Errorf("%v (run: go run ./internal/cmd/genevents)", err)
			continue
		}
		if !bytes.Equal(got, s.Event) {
			t.Errorf("events/%s is stale (run: go run ./internal/cmd/genevents)", s.File)
		}
		evs, err := kmsevent.Decode(s.Event)
		if err != nil || len(evs) != 1 {
			t.Errorf("%s: decode: %v (%d events)", s.File, err, len(evs))
			continue
		}
		ev := evs[0]
		if ev.Relevance == kmsevent.Ignored {
			t.Errorf("%s: ignored: %s", s.File, ev.Reason)
		}
		if len(ev.KeyARNs) == 0 && ev.CustomKeyStoreID == "" && len(ev.Aliases) == 0 {
			t.Errorf("%s: names no key, alias or key store", s.File)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("events/%s is not a generated sample: remove it or add it to scenario.Samples", e.Name())
		}
	}
}
