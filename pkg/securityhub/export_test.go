package securityhub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/devstack/securityhubserver"
	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// The tests of this file import into the devstack's Security Hub stand-in
// (served here on its own, with the real SDK client), which refuses what
// Security Hub refuses.

type harness struct {
	ex      *Exporter
	hub     *securityhubserver.Server
	client  *securityhub.Client
	log     *bytes.Buffer
	metrics *bytes.Buffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	hub := securityhubserver.New(account, "us-east-1")
	srv := httptest.NewServer(hub)
	t.Cleanup(srv.Close)
	c := securityhub.New(securityhub.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
		// Two attempts, no backoff. (A client with RetryMaxAttempts 1
		// intermittently failed to read GetFindings answers of more than a
		// few KB, "use of closed network connection": never so with the
		// retryer the monitor's clients have.)
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 2
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	h := &harness{hub: hub, client: c, log: &bytes.Buffer{}, metrics: &bytes.Buffer{}}
	h.ex = &Exporter{Client: c, Region: "us-east-1", Account: account, Partition: "aws", Function: "test",
		Log: slog.New(slog.NewJSONHandler(h.log, nil)), Metrics: h.metrics,
		Wait: func(context.Context, time.Duration) error { return nil }}
	return h
}

// disabledKey is a judged disabled key (the n-th of a set) with its
// KEY_DISABLED open since first.
func disabledKey(n int, first, now time.Time) Judged {
	k := key("Disabled")
	k.ID = fmt.Sprintf("%08d-12ab-34cd-56ef-1234567890ab", n)
	k.ARN = "arn:aws:kms:us-east-1:111122223333:key/" + k.ID
	rep := check.Check(check.Input{Key: k, Resources: fsxResources(2), Now: now})
	return Judged{Report: rep, Open: opened(rep, first, "KEY_DISABLED"), Now: now}
}

func (h *harness) flush(t *testing.T) {
	t.Helper()
	if err := h.ex.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// stored is the hub's finding with Id id.
func (h *harness) stored(t *testing.T, id string) types.AwsSecurityFinding {
	t.Helper()
	out, err := h.client.GetFindings(context.Background(), &securityhub.GetFindingsInput{Filters: &types.AwsSecurityFindingFilters{
		Id: []types.StringFilter{{Value: aws.String(id), Comparison: types.StringFilterComparisonEquals}}}})
	if err != nil || len(out.Findings) != 1 {
		t.Fatalf("GetFindings Id=%s: %v, %d findings; want 1", id, err, len(out.Findings))
	}
	return out.Findings[0]
}

// TestExportBatches: 250 problems go in three calls, 100, 100 and 50, and
// all arrive ACTIVE.
func TestExportBatches(t *testing.T) {
	h := newHarness(t)
	for i := range 250 {
		h.ex.Add(context.Background(), disabledKey(i, t0, t0))
	}
	h.flush(t)
	if got := h.hub.Batches(); !slices.Equal(got, []int{100, 100, 50}) {
		t.Errorf("batches %v, want [100 100 50]", got)
	}
	p := securityhub.NewGetFindingsPaginator(h.client, &securityhub.GetFindingsInput{Filters: &types.AwsSecurityFindingFilters{
		RecordState: []types.StringFilter{{Value: aws.String("ACTIVE"), Comparison: types.StringFilterComparisonEquals}}}})
	n := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Findings)
	}
	if n != 250 {
		t.Errorf("%d ACTIVE findings, want 250", n)
	}
	if !strings.Contains(h.metrics.String(), `"SecurityHubBatches":3`) || !strings.Contains(h.metrics.String(), `"SecurityHubImported":250`) {
		t.Errorf("metrics %s: want 3 batches, 250 imported", h.metrics)
	}
	h.flush(t) // nothing queued: no call
	if got := len(h.hub.Batches()); got != 3 {
		t.Errorf("an empty Flush made calls: %d batches", got)
	}
}

