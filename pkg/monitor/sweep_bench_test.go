package monitor_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/bench"
	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

var (
	benchOnce  sync.Once
	benchWorld *bench.World
	benchErr   error
)

// bigWorld builds, once per benchmark process, 1,000 keys (982 healthy, 2
// of each broken kind) used by 5,000 FSx file systems and backups.
func bigWorld(b *testing.B) *bench.World {
	b.Helper()
	benchOnce.Do(func() {
		start := time.Now()
		cfg, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			benchErr = err
			return
		}
		benchWorld, benchErr = bench.Build(context.Background(), kms.NewFromConfig(cfg),
			bench.Spec{Healthy: 982, EachBroken: 2, Resources: 5000, AliasPrefix: "bench"})
		fmt.Printf("built 1,000 keys and 5,000 FSx resources in %s\n", time.Since(start).Round(time.Millisecond))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchWorld
}

// benchMonitor is monitorWith for a benchmark: alerts are rendered and
// dropped, and with stateTable the monitor keeps its alert state there.
// It returns the transport that counts the monitor's AWS calls.
func benchMonitor(b *testing.B, stateTable string) (*monitor.Monitor, *timedTransport) {
	b.Helper()
	b.Setenv("AWS_CA_BUNDLE", "") // a CA bundle would make the SDK replace the transport; the stack is plain HTTP
	tt := &timedTransport{}
	m, _ := monitorWith(b, map[string]string{"STATE_TABLE": stateTable}, config.WithHTTPClient(&http.Client{Transport: tt}))
	m.Alerts = alert.NewWriter(io.Discard)
	return m, tt
}

// heapPeak samples HeapInuse until stop is closed and returns the peak.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

func totalCalls(st *devstack.Stack) (kmsCalls, fsxCalls int) {
	for _, n := range st.KMS.Calls() {
		kmsCalls += n
	}
	for _, n := range st.FSx.Calls() {
		fsxCalls += n
	}
	return kmsCalls, fsxCalls
}

// applyWithLatency loads w into the stack and adds 20 ms of latency to every
// KMS and FSx call until b ends.
func applyWithLatency(b *testing.B, w *bench.World, st *devstack.Stack) {
	b.Helper()
	if err := w.Apply(st); err != nil {
		b.Fatal(err)
	}
	st.KMS.SetLatency(20 * time.Millisecond)
	st.FSx.SetLatency(20 * time.Millisecond)
	b.Cleanup(func() {
		st.KMS.SetLatency(0)
		st.FSx.SetLatency(0)
	})
}

// BenchmarkSweep sweeps 1,000 keys and 5,000 FSx resources with 20 ms of
// latency added to every KMS and FSx call, at concurrency 1, 8 and 32. It
// reports the wall time of one sweep, the AWS calls the stack answered and
// the peak heap in use during the sweep. Concurrency 1 takes about 90 s:
//
//	go test -run '^$' -bench BenchmarkSweep$ -benchtime 1x ./pkg/monitor/
func BenchmarkSweep(b *testing.B) {
	w := bigWorld(b)
	st := devstack.Current()
	for _, conc := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			applyWithLatency(b, w, st)
			m, _ := benchMonitor(b, "")
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			var (
				s    monitor.Summary
				peak uint64
				wall time.Duration
			)
			b.ResetTimer()
			for range b.N {
				st.KMS.ResetCalls()
				st.FSx.ResetCalls()
				stop := make(chan struct{})
				peakc := heapPeak(stop)
				start := time.Now()
				var err error
				s, _, err = m.Sweep(context.Background(), monitor.SweepOptions{Concurrency: conc, Summary: monitor.SummaryNever})
				wall += time.Since(start)
				close(stop)
				peak = max(peak, <-peakc)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			kmsCalls, fsxCalls := totalCalls(st)
			if s.KeysChecked != 1000 || s.Resources != 5000 || s.AWSCalls != kmsCalls+fsxCalls {
				b.Fatalf("summary %+v; stack answered %d KMS + %d FSx calls", s, kmsCalls, fsxCalls)
			}
			b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s/sweep")
			b.ReportMetric(float64(kmsCalls+fsxCalls), "aws-calls/sweep")
			b.ReportMetric(float64(kmsCalls), "kms-calls/sweep")
			b.ReportMetric(float64(fsxCalls), "fsx-calls/sweep")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "alloc-MiB/sweep")
		})
	}
}

