package monitor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/bench"
	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

// builtWorld is a bench world of spec, built on the local stack's KMS once
// per test process, the first time a test or benchmark asks for it; with
// announce, how long that took is printed.
type builtWorld struct {
	spec     bench.Spec
	announce bool
	once     sync.Once
	w        *bench.World
	err      error
}

// get returns the world, building it the first time.
func (bw *builtWorld) get(t testing.TB) *bench.World {
	t.Helper()
	cfg := awsConfig(t)
	bw.once.Do(func() {
		start := time.Now()
		bw.w, bw.err = bench.Build(context.Background(), kms.NewFromConfig(cfg), bw.spec)
		if bw.err == nil && bw.announce {
			fmt.Printf("built %d keys and %d FSx resources in %s\n", len(bw.w.Keys), len(bw.w.Resources), time.Since(start).Round(time.Millisecond))
		}
	})
	if bw.err != nil {
		t.Fatal(bw.err)
	}
	return bw.w
}

// sweepWorld has 35 keys (17 healthy and 2 of each broken kind, 2 of them
// deleted) used by 300 FSx file systems and backups (12 of them on
// FSx-owned keys).
var sweepWorld = &builtWorld{spec: bench.Spec{Healthy: 17, EachBroken: 2, Resources: 300, AliasPrefix: "sweep"}}

// sweepSetup loads sweepWorld into the stack and returns it.
func sweepSetup(t *testing.T) *bench.World {
	t.Helper()
	w := sweepWorld.get(t)
	if err := w.Apply(devstack.Current()); err != nil {
		t.Fatal(err)
	}
	return w
}

var (
	// A key with findings also has its aliases read, for the alert.
	fullRead  = []string{"DescribeKey", "GetKeyPolicy", "ListGrants", "ListAliases"}
	cleanRead = []string{"DescribeKey", "GetKeyPolicy", "ListGrants"}
	oneCall   = []string{"DescribeKey"}
)

// sweepWant is what the sweep must find for each kind of key: status,
// findings as code/action/decision, and the KMS calls made.
var sweepWant = map[bench.Kind]struct {
	status   check.Status
	findings []string
	calls    []string
}{
	bench.Healthy:         {check.Compliant, nil, cleanRead},
	bench.Disabled:        {check.Noncompliant, []string{"KEY_DISABLED//"}, fullRead},
	bench.PendingDeletion: {check.Noncompliant, []string{"KEY_PENDING_DELETION//"}, fullRead},
	bench.NoDecrypt:       {check.Noncompliant, []string{"REQUIRED_PERMISSION_DENIED/kms:Decrypt/Deny-implicit"}, fullRead},
	bench.DenyDecrypt:     {check.Noncompliant, []string{"REQUIRED_PERMISSION_DENIED/kms:Decrypt/Deny-explicit"}, fullRead},
	bench.Indeterminate: {check.Unknown, []string{
		"REQUIRED_PERMISSION_INDETERMINATE/kms:Decrypt/Indeterminate",
		"REQUIRED_PERMISSION_INDETERMINATE/kms:GenerateDataKeyWithoutPlaintext/Indeterminate"}, fullRead},
	bench.OptionalDenied: {check.Compliant, []string{"OPTIONAL_PERMISSION_DENIED/kms:Encrypt/Deny-implicit"}, fullRead},
	bench.MonitorDenied:  {check.Unknown, []string{"MONITOR_ACCESS_DENIED/kms:GetKeyPolicy/"}, fullRead},
	bench.ReadFailed:     {check.Unknown, []string{"MONITOR_READ_FAILED/kms:DescribeKey/"}, oneCall},
	bench.Deleted:        {check.Noncompliant, []string{"KEY_NOT_FOUND//"}, oneCall},
}

// wantSummary is the summary of a sweep of the world of sweepSetup, less
// AWSCalls, Alerts and Duration.
var wantSummary = monitor.Summary{
	KeysChecked:  35,
	Compliant:    19, // 17 healthy, 2 optional-denied
	Noncompliant: 10, // disabled, pending-deletion, no-decrypt, deny-decrypt, deleted
	Unknown:      6,  // indeterminate, monitor-denied, read-failed
	Unreadable:   4,  // monitor-denied, read-failed
	Resources:    300,
}

func findings(r check.Report) []string {
	var fs []string
	for _, f := range r.Findings {
		fs = append(fs, string(f.Code)+"/"+f.Action+"/"+f.Decision)
	}
	return fs
}

var statusRank = map[check.Status]int{check.Noncompliant: 0, check.Unknown: 1, check.Compliant: 2}

