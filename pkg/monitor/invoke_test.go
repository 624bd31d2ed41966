package monitor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// TestInvokeRawBytes: Invoke takes the raw payload, so input that is not
// JSON, or nested too deep for encoding/json, reaches fsxkms: it is logged,
// clipped, and returned as a bounded error.
func TestInvokeRawBytes(t *testing.T) {
	world(t)
	for _, tc := range []struct{ name, raw string }{
		{"not JSON", "\x00\x01 not json\n" + strings.Repeat("x", 1<<20)},
		{"too deep", strings.Repeat("[", 20000) + strings.Repeat("]", 20000)},
		{"two shapes", `{"Records": [], "detail-type": "AWS API Call via CloudTrail", "source": "aws.kms", "detail": {}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newMonitor(t)
			var logs bytes.Buffer
			m.Log = slog.New(slog.NewJSONHandler(&logs, nil))
			out, err := m.Invoke(context.Background(), []byte(tc.raw))
			if err == nil || out != nil {
				t.Fatalf("Invoke = %q, %v; want an error", out, err)
			}
			if len(err.Error()) > 4096 {
				t.Errorf("error is %d bytes", len(err.Error()))
			}
			if !strings.Contains(logs.String(), `"msg":"event not decoded"`) || !strings.Contains(logs.String(), `"input":`) {
				t.Errorf("not logged with the input:\n%.2000s", logs.String())
			}
			if logs.Len() > 8192 {
				t.Errorf("logs are %d bytes", logs.Len())
			}
		})
	}
}

// TestBreakingWithoutKey: a breaking event whose key identifier is unusable
// is ignored, logged at WARN and counted.
func TestBreakingWithoutKey(t *testing.T) {
	world(t)
	raw, err := os.ReadFile("../kmsevent/testdata/records/retiregrant-placeholders.json")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := newMonitor(t)
	var logs, metrics bytes.Buffer
	m.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	m.Metrics = &metrics
	out, err := m.Invoke(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Ignored, Unkeyed int }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if res.Ignored != 1 || res.Unkeyed != 1 {
		t.Errorf("result %s, want one ignored and unkeyed", out)
	}
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"breaking event names no usable key: not judged"`) {
		t.Errorf("no WARN line:\n%s", logs.String())
	}
	if !strings.Contains(metrics.String(), `"BreakingWithoutKey":1`) {
		t.Errorf("not counted in EMF:\n%s", metrics.String())
	}
}
