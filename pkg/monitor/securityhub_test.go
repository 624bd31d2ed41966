package monitor_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/monitor"
	sh "github.com/fsxkms/fsxkms/pkg/securityhub"
)

// The tests of this file run the monitor with SECURITY_HUB=on and its alert
// state on the devstack, and read what the devstack's Security Hub (a
// stand-in that refuses what Security Hub refuses) holds, with the SDK as
// a security team's tool would.

// hubMonitor is stateMonitor with SECURITY_HUB=on on a fresh Security Hub;
// the exporter's log and metrics go to the returned buffer.
func hubMonitor(t *testing.T, table string, clk *clock, env map[string]string) (*monitor.Monitor, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	devstack.Current().SecurityHub.Reset()
	e := map[string]string{"SECURITY_HUB": "on"}
	maps.Copy(e, env)
	m, out := stateMonitor(t, table, clk, e)
	x, ok := m.Tracker.(monitor.SecurityHubTracker)
	if !ok {
		t.Fatalf("SECURITY_HUB=on: Tracker is %T, want the Security Hub export", m.Tracker)
	}
	var logs bytes.Buffer
	x.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	x.Metrics = &logs
	x.Wait = func(context.Context, time.Duration) error { return nil }
	return m, out, &logs
}

// hubFinding is the Security Hub finding with Id id; ok is false when
// there is none.
func hubFinding(t *testing.T, id string) (types.AwsSecurityFinding, bool) {
	t.Helper()
	out, err := securityhub.NewFromConfig(awsConfig(t)).GetFindings(context.Background(), &securityhub.GetFindingsInput{Filters: &types.AwsSecurityFindingFilters{
		Id: []types.StringFilter{{Value: aws.String(id), Comparison: types.StringFilterComparisonEquals}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Findings) > 1 {
		t.Fatalf("%d findings with Id %s", len(out.Findings), id)
	}
	if len(out.Findings) == 0 {
		return types.AwsSecurityFinding{}, false
	}
	return out.Findings[0], true
}

// activeFindings are the ids of the ACTIVE findings about key.
func activeFindings(t *testing.T, key string) []string {
	t.Helper()
	ctx := context.Background()
	p := securityhub.NewGetFindingsPaginator(securityhub.NewFromConfig(awsConfig(t)), &securityhub.GetFindingsInput{Filters: &types.AwsSecurityFindingFilters{
		RecordState: []types.StringFilter{{Value: aws.String("ACTIVE"), Comparison: types.StringFilterComparisonEquals}}}})
	var ids []string
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range out.Findings {
			if f.Resources[0].Id != nil && *f.Resources[0].Id == key {
				ids = append(ids, aws.ToString(f.Id))
			}
		}
	}
	return ids
}

func sweep(t *testing.T, m *monitor.Monitor) {
	t.Helper()
	if _, _, err := m.Sweep(context.Background(), monitor.SweepOptions{Summary: monitor.SummaryNever}); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
}

var disabledID = sh.FindingID(prodARN, "KEY_DISABLED")

// TestSecurityHubOneFinding: a disabled key is one ACTIVE, FAILED finding
// however often it is seen (its event, a redelivery, another event, two
// sweeps), each import later than the last (none ignored); the EnableKey
// event archives that same finding as PASSED, its CreatedAt kept.
func TestSecurityHubOneFinding(t *testing.T) {
	client, _ := world(t)
	clk := &clock{now: time.Now()}
	m, out, _ := hubMonitor(t, stateTable(t), clk, nil)
	hub := devstack.Current().SecurityHub
	disableProd(t, client, m, out, "DisableKey")
	first, ok := hubFinding(t, disabledID)
	if !ok {
		t.Fatalf("no finding %s after DisableKey", disabledID)
	}
	handle(t, m, disableEvent(1)) // EventBridge delivers it again
	clk.Add(time.Minute)
	handle(t, m, disableEvent(2))
	clk.Add(6 * time.Hour)
	sweep(t, m)
	clk.Add(6 * time.Hour)
	sweep(t, m)
	wantAlerts(t, out, "seen again")
	if got := activeFindings(t, prodARN); !slices.Equal(got, []string{disabledID}) {
		t.Fatalf("ACTIVE findings about the key: %q, want exactly %s", got, disabledID)
	}
	f, _ := hubFinding(t, disabledID)
	if f.Compliance.Status != types.ComplianceStatusFailed || f.Severity.Label != types.SeverityLabelCritical ||
		aws.ToString(f.CreatedAt) != aws.ToString(first.CreatedAt) || aws.ToString(f.UpdatedAt) <= aws.ToString(first.UpdatedAt) {
		t.Errorf("after 5 sightings: %s %s, CreatedAt %s (first %s), UpdatedAt %s (first %s); want FAILED CRITICAL, CreatedAt kept, UpdatedAt later",
			f.Compliance.Status, f.Severity.Label, aws.ToString(f.CreatedAt), aws.ToString(first.CreatedAt), aws.ToString(f.UpdatedAt), aws.ToString(first.UpdatedAt))
	}
	if n := hub.Ignored(); n != 0 {
		t.Errorf("Security Hub ignored %d imports as not later than the stored finding", n)
	}
	if got := hub.Batches(); len(got) != 5 {
		t.Errorf("imports %v, want one per judgement of the key (3 events, 2 sweeps)", got)
	}

	clk.Add(time.Hour)
	enable(t, client, prodARN)
	handle(t, m, enableEvent(3))
	wantAlerts(t, out, "EnableKey", "RESOLVED RESOLVED")
	f, _ = hubFinding(t, disabledID)
	if f.RecordState != types.RecordStateArchived || f.Compliance.Status != types.ComplianceStatusPassed || aws.ToString(f.CreatedAt) != aws.ToString(first.CreatedAt) {
		t.Errorf("after EnableKey: %s %s, CreatedAt %s; want ARCHIVED PASSED, CreatedAt %s", f.RecordState, f.Compliance.Status, aws.ToString(f.CreatedAt), aws.ToString(first.CreatedAt))
	}
	if got := activeFindings(t, prodARN); len(got) != 0 {
		t.Errorf("ACTIVE findings about the key after EnableKey: %q", got)
	}
	if n := len(hub.Findings()); n != 1 {
		t.Errorf("%d findings in Security Hub, want 1: one problem, one finding", n)
	}
}

// TestSecurityHubResolvedBySweep: when the EnableKey event never comes,
// the sweep that sees the key fixed archives the finding.
func TestSecurityHubResolvedBySweep(t *testing.T) {
	client, m, _, clk := sweptDisabled(t)
	enable(t, client, prodARN)
	clk.Add(6 * time.Hour)
	sweep(t, m)
	if f, _ := hubFinding(t, disabledID); f.RecordState != types.RecordStateArchived || f.Compliance.Status != types.ComplianceStatusPassed {
		t.Errorf("after the sweep that saw the fix: %s %s, want ARCHIVED PASSED", f.RecordState, f.Compliance.Status)
	}
}

// sweptDisabled disables the prod key and sweeps once with a Security Hub
// monitor on a new state table, which must alert NEW KEY_DISABLED and
// import one ACTIVE finding.
func sweptDisabled(t *testing.T) (*kms.Client, *monitor.Monitor, *bytes.Buffer, *clock) {
	t.Helper()
	client, _ := world(t)
	clk := &clock{now: time.Now()}
	m, out, _ := hubMonitor(t, stateTable(t), clk, nil)
	disable(t, client, prodARN)
	sweep(t, m)
	wantAlerts(t, out, "the sweep that sees the disabled key", "NEW KEY_DISABLED")
	if f, ok := hubFinding(t, disabledID); !ok || f.RecordState != types.RecordStateActive {
		t.Fatalf("after the first sweep: %v %s, want an ACTIVE finding", ok, f.RecordState)
	}
	return client, m, out, clk
}

// TestSecurityHubImportFailsThenRetried: an import Security Hub refuses
// is sent again and, refused each time, fails the invocation (Lambda
// retries it); the retry imports it. The alert went out once.
func TestSecurityHubImportFailsThenRetried(t *testing.T) {
	client, _ := world(t)
	clk := &clock{now: time.Now()}
	m, out, _ := hubMonitor(t, stateTable(t), clk, nil)
	hub := devstack.Current().SecurityHub
	disable(t, client, prodARN)
	hub.FailFindings(3, "InternalFailure")
	_, err := m.HandleEvent(context.Background(), disableEvent(1))
	if err == nil || !strings.Contains(err.Error(), "InternalFailure") || !strings.Contains(err.Error(), disabledID) {
		t.Fatalf("HandleEvent: err %v, want the refused import, naming the finding", err)
	}
	if got := hub.Batches(); !slices.Equal(got, []int{1, 1, 1}) {
		t.Errorf("imports %v, want the finding sent 3 times", got)
	}
	wantAlerts(t, out, "first delivery", "NEW KEY_DISABLED")
	if _, ok := hubFinding(t, disabledID); ok {
		t.Fatal("the refused finding is in Security Hub")
	}
	clk.Add(time.Minute)
	handle(t, m, disableEvent(1)) // Lambda's retry
	wantAlerts(t, out, "retry")
	if f, ok := hubFinding(t, disabledID); !ok || f.RecordState != types.RecordStateActive {
		t.Errorf("after the retry: %v %s, want the finding ACTIVE", ok, f.RecordState)
	}
}

// TestSecurityHubNotEnabled: Security Hub off in the account is one log
// line and one metric per invocation, and neither fails it nor stops the
// alert.
func TestSecurityHubNotEnabled(t *testing.T) {
	client, _ := world(t)
	m, out, logs := hubMonitor(t, stateTable(t), &clock{now: time.Now()}, nil)
	devstack.Current().SecurityHub.SetEnabled(false)
	disableProd(t, client, m, out, "DisableKey")
	if n := strings.Count(logs.String(), "Security Hub is not enabled"); n != 1 {
		t.Errorf("%d log lines say Security Hub is not enabled, want 1:\n%s", n, logs)
	}
	if n := strings.Count(logs.String(), `"SecurityHubNotEnabled":1`); n != 1 {
		t.Errorf("%d SecurityHubNotEnabled metrics, want 1:\n%s", n, logs)
	}
	logs.Reset()
	sweep(t, m)
	if n := strings.Count(logs.String(), "Security Hub is not enabled"); n != 1 {
		t.Errorf("sweep: %d log lines say Security Hub is not enabled, want 1", n)
	}
}

// TestSecurityHubBatches: a sweep over 11 keys, each with 10 problems (7
// principals in FSX_PRINCIPALS denied kms:Decrypt by its key policy, and
// the 3 optional permissions), imports 110 findings in two calls: 100 (the
// most BatchImportFindings takes) and 10.
func TestSecurityHubBatches(t *testing.T) {
	client, _ := world(t)
	var principals []string
	for i := range 7 {
		principals = append(principals, fmt.Sprintf("arn:aws:iam::111122223333:role/FsxAdmin%d", i))
	}
	policy := `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Sid":"NoFSx","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com"}}}]}`
	var rs []scenario.Resource
	for i := range 11 {
		_, id := createKey(t, client, policy, t.Name())
		rs = append(rs, scenario.Resource{ID: fmt.Sprintf("fs-0b1b2c3d4e5f6%04d", i), Type: "ONTAP", Lifecycle: "AVAILABLE", KeyID: id})
	}
	setInventory(t, rs)
	m, out, _ := hubMonitor(t, stateTable(t), &clock{now: time.Now()}, map[string]string{"FSX_PRINCIPALS": strings.Join(principals, ",")})
	sweep(t, m)
	n := 0
	for _, a := range alerts(t, out) {
		n += len(a.Findings)
	}
	if n != 110 {
		t.Fatalf("the sweep alerted on %d findings, want 110", n)
	}
	if got := devstack.Current().SecurityHub.Batches(); !slices.Equal(got, []int{100, 10}) {
		t.Errorf("imports %v, want [100 10]", got)
	}
	if got := len(devstack.Current().SecurityHub.Findings()); got != 110 {
		t.Errorf("%d findings in Security Hub, want 110", got)
	}
}

// TestSecurityHubOff: without SECURITY_HUB nothing is tracked and nothing
// imported.
func TestSecurityHubOff(t *testing.T) {
	client, _ := world(t)
	devstack.Current().SecurityHub.Reset()
	m, _ := stateMonitor(t, stateTable(t), &clock{now: time.Now()}, nil)
	if m.Tracker != nil {
		t.Fatalf("Tracker %T without SECURITY_HUB", m.Tracker)
	}
	disable(t, client, prodARN)
	handle(t, m, disableEvent(1))
	if n := len(devstack.Current().SecurityHub.Findings()); n != 0 {
		t.Errorf("%d findings imported with Security Hub off", n)
	}
}

// TestSweepUnusedKeyClosed: a key a sweep left with a problem, that FSx
// then stops using (its file systems and backups deleted), has the problem
// closed by the next sweep without being read: one RESOLVED alert saying
// FSx no longer uses the key, the Security Hub finding archived. The
// sweeps after say nothing more about it.
func TestSweepUnusedKeyClosed(t *testing.T) {
	_, m, out, clk := sweptDisabled(t)
	var others []scenario.Resource
	for _, r := range scenario.Resources() {
		if r.KeyID != scenario.ProdKeyID {
			others = append(others, r)
		}
	}
	setInventory(t, others)
	clk.Add(6 * time.Hour)
	s, results, err := m.Sweep(context.Background(), monitor.SweepOptions{Summary: monitor.SummaryNever})
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	as := wantAlerts(t, out, "the sweep after FSx stopped using the key", "RESOLVED RESOLVED")
	if msg := as[0].Findings[0].Message; !strings.Contains(msg, "KEY_DISABLED is over after 6h") || !strings.Contains(msg, "FSx no longer uses the key") {
		t.Errorf("RESOLVED message %q, want it to say KEY_DISABLED is over because FSx no longer uses the key", msg)
	}
	if as[0].Key.ARN != prodARN {
		t.Errorf("RESOLVED alert about %s, want %s", as[0].Key.ARN, prodARN)
	}
	if s.NoLongerUsed != 1 || s.Alerts != 1 {
		t.Errorf("summary: %d keys no longer used, %d alerts; want 1 and 1", s.NoLongerUsed, s.Alerts)
	}
	var unused []string
	for _, r := range results {
		if r.Status == monitor.StatusUnused {
			unused = append(unused, r.KeyARN)
			if len(r.Calls) > 0 {
				t.Errorf("the unused key was read: %q", r.Calls)
			}
		}
	}
	if !slices.Equal(unused, []string{prodARN}) {
		t.Errorf("results with status %s: %q, want [%s]", monitor.StatusUnused, unused, prodARN)
	}
	if f, _ := hubFinding(t, disabledID); f.RecordState != types.RecordStateArchived || f.Compliance.Status != types.ComplianceStatusPassed {
		t.Errorf("Security Hub finding after the key went unused: %s %s, want ARCHIVED PASSED", f.RecordState, f.Compliance.Status)
	}

	clk.Add(6 * time.Hour)
	sweep(t, m)
	wantAlerts(t, out, "the next sweep")
}
