package state_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// The table tests talk to the devstack's DynamoDB (moto) over the wire with
// the SDK's own client.
func TestMain(m *testing.M) { os.Exit(devstack.Main(m, devstack.Options{})) }

var (
	t0      = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	keySeq  int
	keySeqM sync.Mutex
)

// newTable returns the devstack's state table and a key ARN no other test
// uses, so tests never see each other's items (and -count=2 passes).
func newTable(t *testing.T) (*state.Table, string) {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keySeqM.Lock()
	keySeq++
	n := keySeq
	keySeqM.Unlock()
	key := fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/%s-%d-%d", t.Name(), time.Now().UnixNano(), n)
	return &state.Table{Client: dynamodb.NewFromConfig(cfg), Name: devstack.Current().StateTable}, key
}

func newSend(id string) state.Send {
	return state.Send{Reason: state.New, Found: state.Observed{ID: id, Code: id, Severity: "CRITICAL", Fingerprint: "fp", Message: "m"}}
}

// TestOpenOnce: two invocations opening one problem: one wins, the other
// gets ErrConflict, and the item reads back as written.
func TestOpenOnce(t *testing.T) {
	ctx := context.Background()
	tbl, key := newTable(t)
	until := t0.Add(time.Minute)
	it, err := tbl.Open(ctx, key, newSend("KEY_DISABLED"), "DisableKey ev-1", "token-a", until, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Open(ctx, key, newSend("KEY_DISABLED"), "DisableKey ev-1", "token-b", until, t0); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("second Open: %v, want ErrConflict", err)
	}
	items, err := tbl.Items(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 {
		t.Fatalf("%d items, want 1", len(items))
	}
	got := items[0]
	if got.Claim != "token-a" || got.Status != state.Open || got.Version != it.Version || !got.FirstSeen.Equal(t0) ||
		!got.ClaimUntil.Equal(until) || got.OpenedBy != "DisableKey ev-1" || got.NotifyCount != 0 ||
		got.Expires.Unix() != t0.Add(state.DefaultOpenTTL).Unix() {
		t.Errorf("item read back %+v\nwritten %+v", got, it)
	}
}

// TestClaimAndNotify walks an item through its life: notified, claimed for
// a reminder, released after a failed publish, claimed again, resolved;
// every write with a stale version or a foreign claim fails.
func TestClaimAndNotify(t *testing.T) {
	ctx := context.Background()
	tbl, key := newTable(t)
	s := newSend("KEY_DISABLED")
	it, err := tbl.Open(ctx, key, s, "sweep", "a", t0.Add(time.Minute), t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.Notified(ctx, it, "b", s.Found, t0); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("Notified with a foreign claim: %v, want ErrConflict", err)
	}
	if err := tbl.Notified(ctx, it, "a", s.Found, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Claim(ctx, it, "c", t0.Add(time.Hour)); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("Claim with a stale version: %v, want ErrConflict", err)
	}
	it, ok, err := tbl.Item(ctx, key, "KEY_DISABLED")
	if err != nil || !ok {
		t.Fatalf("Item: %v %v", ok, err)
	}
	if it.NotifyCount != 1 || !it.LastNotified.Equal(t0) || it.Claim != "" {
		t.Fatalf("after Notified: %+v", it)
	}
	c, err := tbl.Claim(ctx, it, "c", t0.Add(25*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.Release(ctx, c, "c"); err != nil {
		t.Fatal(err)
	}
	it, _, _ = tbl.Item(ctx, key, "KEY_DISABLED")
	if it.Claim != "" || it.NotifyCount != 1 {
		t.Fatalf("after Release: %+v", it)
	}
	c, err = tbl.Claim(ctx, it, "d", t0.Add(25*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.Resolved(ctx, c, "d", t0.Add(26*time.Hour)); err != nil {
		t.Fatal(err)
	}
	it, _, _ = tbl.Item(ctx, key, "KEY_DISABLED")
	if it.Status != state.Resolved || !it.ResolvedAt.Equal(t0.Add(26*time.Hour)) ||
		it.Expires.Unix() != t0.Add(26*time.Hour+state.DefaultClosedTTL).Unix() {
		t.Fatalf("after Resolved: %+v", it)
	}
	// Reopening a resolved item replaces it, conditioned on its version.
	s.Item = it
	if _, err := tbl.Open(ctx, key, s, "sweep", "e", t0.Add(27*time.Hour), t0.Add(27*time.Hour)); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if err := tbl.Supersede(ctx, it); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("Supersede with a stale version: %v, want ErrConflict", err)
	}
}

// TestRacingOpens: many invocations open one problem at once; exactly one
// wins.
func TestRacingOpens(t *testing.T) {
	ctx := context.Background()
	tbl, key := newTable(t)
	var wins, conflicts int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, err := tbl.Open(ctx, key, newSend("KEY_DISABLED"), "sweep", fmt.Sprint("t", i), t0.Add(time.Minute), t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, state.ErrConflict):
				conflicts++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != 7 {
		t.Errorf("%d wins and %d conflicts, want 1 and 7", wins, conflicts)
	}
}

// loseAnswer is a proxy to the devstack's DynamoDB that forwards every
// call but, for the first call of op, closes the connection instead of
// passing DynamoDB's answer back: the write lands and the caller never
// hears so, as when a connection is reset on the way back. The SDK's
// retryer then sends the same write again.
type loseAnswer struct {
	op   string // e.g. "UpdateItem"
	lost atomic.Bool
}

func (p *loseAnswer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, devstack.Current().DynamoDBEndpoint+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), "."+p.op) && p.lost.CompareAndSwap(false, true) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		conn.Close()
		return
	}
	maps.Copy(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

// TestWriteRetriedAfterLostAnswer: a write whose first attempt landed but
// whose answer was lost is retried by the SDK; the retry's condition then
// fails against the item that attempt wrote, and that must not be read as
// another invocation's write (ErrConflict): the write succeeded, and the
// item reads back as written.
func TestWriteRetriedAfterLostAnswer(t *testing.T) {
	ctx := context.Background()
	// Each write is made on an item opened with claim "a" (version 1); Open
	// opens a second problem of the key, Reopen replaces the first after
	// resolving it (version 2).
	for _, tc := range []struct {
		name, op string
		write    func(tbl *state.Table, it state.Item) error
		check    func(it state.Item) bool
	}{
		{"Open", "PutItem", func(tbl *state.Table, it state.Item) error {
			_, err := tbl.Open(ctx, it.Key, newSend("KEY_PENDING_DELETION"), "sweep", "b", t0.Add(time.Hour), t0)
			return err
		}, func(it state.Item) bool { return it.ID == "KEY_PENDING_DELETION" && it.Claim == "b" && it.Version == 1 }},
		{"Reopen", "PutItem", func(tbl *state.Table, it state.Item) error {
			s := newSend("KEY_DISABLED")
			s.Item = it
			_, err := tbl.Open(ctx, it.Key, s, "sweep", "b", t0.Add(time.Hour), t0.Add(time.Hour))
			return err
		}, func(it state.Item) bool { return it.Status == state.Open && it.Claim == "b" && it.Version == 3 }},
		{"Claim", "UpdateItem", func(tbl *state.Table, it state.Item) error {
			_, err := tbl.Claim(ctx, it, "b", t0.Add(time.Hour))
			return err
		}, func(it state.Item) bool { return it.Claim == "b" && it.Version == 2 }},
		{"Notified", "UpdateItem", func(tbl *state.Table, it state.Item) error {
			return tbl.Notified(ctx, it, "a", newSend("KEY_DISABLED").Found, t0)
		}, func(it state.Item) bool { return it.Claim == "" && it.NotifyCount == 1 && it.Version == 2 }},
		{"Release", "UpdateItem", func(tbl *state.Table, it state.Item) error {
			return tbl.Release(ctx, it, "a")
		}, func(it state.Item) bool { return it.Claim == "" && it.NotifyCount == 0 && it.Version == 2 }},
		{"Resolved", "UpdateItem", func(tbl *state.Table, it state.Item) error {
			return tbl.Resolved(ctx, it, "a", t0.Add(time.Hour))
		}, func(it state.Item) bool { return it.Status == state.Resolved && it.Version == 2 }},
		{"Refresh", "UpdateItem", func(tbl *state.Table, it state.Item) error {
			return tbl.Refresh(ctx, it, t0.Add(time.Hour))
		}, func(it state.Item) bool { return it.LastSeen.Equal(t0.Add(time.Hour)) && it.Version == 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl, key := newTable(t)
			it, err := tbl.Open(ctx, key, newSend("KEY_DISABLED"), "sweep", "a", t0.Add(time.Minute), t0)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "Reopen" {
				if err := tbl.Resolved(ctx, it, "a", t0); err != nil {
					t.Fatal(err)
				}
				it.Version++
			}
			proxy := &loseAnswer{op: tc.op}
			srv := httptest.NewServer(proxy)
			defer srv.Close()
			lossy := *tbl
			lossy.Client = dynamodb.New(tbl.Client.(*dynamodb.Client).Options(), func(o *dynamodb.Options) {
				o.BaseEndpoint = aws.String(srv.URL)
			})
			if err := tc.write(&lossy, it); err != nil {
				t.Fatalf("%s after a lost answer: %v", tc.name, err)
			}
			if !proxy.lost.Load() {
				t.Fatalf("no %s answer was lost: the test did not test", tc.op)
			}
			id := "KEY_DISABLED"
			if tc.name == "Open" {
				id = "KEY_PENDING_DELETION"
			}
			got, ok, err := tbl.Item(ctx, key, id)
			if err != nil || !ok || !tc.check(got) {
				t.Errorf("item read back: %+v %v %v", got, ok, err)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	ctx := context.Background()
	tbl, key := newTable(t) // the key names a scope no other test uses
	if _, ok, err := tbl.Summary(ctx, key, t0); err != nil || ok {
		t.Fatalf("Summary before any: %v %v", ok, err)
	}
	if err := tbl.PutSummary(ctx, key, `{"KeysChecked":3}`, t0); err != nil {
		t.Fatal(err)
	}
	got, ok, err := tbl.Summary(ctx, key, t0.Add(time.Hour))
	if err != nil || !ok || got != `{"KeysChecked":3}` {
		t.Fatalf("Summary = %q %v %v", got, ok, err)
	}
	if _, ok, _ := tbl.Summary(ctx, key, t0.Add(state.DefaultOpenTTL+time.Second)); ok {
		t.Error("an expired summary was read: readers must ignore expired items (DynamoDB deletes them only eventually)")
	}
	// Summaries lists every scope's (other tests' too), with when it was
	// stored, and leaves out the expired.
	found := func(now time.Time) (state.StoredSummary, bool) {
		all, err := tbl.Summaries(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range all {
			if s.Scope == key {
				return s, true
			}
		}
		return state.StoredSummary{}, false
	}
	if s, ok := found(t0.Add(time.Hour)); !ok || s.Summary != `{"KeysChecked":3}` || !s.At.Equal(t0) {
		t.Errorf("Summaries: %+v %v, want the summary stored at %s", s, ok, t0)
	}
	if _, ok := found(t0.Add(state.DefaultOpenTTL + time.Second)); ok {
		t.Error("Summaries lists an expired summary")
	}
}

// TestAccountNames: names are stored, renamed and read back; an account
// never named has none.
func TestAccountNames(t *testing.T) {
	ctx := context.Background()
	tbl, key := newTable(t) // the key's id stands for accounts no other test names
	a, b := key+"-a", key+"-b"
	if err := tbl.PutAccountNames(ctx, map[string]string{a: "prod-payments", b: "sandbox"}); err != nil {
		t.Fatal(err)
	}
	if err := tbl.PutAccountNames(ctx, map[string]string{a: "prod-payments-eu"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		account, want string
		ok            bool
	}{{a, "prod-payments-eu", true}, {b, "sandbox", true}, {key + "-c", "", false}} {
		if got, ok, err := tbl.AccountName(ctx, tc.account); got != tc.want || ok != tc.ok || err != nil {
			t.Errorf("AccountName(%s) = %q, %v, %v; want %q, %v", tc.account, got, ok, err, tc.want, tc.ok)
		}
	}
}