// checkReports asserts each key's report and that every key of w is
// reported once, in the documented order.
func checkReports(t *testing.T, w *bench.World, reps []monitor.KeyResult) {
	t.Helper()
	seen := map[string]bool{}
	for i, r := range reps {
		arn := r.Report.Key.ARN
		k, ok := w.ByARN(arn)
		if !ok {
			t.Errorf("report for %s, a key not in the world", arn)
			continue
		}
		if seen[arn] {
			t.Errorf("%s (%s) reported twice", arn, k.Kind)
		}
		seen[arn] = true
		want := sweepWant[k.Kind]
		if r.Report.Status != want.status || !slices.Equal(findings(r.Report), want.findings) {
			t.Errorf("%s key %s: %s %q, want %s %q", k.Kind, k.ID, r.Report.Status, findings(r.Report), want.status, want.findings)
		}
		if !slices.Equal(r.Calls, want.calls) {
			t.Errorf("%s key %s: calls %v, want %v", k.Kind, k.ID, r.Calls, want.calls)
		}
		if got, want := len(r.Report.Resources), w.Uses(k.ID); got != want || want == 0 {
			t.Errorf("%s key %s: %d resources, want %d (> 0)", k.Kind, k.ID, got, want)
		}
		if (r.Err != nil) != (k.Kind == bench.ReadFailed) {
			t.Errorf("%s key %s: Err = %v", k.Kind, k.ID, r.Err)
		}
		// Aliases are read only for keys with something to report.
		wantAliases := []string{k.Alias}
		if k.Kind == bench.Healthy || k.Kind == bench.Deleted || k.Kind == bench.ReadFailed {
			wantAliases = nil
		}
		if !slices.Equal(r.Report.Aliases, wantAliases) {
			t.Errorf("%s key %s: aliases %v, want %v", k.Kind, k.ID, r.Report.Aliases, wantAliases)
		}
		if i > 0 {
			prev := reps[i-1].Report
			if pr, cr := statusRank[prev.Status], statusRank[r.Report.Status]; pr > cr || pr == cr && prev.Key.ARN >= arn {
				t.Errorf("reports %d and %d out of order: %s %s, then %s %s", i-1, i, prev.Status, prev.Key.ARN, r.Report.Status, arn)
			}
		}
	}
	if len(seen) != len(w.Keys) {
		t.Errorf("%d keys reported, want the world's %d", len(seen), len(w.Keys))
	}
}

