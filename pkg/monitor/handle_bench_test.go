package monitor_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

// timedTransport counts the HTTP calls the SDK makes and the time spent in
// them, so the handler's own time can be told apart from AWS latency.
type timedTransport struct {
	calls atomic.Int64
	spent atomic.Int64 // nanoseconds
}

func (t *timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := http.DefaultTransport.RoundTrip(r)
	t.calls.Add(1)
	t.spent.Add(int64(time.Since(start)))
	return resp, err
}

// BenchmarkHandleEvent handles one relevant event with a warm inventory,
// against the local stack: a PutKeyPolicy that leaves the key compliant (no
// alert), and a DisableKey on a disabled key that five FSx resources use
// (one CRITICAL alert, written to io.Discard). It reports the AWS calls per
// event and the handler's time without the time spent waiting on AWS (here,
// on loopback emulators).
//
//	go test -run '^$' -bench HandleEvent -benchmem ./pkg/monitor
func BenchmarkHandleEvent(b *testing.B) {
	ctx := context.Background()
	client, _ := world(b)
	prod := scenario.KeyARN(scenario.ProdKeyID)
	// A CA bundle would make the SDK replace our transport; the stack is plain HTTP.
	b.Setenv("AWS_CA_BUNDLE", "")
	s, err := monitor.SettingsFromEnv(func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	tt := &timedTransport{}
	m, err := monitor.NewAWS(ctx, s, "bench", config.WithHTTPClient(&http.Client{Transport: tt}))
	if err != nil {
		b.Fatal(err)
	}
	m.Alerts = alert.NewWriter(io.Discard)
	m.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	m.Metrics = io.Discard

	run := func(b *testing.B, ev []byte) {
		if _, err := m.HandleEvent(ctx, ev); err != nil { // warms the inventory
			b.Fatal(err)
		}
		tt.calls.Store(0)
		tt.spent.Store(0)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if _, err := m.HandleEvent(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		elapsed := time.Since(start)
		b.ReportMetric(float64(tt.calls.Load())/float64(b.N), "aws-calls/op")
		b.ReportMetric(float64(elapsed-time.Duration(tt.spent.Load()))/float64(b.N), "handler-ns/op")
	}
	b.Run("compliant", func(b *testing.B) {
		run(b, scenario.APICall(scenario.CallFor("PutKeyPolicy", prod)))
	})
	b.Run("alert", func(b *testing.B) {
		if _, err := client.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(prod)}); err != nil {
			b.Fatal(err)
		}
		defer client.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(prod)})
		run(b, scenario.APICall(scenario.CallFor("DisableKey", prod)))
	})
}