// TestExportWire: what Security Hub stores is the finding fsxkms built,
// every attribute of it (the SDK conversion drops nothing).
func TestExportWire(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			j := c.judged(t)
			want := Findings(product, j)
			h.ex.Add(context.Background(), j)
			h.flush(t)
			got := h.hub.Findings()
			if len(got) != len(want) {
				t.Fatalf("%d findings stored, want %d", len(got), len(want))
			}
			for i := range want {
				var g, w map[string]any
				wb, _ := json.Marshal(want[i])
				json.Unmarshal(wb, &w)
				json.Unmarshal(got[i], &g)
				if w["Workflow"] == nil {
					delete(g, "Workflow") // Security Hub's own, on a finding created without one
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("stored finding differs from the one built:\nstored %s\nbuilt  %s", got[i], wb)
				}
			}
		})
	}
}

// TestExportUpdatedAtRising: the same problem seen again at the same time
// (a redelivered event) and then closed is imported with a strictly later
// UpdatedAt each time, so Security Hub ignores none of the imports; the
// closing archives that same finding as PASSED, CreatedAt kept.
func TestExportUpdatedAtRising(t *testing.T) {
	h := newHarness(t)
	j := disabledKey(1, t0.Add(-time.Hour), t0)
	id := FindingID(j.Report.Key.ARN, "KEY_DISABLED")
	var seen []string
	for range 3 {
		h.ex.Add(context.Background(), j)
		h.flush(t)
		seen = append(seen, aws.ToString(h.stored(t, id).UpdatedAt))
	}
	rep := check.Check(check.Input{Key: key("Enabled"), Resources: fsxResources(2), Now: t0})
	rep.Key = j.Report.Key
	rep.Key.State = "Enabled"
	h.ex.Add(context.Background(), Judged{Report: rep, Now: t0, // a clock no later than the sightings'
		Closed: []state.Item{{Key: rep.Key.ARN, ID: "KEY_DISABLED", Code: "KEY_DISABLED", Severity: "CRITICAL", FirstSeen: t0.Add(-time.Hour)}}})
	h.flush(t)
	f := h.stored(t, id)
	seen = append(seen, aws.ToString(f.UpdatedAt))
	if !slices.IsSorted(seen) || len(slices.Compact(slices.Clone(seen))) != 4 {
		t.Errorf("UpdatedAt %v: want strictly rising", seen)
	}
	if h.hub.Ignored() != 0 {
		t.Errorf("Security Hub ignored %d imports as not later", h.hub.Ignored())
	}
	if f.RecordState != types.RecordStateArchived || f.Compliance.Status != types.ComplianceStatusPassed || aws.ToString(f.CreatedAt) != stamp(t0.Add(-time.Hour)) {
		t.Errorf("after the closing: %s %s, CreatedAt %s; want ARCHIVED PASSED, the first sighting", f.RecordState, f.Compliance.Status, aws.ToString(f.CreatedAt))
	}
	if n := len(h.hub.Findings()); n != 1 {
		t.Errorf("%d findings stored, want 1: one problem, one finding", n)
	}
}

// TestExportRefused: a finding refused once is sent again alone; one
// refused every time fails the Flush naming it, and goes with the next.
func TestExportRefused(t *testing.T) {
	h := newHarness(t)
	h.hub.FailFindings(1, "InternalFailure")
	h.ex.Add(context.Background(), disabledKey(1, t0, t0))
	h.ex.Add(context.Background(), disabledKey(2, t0, t0))
	h.flush(t)
	if got := h.hub.Batches(); !slices.Equal(got, []int{2, 1}) {
		t.Errorf("refused once: batches %v, want [2 1]", got)
	}

	h = newHarness(t)
	h.hub.FailFindings(attempts, "InternalFailure")
	h.ex.Add(context.Background(), disabledKey(1, t0, t0))
	err := h.ex.Flush(context.Background())
	if err == nil || !strings.Contains(err.Error(), "InternalFailure") || !strings.Contains(err.Error(), "/KEY_DISABLED") {
		t.Fatalf("refused %d times: err %v, want the refusal naming the finding", attempts, err)
	}
	if got := h.hub.Batches(); len(got) != attempts {
		t.Errorf("refused every time: %d calls, want %d", len(got), attempts)
	}
	h.flush(t) // the next invocation's Flush, with nothing new
	if n := len(h.hub.Findings()); n != 1 {
		t.Errorf("after the next Flush: %d findings stored, want the refused one", n)
	}
}

