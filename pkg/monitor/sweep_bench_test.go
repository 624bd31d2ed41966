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

	"github.com/aws/aws-sdk-go-v2/service/fsx"
	"github.com/fsxkms/fsxkms/internal/bench"
	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/inventory"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

// benchWorld has 1,000 keys (982 healthy, 2 of each broken kind) used by
// 5,000 FSx file systems and backups; the benchmarks print how long it took
// to build.
var benchWorld = &builtWorld{spec: bench.Spec{Healthy: 982, EachBroken: 2, Resources: 5000, AliasPrefix: "bench"}, announce: true}

// bigWorld returns benchWorld, built once per benchmark process.
func bigWorld(b *testing.B) *bench.World {
	b.Helper()
	return benchWorld.get(b)
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

// benchOrg is the organization's Readers for BenchmarkOrgSweep: every
// account and Region is read with the stack's own clients (one local-kms
// cannot hold 200 accounts), each with an FSx inventory of its own, and
// making an account's Reader counts as its one AssumeRole, as monitor.Org
// assumes a member's role once per account and caches the credentials.
type benchOrg struct {
	kms     *kms.Client
	fsx     *fsx.Client
	own     string
	mu      sync.Mutex
	readers map[string]*monitor.Reader
	assumed int
}

func (o *benchOrg) Reader(_ context.Context, account, region string) (*monitor.Reader, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := account + "/" + region
	if r, ok := o.readers[k]; ok {
		return r, nil
	}
	if account != o.own {
		o.assumed++
	}
	r := &monitor.Reader{Account: account, Region: region, KMS: o.kms,
		Inventory: &inventory.Source{FSx: o.fsx, KMS: o.kms, NoCache: true}}
	o.readers[k] = r
	return r, nil
}

// BenchmarkOrgSweep is the organization's sweep: 100 accounts x 2 Regions,
// 25 keys each (5,000 keys judged), 20 ms added to every KMS and FSx call,
// the work items judged by 1, 8 and 32 workers at once (the SQS event
// source's maximum concurrency), each reading 8 keys at once as
// sweep-worker does. It reports the wall time, the AWS calls (AssumeRole
// once per account and sweep), and the peak heap in use per worker.
//
//	go test -run '^$' -bench BenchmarkOrgSweep -benchtime 1x ./pkg/monitor/
func BenchmarkOrgSweep(b *testing.B) {
	full := bigWorld(b)
	st := devstack.Current()
	w := &bench.World{Keys: full.Keys[:25]} // healthy keys: the broken ones are last
	w.Spread(100)
	applyWithLatency(b, w, st)
	var targets []monitor.Target
	for i := range 100 {
		for _, r := range []string{"us-east-1", "eu-west-1"} {
			targets = append(targets, monitor.Target{Account: fmt.Sprintf("%012d", 200000000000+i), Region: r})
		}
	}
	cfg := awsConfig(b)
	for _, workers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			m, _ := benchMonitor(b, "")
			var org *benchOrg
			var peak uint64
			var wall time.Duration
			var keys int
			b.ResetTimer()
			for range b.N {
				org = &benchOrg{kms: kms.NewFromConfig(cfg), fsx: fsx.NewFromConfig(cfg), own: st.Account, readers: map[string]*monitor.Reader{}}
				m.Readers = org
				st.KMS.ResetCalls()
				st.FSx.ResetCalls()
				runtime.GC()
				stop := make(chan struct{})
				peakc := heapPeak(stop)
				start := time.Now()
				items := make(chan monitor.Target)
				go func() {
					for _, t := range targets {
						items <- t
					}
					close(items)
				}()
				var mu sync.Mutex
				keys = 0
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						for t := range items {
							s, _, err := m.SweepAccount(context.Background(), t, monitor.SweepOptions{Concurrency: 8, Summary: monitor.SummaryNever})
							if err != nil {
								b.Error(err)
							}
							mu.Lock()
							keys += s.KeysChecked
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				wall += time.Since(start)
				close(stop)
				peak = max(peak, <-peakc)
			}
			b.StopTimer()
			if keys != 5000 {
				b.Fatalf("%d keys judged, want 5,000", keys)
			}
			kmsCalls, fsxCalls := totalCalls(st)
			b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s/sweep")
			b.ReportMetric(float64(kmsCalls+fsxCalls+org.assumed), "aws-calls/sweep")
			b.ReportMetric(float64(org.assumed), "assume-role/sweep")
			b.ReportMetric(float64(peak)/(1<<20)/float64(workers), "peak-heap-MiB/worker")
		})
	}
}
