package inventory_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/pkg/inventory"
)

// TestEndlessPaging: a service that never stops returning a NextToken ends
// the listing with an error naming the call, well before the deadline: after
// MaxPages pages for fresh tokens, after the second page for a repeated one.
func TestEndlessPaging(t *testing.T) {
	for _, tc := range []struct {
		op        string
		repeat    bool
		wantCalls int
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
			st := devstack.Current()
			s, _ := source(t, nil)
			st.FSx.SetEndlessPaging(tc.op, tc.repeat)
			defer st.FSx.SetEndlessPaging("", false)
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
			calls := st.FSx.Calls()[tc.op]
			if calls != tc.wantCalls {
				t.Errorf("%d %s calls, want %d", calls, tc.op, tc.wantCalls)
			}
			t.Logf("%s repeat=%v: error after %s and %d calls: %v", tc.op, tc.repeat, took.Round(time.Millisecond), calls, err)
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