// checkCalls asserts that each key was read once and that the summary
// counts exactly the calls the stack answered.
func checkCalls(t *testing.T, w *bench.World, s monitor.Summary) {
	t.Helper()
	st := devstack.Current()
	kmsCalls, fsxCalls := st.KMS.Calls(), st.FSx.Calls()
	keys := len(w.Keys)
	read := keys - w.Count(bench.Deleted) - w.Count(bench.ReadFailed)
	want := map[string]int{"DescribeKey": keys, "GetKeyPolicy": read, "ListGrants": read, "ListAliases": read - w.Count(bench.Healthy)}
	if !mapsEqual(kmsCalls, want) {
		t.Errorf("KMS calls %v, want %v (each key read once)", kmsCalls, want)
	}
	fs, bk := 0, 0
	for _, r := range w.Resources {
		if r.Backup {
			bk++
		} else {
			fs++
		}
	}
	pages := func(n int) int { return max(1, (n+49)/50) } // fsxserver.DefaultPageSize
	// The bench world has no Amazon File Cache: one empty page.
	wantFSx := map[string]int{"DescribeFileSystems": pages(fs), "DescribeBackups": pages(bk), "DescribeFileCaches": 1}
	if !mapsEqual(fsxCalls, wantFSx) {
		t.Errorf("FSx calls %v, want %v (one per page)", fsxCalls, wantFSx)
	}
	total := 0
	for _, n := range kmsCalls {
		total += n
	}
	for _, n := range fsxCalls {
		total += n
	}
	if s.AWSCalls != total {
		t.Errorf("Summary.AWSCalls = %d, the stack answered %d", s.AWSCalls, total)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func summaryCounts(s monitor.Summary) monitor.Summary {
	s.AWSCalls, s.Alerts, s.AlertsFailed, s.Duration, s.SummarySent = 0, 0, 0, 0, false
	return s
}

// TestSweep sweeps a world with keys broken in every way the check knows,
// at several concurrencies, and checks every key's findings, the summary,
// the alerts and that each key was read once.
func TestSweep(t *testing.T) {
	w := sweepSetup(t)
	for _, conc := range []int{1, 8, 32} {
		t.Run(fmt.Sprintf("concurrency %d", conc), func(t *testing.T) {
			if err := w.Apply(devstack.Current()); err != nil {
				t.Fatal(err)
			}
			m, out := newMonitor(t)
			s, reps, err := m.Sweep(context.Background(), monitor.SweepOptions{Concurrency: conc, Summary: monitor.SummaryAlways})
			if err != nil {
				t.Fatalf("Sweep: %v (unreadable keys must not fail the run)", err)
			}
			if got := summaryCounts(s); got != wantSummary {
				t.Errorf("summary %+v\nwant    %+v", got, wantSummary)
			}
			checkReports(t, w, reps)
			checkCalls(t, w, s)

			as := alerts(t, out)
			// One rule for the sweep and the event path: a key with
			// findings is alerted on (a compliant key too, when it has a
			// warning such as OPTIONAL_PERMISSION_DENIED).
			withFindings := 0
			for _, r := range reps {
				if len(r.Report.Findings) > 0 {
					withFindings++
				}
			}
			if withFindings <= s.Noncompliant+s.Unknown {
				t.Fatalf("%d keys with findings, want more than the %d not compliant (the world has compliant keys with warnings)",
					withFindings, s.Noncompliant+s.Unknown)
			}
			if s.Alerts != withFindings || len(as) != withFindings+1 {
				t.Fatalf("Summary.Alerts = %d, %d alerts published; want %d key alerts and a summary", s.Alerts, len(as), withFindings)
			}
			byKey := map[string]alert.Alert{}
			for _, a := range as[:withFindings] {
				k, ok := w.ByARN(a.Key.ARN)
				if !ok || len(a.Findings) == 0 {
					t.Errorf("alert for %s (%s): only keys with findings alert", a.Key.ARN, k.Kind)
				}
				if a.Trigger.Source != alert.SourceSweep || string(a.Status) != string(sweepWant[k.Kind].status) || len(a.Resources) == 0 {
					t.Errorf("alert for %s key: source %s, status %s, %d resources", k.Kind, a.Trigger.Source, a.Status, len(a.Resources))
				}
				byKey[a.Key.ARN] = a
			}
			if len(byKey) != withFindings {
				t.Errorf("%d distinct keys alerted, want %d", len(byKey), withFindings)
			}
			sum := as[len(as)-1]
			if c := codes(sum); !slices.Equal(c, []string{"SWEEP_SUMMARY"}) || sum.Severity != alert.Info || sum.Status != alert.Noncompliant {
				t.Errorf("last alert %s %s %v, want the INFO NONCOMPLIANT SWEEP_SUMMARY", sum.Severity, sum.Status, c)
			}
			for _, part := range []string{"35 KMS keys", "300 FSx", "19 compliant", "10 noncompliant", "6 unknown", "4 unreadable"} {
				if !strings.Contains(sum.Findings[0].Message, part) {
					t.Errorf("summary message %q lacks %q", sum.Findings[0].Message, part)
				}
			}
		})
	}
}

// TestSweepNoAlerts is the CLI's mode: reports only, nothing published.
func TestSweepNoAlerts(t *testing.T) {
	w := sweepSetup(t)
	m, out := newMonitor(t)
	s, reps, err := m.Sweep(context.Background(), monitor.SweepOptions{NoAlerts: true, Summary: monitor.SummaryAlways})
	if err != nil {
		t.Fatal(err)
	}
	checkReports(t, w, reps)
	if out.Len() != 0 || s.Alerts != 0 {
		t.Errorf("NoAlerts published %d alerts: %s", s.Alerts, out)
	}
}

func TestSweepSummaryModes(t *testing.T) {
	sweepSetup(t)
	for _, tt := range []struct {
		mode monitor.SummaryMode
		want bool
	}{
		{monitor.SummaryNever, false},
		{monitor.SummaryAlways, true},
		{monitor.SummaryAuto, true}, // noncompliant keys: always sent
	} {
		m, out := newMonitor(t)
		if _, _, err := m.Sweep(context.Background(), monitor.SweepOptions{Summary: tt.mode}); err != nil {
			t.Fatal(err)
		}
		as := alerts(t, out)
		got := len(as) > 0 && slices.Contains(codes(as[len(as)-1]), "SWEEP_SUMMARY")
		if got != tt.want {
			t.Errorf("mode %s: summary sent = %v, want %v", tt.mode, got, tt.want)
		}
	}
}

// failFor publishes through next but fails for one key.
type failFor struct {
	next alert.Publisher
	arn  string
}

func (f failFor) Publish(ctx context.Context, a alert.Alert) error {
	if a.Key.ARN == f.arn {
		return errors.New("sns: topic unreachable (injected)")
	}
	return f.next.Publish(ctx, a)
}

// TestSweepPublishFailure: an alert that cannot be sent fails the sweep
// (so the schedule retries and the failure destination sees it), without
// stopping the other alerts or counting the key as unreadable.
func TestSweepPublishFailure(t *testing.T) {
	w := sweepSetup(t)
	var broken bench.Key
	for _, k := range w.Keys {
		if k.Kind == bench.Disabled {
			broken = k
			break
		}
	}
	m, out := newMonitor(t)
	m.Alerts = failFor{next: m.Alerts, arn: broken.ARN}
	s, reps, err := m.Sweep(context.Background(), monitor.SweepOptions{Summary: monitor.SummaryNever})
	if err == nil || !strings.Contains(err.Error(), broken.ARN) || !strings.Contains(err.Error(), "topic unreachable") {
		t.Fatalf("err = %v, want the failed publish for %s", err, broken.ARN)
	}
	if got := summaryCounts(s); got != wantSummary {
		t.Errorf("summary %+v, want %+v", got, wantSummary)
	}
	withFindings := 0
	for _, r := range reps {
		if len(r.Report.Findings) > 0 {
			withFindings++
		}
	}
	if s.AlertsFailed != 1 || s.Alerts != withFindings-1 || len(alerts(t, out)) != withFindings-1 {
		t.Errorf("alerts sent %d, failed %d; want %d and 1", s.Alerts, s.AlertsFailed, withFindings-1)
	}
	for _, r := range reps {
		if (r.PublishErr != nil) != (r.Report.Key.ARN == broken.ARN) || r.Alerted() == (r.PublishErr != nil) && len(r.Report.Findings) > 0 {
			t.Errorf("%s: Alerted %v, PublishErr %v", r.Report.Key.ARN, r.Alerted(), r.PublishErr)
		}
	}
}

// TestSweepFSxUnavailable: without the complete FSx listing the sweep
// judges nothing and fails loudly.
func TestSweepFSxUnavailable(t *testing.T) {
	for _, op := range []string{"DescribeFileSystems", "DescribeBackups", "DescribeFileCaches"} {
		sweepSetup(t)
		st := devstack.Current()
		st.FSx.Inject(op, devstack.Fault{Type: "AccessDeniedException", Message: "not authorized to perform fsx:" + op})
		m, out := newMonitor(t)
		s, reps, err := m.Sweep(context.Background(), monitor.SweepOptions{})
		st.FSx.ClearFaults()
		if err == nil || !strings.Contains(err.Error(), "list FSx") || !strings.Contains(err.Error(), "fsx:"+op) {
			t.Errorf("%s denied: err = %v, want a list FSx error naming it", op, err)
		}
		if reps != nil || s.KeysChecked != 0 || out.Len() != 0 {
			t.Errorf("%s denied: judged %d keys, %d reports, alerts %q", op, s.KeysChecked, len(reps), out)
		}
		if c := st.KMS.Calls(); len(c) != 0 {
			t.Errorf("%s denied: KMS calls %v, want none", op, c)
		}
	}
}

// TestSweepNoKeyReadable: when every key read fails the sweep returns an
// error, after reporting each key.
func TestSweepNoKeyReadable(t *testing.T) {
	w := sweepSetup(t)
	st := devstack.Current()
	st.KMS.Inject("DescribeKey", devstack.Fault{Type: "KMSInternalException", Message: "injected: KMS is down"})
	defer st.KMS.ClearFaults()
	m, _ := newMonitor(t)
	s, reps, err := m.Sweep(context.Background(), monitor.SweepOptions{NoAlerts: true})
	if err == nil || !strings.Contains(err.Error(), "no key could be read") {
		t.Fatalf("err = %v, want no key could be read", err)
	}
	if s.Unknown != len(w.Keys) || s.Unreadable != len(w.Keys) || len(reps) != len(w.Keys) {
		t.Errorf("summary %+v with %d reports, want all %d keys unknown and unreadable", s, len(reps), len(w.Keys))
	}
}

// TestSweepCallsGrowWithPages: four times the FSx resources on the same
// keys cost only the extra FSx pages: the KMS calls stay one read per key.
func TestSweepCallsGrowWithPages(t *testing.T) {
	w := sweepSetup(t)
	big := &bench.World{Keys: w.Keys}
	big.Spread(4 * len(w.Resources))
	if err := big.Apply(devstack.Current()); err != nil {
		t.Fatal(err)
	}
	defer w.Apply(devstack.Current())
	m, _ := newMonitor(t)
	s, reps, err := m.Sweep(context.Background(), monitor.SweepOptions{NoAlerts: true})
	if err != nil {
		t.Fatal(err)
	}
	checkReports(t, big, reps)
	checkCalls(t, big, s)
	if s.Resources != 1200 {
		t.Errorf("%d resources, want 1200", s.Resources)
	}
}