// TestExportCallFails: a call that fails (after the SDK's retries) fails
// the Flush; its findings go with the next.
func TestExportCallFails(t *testing.T) {
	h := newHarness(t)
	h.hub.Inject(securityhubserver.OpBatchImportFindings, devstack.Fault{Status: http.StatusInternalServerError, Type: "InternalException", Message: "injected"})
	for i := range 150 {
		h.ex.Add(context.Background(), disabledKey(i, t0, t0))
	}
	if err := h.ex.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "InternalException") {
		t.Fatalf("err %v, want the failed call", err)
	}
	h.hub.ClearFaults()
	h.flush(t)
	if got := h.hub.Batches(); !slices.Equal(got, []int{100, 50}) {
		t.Errorf("after the fault: batches %v, want [100 50]", got)
	}
}

// TestExportNotEnabled: Security Hub off is one log line and one metric
// per Flush, and no error: the invocation goes on.
func TestExportNotEnabled(t *testing.T) {
	h := newHarness(t)
	h.hub.SetEnabled(false)
	for i := range 150 {
		h.ex.Add(context.Background(), disabledKey(i, t0, t0))
	}
	if err := h.ex.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v, want nil (Security Hub off is no failure)", err)
	}
	if n := strings.Count(h.log.String(), "Security Hub is not enabled"); n != 1 {
		t.Errorf("%d log lines say Security Hub is not enabled, want 1:\n%s", n, h.log)
	}
	if n := strings.Count(h.metrics.String(), `"SecurityHubNotEnabled":1`); n != 1 || strings.Count(h.metrics.String(), "\n") != 1 {
		t.Errorf("metrics %s: want one line with SecurityHubNotEnabled 1", h.metrics)
	}
	if calls := h.hub.Calls()[securityhubserver.OpBatchImportFindings]; calls != 1 {
		t.Errorf("%d calls, want 1: the rest of the batches are not tried", calls)
	}
	h.hub.SetEnabled(true)
	h.flush(t)
	if n := len(h.hub.Findings()); n != 0 {
		t.Errorf("%d findings imported after Security Hub came on: the dropped ones must not come back", n)
	}
}

type fakeCaller struct{ calls atomic.Int32 }

func (f *fakeCaller) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	f.calls.Add(1)
	return &sts.GetCallerIdentityOutput{Account: aws.String(account), Arn: aws.String("arn:aws:sts::111122223333:assumed-role/fsxkms/x")}, nil
}

// TestExportCaller: without Account, the first Flush asks STS whose
// credentials it holds, once.
func TestExportCaller(t *testing.T) {
	h := newHarness(t)
	caller := &fakeCaller{}
	h.ex.Account, h.ex.Partition, h.ex.Caller = "", "", caller
	for i := range 2 {
		h.ex.Add(context.Background(), disabledKey(i, t0, t0.Add(time.Duration(i)*time.Minute)))
		h.flush(t)
	}
	if caller.calls.Load() != 1 || len(h.hub.Findings()) != 2 {
		t.Errorf("%d GetCallerIdentity calls, %d findings; want 1 and 2", caller.calls.Load(), len(h.hub.Findings()))
	}
}

// TestExportSetCaller: an exporter told whose credentials it holds asks
// STS nothing, and takes the partition from the caller's ARN.
func TestExportSetCaller(t *testing.T) {
	h := newHarness(t)
	caller := &fakeCaller{}
	h.ex.Account, h.ex.Partition, h.ex.Caller = "", "", caller
	h.ex.SetCaller(&sts.GetCallerIdentityOutput{Account: aws.String(account), Arn: aws.String("arn:aws:sts::" + account + ":assumed-role/fsxkms/x")})
	h.ex.Add(context.Background(), disabledKey(0, t0, t0))
	h.flush(t)
	if caller.calls.Load() != 0 || len(h.hub.Findings()) != 1 || h.ex.Partition != "aws" {
		t.Errorf("%d GetCallerIdentity calls, %d findings, partition %q; want 0, 1 and aws", caller.calls.Load(), len(h.hub.Findings()), h.ex.Partition)
	}
	h.ex.SetCaller(&sts.GetCallerIdentityOutput{Account: aws.String(account), Arn: aws.String("arn:aws-cn:sts::" + account + ":assumed-role/fsxkms/x")})
	if h.ex.Account != account || h.ex.Partition != "aws-cn" {
		t.Errorf("after an aws-cn caller: account %q, partition %q", h.ex.Account, h.ex.Partition)
	}
}
