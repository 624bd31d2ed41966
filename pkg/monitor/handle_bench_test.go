package monitor_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

// timedTransport counts the HTTP calls the SDK makes and the time spent in
// them, so the handler's own time can be told apart from AWS latency.
type timedTransport struct {
	calls  atomic.Int64
	dynamo atomic.Int64 // the calls among them to DynamoDB (the alert state)
	spent  atomic.Int64 // nanoseconds
}

func (t *timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := http.DefaultTransport.RoundTrip(r)
	t.calls.Add(1)
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_") {
		t.dynamo.Add(1)
	}
	t.spent.Add(int64(time.Since(start)))
	return resp, err
}

func (t *timedTransport) reset() { t.calls.Store(0); t.dynamo.Store(0); t.spent.Store(0) }

// BenchmarkHandleEvent handles one relevant event with a warm inventory,
// against the local stack, without and with the alert state (STATE_TABLE on
// the devstack's DynamoDB):
//   - compliant: a PutKeyPolicy that leaves the key compliant, nothing open;
//   - alert: a DisableKey on a disabled key that five FSx resources use.
//     Without state it alerts every time; with state, "alert/repeat" is the
//     same event once the problem is open (silent) and "alert/new" a
//     problem opened afresh each time (its item is deleted between
//     iterations, outside the timer).
//
// Alerts go to io.Discard. It reports the AWS calls and the DynamoDB calls
// per event, and the handler's time without the time spent waiting on AWS
// (here, on loopback emulators).
//
//	go test -run '^$' -bench HandleEvent -benchmem ./pkg/monitor
func BenchmarkHandleEvent(b *testing.B) {
	ctx := context.Background()
	client, _ := world(b)
	prod := scenario.KeyARN(scenario.ProdKeyID)
	// A CA bundle would make the SDK replace our transport; the stack is plain HTTP.
	b.Setenv("AWS_CA_BUNDLE", "")
	table := stateTable(b)
	monitorFor := func(b *testing.B, withState bool) (*monitor.Monitor, *timedTransport) {
		if withState {
			return benchMonitor(b, table)
		}
		return benchMonitor(b, "")
	}
	// forget deletes the state items of prod, outside the timer.
	forget := func(b *testing.B, m *monitor.Monitor) {
		b.StopTimer()
		defer b.StartTimer()
		items, err := m.State.Items(ctx, prod)
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range items {
			if err := m.State.Supersede(ctx, it); err != nil {
				b.Fatal(err)
			}
		}
	}
	run := func(b *testing.B, m *monitor.Monitor, tt *timedTransport, ev []byte, between func(*testing.B)) {
		if _, err := m.HandleEvent(ctx, ev); err != nil { // warms the inventory
			b.Fatal(err)
		}
		var calls, dynamo, spent, took int64
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if between != nil {
				between(b) // its own calls and time are not counted
			}
			c, d, sp, start := tt.calls.Load(), tt.dynamo.Load(), tt.spent.Load(), time.Now()
			if _, err := m.HandleEvent(ctx, ev); err != nil {
				b.Fatal(err)
			}
			took += int64(time.Since(start))
			calls, dynamo, spent = calls+tt.calls.Load()-c, dynamo+tt.dynamo.Load()-d, spent+tt.spent.Load()-sp
		}
		n := float64(b.N)
		b.ReportMetric(float64(calls)/n, "aws-calls/op")
		b.ReportMetric(float64(dynamo)/n, "dynamodb-calls/op")
		b.ReportMetric(float64(took-spent)/n, "handler-ns/op")
	}
	compliant := scenario.APICall(scenario.CallFor("PutKeyPolicy", prod))
	disable := scenario.APICall(scenario.CallFor("DisableKey", prod))
	disabled := func(b *testing.B) func() {
		if _, err := client.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(prod)}); err != nil {
			b.Fatal(err)
		}
		return func() { client.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(prod)}) }
	}
	b.Run("state=off/compliant", func(b *testing.B) {
		m, tt := monitorFor(b, false)
		run(b, m, tt, compliant, nil)
	})
	b.Run("state=off/alert", func(b *testing.B) {
		defer disabled(b)()
		m, tt := monitorFor(b, false)
		run(b, m, tt, disable, nil)
	})
	b.Run("state=on/compliant", func(b *testing.B) {
		m, tt := monitorFor(b, true)
		forget(b, m)
		run(b, m, tt, compliant, nil)
	})
	b.Run("state=on/alert/repeat", func(b *testing.B) {
		defer disabled(b)()
		m, tt := monitorFor(b, true)
		run(b, m, tt, disable, nil)
	})
	b.Run("state=on/alert/new", func(b *testing.B) {
		defer disabled(b)()
		m, tt := monitorFor(b, true)
		run(b, m, tt, disable, func(b *testing.B) { forget(b, m) })
	})
}
