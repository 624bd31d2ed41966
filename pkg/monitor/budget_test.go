package monitor_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

// hangingKMS returns a KMS client whose calls go through a real HTTP proxy
// in front of the local stack's KMS: calls whose body names stuck get no
// answer until the caller gives up; the others are forwarded.
func hangingKMS(t *testing.T, stuck string) *kms.Client {
	t.Helper()
	upstream, err := url.Parse(os.Getenv("AWS_ENDPOINT_URL_KMS"))
	if err != nil || upstream.Host == "" {
		t.Fatalf("AWS_ENDPOINT_URL_KMS=%q: the local stack's KMS endpoint is needed", os.Getenv("AWS_ENDPOINT_URL_KMS"))
	}
	rp := httputil.NewSingleHostReverseProxy(upstream)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if bytes.Contains(body, []byte(stuck)) {
			<-r.Context().Done() // hung: never answers
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return kms.NewFromConfig(awsConfig(t), func(o *kms.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}

// TestSweepKeyBudget: a key whose KMS reads hang becomes MONITOR_READ_FAILED
// ("timed out") once its budget is spent; the other key is judged and the
// summary is sent.
func TestSweepKeyBudget(t *testing.T) {
	world(t)
	m, out := newMonitor(t)
	m.KMS = hangingKMS(t, scenario.ProdKeyID)
	m.KeyBudget = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	s, reps, err := m.Sweep(ctx, monitor.SweepOptions{Summary: monitor.SummaryAlways})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Sweep: %v (one stuck key must not fail the sweep)", err)
	}
	if took > 10*time.Second {
		t.Errorf("sweep took %s with a 500ms key budget", took)
	}
	if s.KeysChecked != 2 || s.Unknown != 1 || s.Compliant != 1 || s.Unreadable != 1 || s.TimedOut != 1 {
		t.Errorf("summary %+v, want 2 keys: 1 compliant, 1 unknown, unreadable and timed out", s)
	}
	prod, backup := scenario.KeyARN(scenario.ProdKeyID), scenario.KeyARN(scenario.BackupKeyID)
	byKey := map[string]monitor.KeyResult{}
	for _, r := range reps {
		byKey[r.Report.Key.ARN] = r
	}
	stuck := byKey[prod]
	if !stuck.TimedOut || stuck.Err == nil || stuck.Report.Status != check.Unknown ||
		!slices.Equal(findings(stuck.Report), []string{"MONITOR_READ_FAILED/kms:DescribeKey/"}) ||
		!strings.Contains(stuck.Report.Findings[0].Message, "timed out") ||
		!strings.Contains(stuck.Report.Findings[0].Message, "per-key budget of 500ms (SWEEP_KEY_BUDGET)") {
		t.Errorf("stuck key: %+v", stuck)
	}
	if r := byKey[backup]; r.Report.Status != check.Compliant || r.Err != nil || r.TimedOut {
		t.Errorf("the other key: %s %v err=%v, want it judged compliant", r.Report.Status, findings(r.Report), r.Err)
	}

	as := alerts(t, out)
	if len(as) != 2 {
		t.Fatalf("%d alerts published, want the stuck key's and the summary", len(as))
	}
	if a := as[0]; a.Key.ARN != prod || a.Status != alert.Unknown || !slices.Equal(codes(a), []string{"MONITOR_READ_FAILED"}) ||
		!strings.Contains(a.Findings[0].Message, "timed out") {
		t.Errorf("key alert %s %s %v %q", a.Key.ARN, a.Status, codes(a), a.Findings[0].Message)
	}
	if a := as[1]; !slices.Equal(codes(a), []string{"SWEEP_SUMMARY"}) || a.Status != alert.Unknown ||
		!strings.Contains(a.Findings[0].Message, "1 unreadable") {
		t.Errorf("summary alert %s %v %q", a.Status, codes(a), a.Findings[0].Message)
	}
}
