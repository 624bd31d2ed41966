package inventory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/fsx"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/pkg/inventory"
)

// endlessFSx speaks FSx's JSON 1.1 protocol and answers every Describe call
// with an empty page and a next token: a fresh one each time, or always the
// same. Only the operation named in endless pages forever; the others end
// at once.
type endlessFSx struct {
	endless string // e.g. "DescribeBackups"
	repeat  bool
	calls   atomic.Int64
}

func (e *endlessFSx) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSSimbaAPIService_v20180301.")
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	field := map[string]string{
		"DescribeFileSystems": "FileSystems", "DescribeBackups": "Backups", "DescribeFileCaches": "FileCaches",
	}[op]
	if field == "" {
		http.Error(w, "unknown operation "+op, http.StatusBadRequest)
		return
	}
	out := map[string]any{field: []any{}}
	if op == e.endless {
		n := e.calls.Add(1)
		out["NextToken"] = "token"
		if !e.repeat {
			out["NextToken"] = fmt.Sprintf("token-%d", n)
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		panic(err)
	}
}

func endlessClient(t *testing.T, h http.Handler) *fsx.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(aws.AnonymousCredentials{}))
	if err != nil {
		t.Fatal(err)
	}
	return fsx.NewFromConfig(cfg, func(o *fsx.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}

// TestEndlessPaging: a service that never stops returning a NextToken ends
// the listing with an error naming the call, well before the deadline: after
// MaxPages pages for fresh tokens, after the second page for a repeated one.
func TestEndlessPaging(t *testing.T) {
	for _, tc := range []struct {
		op        string
		repeat    bool
		wantCalls int64
		wantErr   string
	}{
		{"DescribeFileSystems", false, inventory.MaxPages, "fsx:DescribeFileSystems: still returning a NextToken after 1000 pages"},
		{"DescribeBackups", false, inventory.MaxPages, "fsx:DescribeBackups: still returning a NextToken after 1000 pages"},
		{"DescribeFileCaches", false, inventory.MaxPages, "fsx:DescribeFileCaches: still returning a NextToken after 1000 pages"},
		{"DescribeFileSystems", true, 2, "fsx:DescribeFileSystems: page 2 repeated the previous NextToken"},
		{"DescribeBackups", true, 2, "fsx:DescribeBackups: page 2 repeated the previous NextToken"},
		{"DescribeFileCaches", true, 2, "fsx:DescribeFileCaches: page 2 repeated the previous NextToken"},
	} {
		t.Run(fmt.Sprintf("%s/repeat=%v", tc.op, tc.repeat), func(t *testing.T) {
			h := &endlessFSx{endless: tc.op, repeat: tc.repeat}
			s := &inventory.Source{FSx: endlessClient(t, h)}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			inv, _, err := s.Get(ctx)
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Get = %v, %v; want an error containing %q", inv, err, tc.wantErr)
			}
			if ctx.Err() != nil {
				t.Fatalf("the deadline passed before the listing ended (%s): %v", took, err)
			}
			if got := h.calls.Load(); got != tc.wantCalls {
				t.Errorf("%d %s calls, want %d", got, tc.op, tc.wantCalls)
			}
			t.Logf("%s repeat=%v: error after %s and %d calls: %v", tc.op, tc.repeat, took.Round(time.Millisecond), h.calls.Load(), err)
		})
	}
}

// TestCallTimeout: an FSx call that gets no answer fails after the call
// timeout, with an error saying so, instead of stalling the listing.
func TestCallTimeout(t *testing.T) {
	st := devstack.Current()
	s, _ := source(t, nil)
	s.CallTimeout = 300 * time.Millisecond
	st.FSx.SetLatency(time.Hour)
	defer st.FSx.SetLatency(0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, _, err := s.Get(ctx)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Fatalf("Get with an FSx that never answers = %v; want a timeout error", err)
	}
	for _, call := range []string{"fsx:DescribeFileSystems", "fsx:DescribeBackups", "fsx:DescribeFileCaches"} {
		if !strings.Contains(err.Error(), call) {
			t.Errorf("error does not name %s: %v", call, err)
		}
	}
	if took > 10*time.Second {
		t.Errorf("Get took %s with a 300ms call timeout", took)
	}
}

// TestNoCache: with NoCache every Get lists FSx again.
func TestNoCache(t *testing.T) {
	s, _ := source(t, nil)
	s.NoCache = true
	for i := range 2 {
		if _, fresh, err := s.Get(context.Background()); err != nil || !fresh {
			t.Fatalf("Get %d: fresh=%v err=%v, want a fresh listing", i, fresh, err)
		}
	}
}
