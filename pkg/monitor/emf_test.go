package monitor

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// TestEMF: one Embedded Metric Format line, its units by name, and the
// dimensions Stack and Function (Function alone without a stack name).
func TestEMF(t *testing.T) {
	for _, tc := range []struct {
		stack string
		dims  []string
	}{{"fsxkms-prod", []string{"Stack", "Function"}}, {"", []string{"Function"}}} {
		var b bytes.Buffer
		if err := writeEMF(&b, time.UnixMilli(1764580000000), tc.stack, "kms-events", map[string]float64{"AlertsSent": 2, "DurationMs": 1.5}); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			AWS struct {
				Timestamp         int64
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name, Unit string }
				}
			} `json:"_aws"`
			Function, Stack string
			AlertsSent      float64
			DurationMs      float64
		}
		if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatalf("%s: %v", b.String(), err)
		}
		m := doc.AWS.CloudWatchMetrics[0]
		if doc.AWS.Timestamp != 1764580000000 || m.Namespace != "fsxkms" || !slices.Equal(m.Dimensions[0], tc.dims) ||
			doc.Function != "kms-events" || doc.Stack != tc.stack || doc.AlertsSent != 2 || doc.DurationMs != 1.5 {
			t.Errorf("EMF line %s", b.String())
		}
		units := map[string]string{}
		for _, x := range m.Metrics {
			units[x.Name] = x.Unit
		}
		if units["AlertsSent"] != "Count" || units["DurationMs"] != "Milliseconds" {
			t.Errorf("units %v", units)
		}
	}
}