// BenchmarkSweepCalls shows that a sweep's AWS calls grow with the keys
// plus the FSx pages, not with keys times resources: the same sweep over
// 100 or 1,000 keys and 1,000 or 5,000 resources, without added latency.
//
//	go test -run '^$' -bench BenchmarkSweepCalls -benchtime 1x ./pkg/monitor/
func BenchmarkSweepCalls(b *testing.B) {
	full := bigWorld(b)
	st := devstack.Current()
	for _, size := range []struct{ keys, resources int }{{100, 1000}, {100, 5000}, {1000, 1000}, {1000, 5000}} {
		b.Run(fmt.Sprintf("keys=%d/resources=%d", size.keys, size.resources), func(b *testing.B) {
			w := &bench.World{Keys: full.Keys[len(full.Keys)-size.keys:]} // the broken keys are last
			w.Spread(size.resources)
			if err := w.Apply(st); err != nil {
				b.Fatal(err)
			}
			m, _ := benchMonitor(b, "")
			var s monitor.Summary
			for range b.N {
				st.KMS.ResetCalls()
				st.FSx.ResetCalls()
				var err error
				if s, _, err = m.Sweep(context.Background(), monitor.SweepOptions{Concurrency: 32, NoAlerts: true}); err != nil {
					b.Fatal(err)
				}
			}
			kmsCalls, fsxCalls := totalCalls(st)
			b.ReportMetric(float64(s.KeysChecked), "keys")
			b.ReportMetric(float64(kmsCalls), "kms-calls/sweep")
			b.ReportMetric(float64(fsxCalls), "fsx-calls/sweep")
			b.ReportMetric(float64(kmsCalls+fsxCalls), "aws-calls/sweep")
		})
	}
}

// BenchmarkSweepState sweeps the same 1,000 keys and 5,000 FSx resources at
// concurrency 8, with 20 ms of latency added to every KMS and FSx call (the
// devstack's DynamoDB gets none), without and with the alert state: the
// first sweep with state opens an item per problem and alerts on it, a
// repeat sweep finds everything already said and stays silent. It reports
// the wall time, the alerts sent and the DynamoDB calls per sweep.
//
//	go test -run '^$' -bench BenchmarkSweepState -benchtime 1x ./pkg/monitor/
func BenchmarkSweepState(b *testing.B) {
	w := bigWorld(b)
	st := devstack.Current()
	applyWithLatency(b, w, st)
	b.Setenv("AWS_CA_BUNDLE", "")
	table := stateTable(b)
	sweep := func(b *testing.B, withState bool) {
		m, tt := benchMonitor(b, "")
		if withState {
			m, tt = benchMonitor(b, table)
		}
		var sum monitor.Summary
		var err error
		var wall time.Duration
		b.ResetTimer()
		for range b.N {
			tt.reset()
			start := time.Now()
			if sum, _, err = m.Sweep(context.Background(), monitor.SweepOptions{Concurrency: 8}); err != nil {
				b.Fatal(err)
			}
			wall += time.Since(start)
		}
		if sum.KeysChecked != 1000 {
			b.Fatalf("summary %+v", sum)
		}
		b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s/sweep")
		b.ReportMetric(float64(sum.Alerts), "alerts/sweep")
		b.ReportMetric(float64(tt.dynamo.Load()), "dynamodb-calls/sweep")
	}
	b.Run("state=off", func(b *testing.B) { sweep(b, false) })
	b.Run("state=on/first", func(b *testing.B) { sweep(b, true) })
	b.Run("state=on/repeat", func(b *testing.B) { sweep(b, true) })
}
