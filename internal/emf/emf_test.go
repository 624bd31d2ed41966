package emf

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestWrite pins the bytes of a line: CloudWatch reads the metrics of both
// emitters (the monitor, the Security Hub exporter) from exactly this form.
func TestWrite(t *testing.T) {
	at := time.UnixMilli(1764580000000)
	for _, tc := range []struct {
		name, stack string
		values      map[string]float64
		want        string
	}{
		{
			name:   "with stack",
			stack:  "fsxkms-prod",
			values: map[string]float64{"SecurityHubImported": 3, "DurationMs": 1.5},
			want: `{"DurationMs":1.5,"Function":"kms-events","SecurityHubImported":3,"Stack":"fsxkms-prod",` +
				`"_aws":{"CloudWatchMetrics":[{"Dimensions":[["Stack","Function"]],"Metrics":[` +
				`{"Name":"DurationMs","Unit":"Milliseconds"},{"Name":"SecurityHubImported","Unit":"Count"}],` +
				`"Namespace":"fsxkms"}],"Timestamp":1764580000000}}` + "\n",
		},
		{
			name:   "without stack",
			values: map[string]float64{"Events": 0},
			want: `{"Events":0,"Function":"kms-events",` +
				`"_aws":{"CloudWatchMetrics":[{"Dimensions":[["Function"]],"Metrics":[` +
				`{"Name":"Events","Unit":"Count"}],"Namespace":"fsxkms"}],"Timestamp":1764580000000}}` + "\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := Write(&b, at, tc.stack, "kms-events", tc.values); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("Write:\n got %s\nwant %s", b.String(), tc.want)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestWriteError(t *testing.T) {
	err := Write(failingWriter{}, time.Now(), "", "sweep", map[string]float64{"Events": 1})
	if err == nil || !strings.Contains(err.Error(), "write EMF: closed") {
		t.Errorf("Write to a failing writer: %v, want write EMF: closed", err)
	}
}
