package monitor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/monitor"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// The tests of this file run the monitor with its alert state on the
// devstack's DynamoDB (moto), each on a table of its own, and assert what
// was published.

var prodARN = scenario.KeyARN(scenario.ProdKeyID)

// clock is a test clock the monitors of one test share.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// stateMonitor builds the Lambda's monitor with STATE_TABLE=table and the
// settings in env, on clk, alerting into the returned buffer.
func stateMonitor(t testing.TB, table string, clk *clock, env map[string]string) (*monitor.Monitor, *bytes.Buffer) {
	t.Helper()
	all := map[string]string{"STATE_TABLE": table}
	maps.Copy(all, env)
	m, out := monitorWith(t, all, noBackoff)
	m.Now = clk.Now
	return m, out
}

// lockedWriter serialises publishes of monitors racing on one buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  alert.Publisher
}

func (l *lockedWriter) Publish(ctx context.Context, a alert.Alert) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Publish(ctx, a)
}

func disableEvent(seq int) []byte {
	c := scenario.CallFor("DisableKey", prodARN)
	c.Seq = seq
	return scenario.APICall(c)
}

func enableEvent(seq int) []byte {
	c := scenario.CallFor("EnableKey", prodARN)
	c.Seq = seq
	return scenario.APICall(c)
}

// handle runs one event and fails the test on an error.
func handle(t testing.TB, m *monitor.Monitor, ev []byte) monitor.Result {
	t.Helper()
	res, err := m.HandleEvent(context.Background(), ev)
	if err != nil {
		t.Fatalf("HandleEvent: %v", err)
	}
	return res
}

// wantAlerts checks the alerts published since the last call: their
// notice reasons and top codes, e.g. "NEW KEY_DISABLED".
func wantAlerts(t *testing.T, out *bytes.Buffer, step string, want ...string) []alert.Alert {
	t.Helper()
	as := alerts(t, out)
	var got []string
	for _, a := range as {
		reason := "-"
		if a.Notice != nil {
			reason = string(a.Notice.Reason)
		}
		got = append(got, reason+" "+a.Code())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: alerts %q, want %q", step, got, want)
	}
	return as
}

// disableProd disables the prod key and has m handle its DisableKey event
// (seq 1), which must publish NEW KEY_DISABLED and nothing else (step
// names it on failure); it returns what was published: that one alert.
func disableProd(t *testing.T, client *kms.Client, m *monitor.Monitor, out *bytes.Buffer, step string) []alert.Alert {
	t.Helper()
	disable(t, client, prodARN)
	handle(t, m, disableEvent(1))
	return wantAlerts(t, out, step, "NEW KEY_DISABLED")
}

// TestStateDuplicateDelivery: EventBridge delivering one event twice (same
// event id) makes one alert.
func TestStateDuplicateDelivery(t *testing.T) {
	client, _ := world(t)
	clk := &clock{now: time.Now()}
	m, out := stateMonitor(t, stateTable(t), clk, nil)
	as := disableProd(t, client, m, out, "first delivery")
	if as[0].Severity != alert.Critical || !strings.HasPrefix(as[0].Title, "KMS key alias/fsx-prod was disabled") {
		t.Errorf("first alert %s %q", as[0].Severity, as[0].Title)
	}
	res := handle(t, m, disableEvent(1))
	wantAlerts(t, out, "redelivery")
	if res.Alerts != 0 || res.Checked != 1 {
		t.Errorf("redelivery result %+v, want the key checked and no alert", res)
	}
}

// TestStateRepeatedEvent: a second DisableKey on the broken key (another
// event id) and a sweep say nothing new.
func TestStateRepeatedEvent(t *testing.T) {
	client, _ := world(t)
	clk := &clock{now: time.Now()}
	m, out := stateMonitor(t, stateTable(t), clk, map[string]string{"SWEEP_SUMMARY": "never"})
	disableProd(t, client, m, out, "first event")
	clk.Add(time.Hour)
	handle(t, m, disableEvent(2))
	wantAlerts(t, out, "second event")
	s, _, err := m.Sweep(context.Background(), monitor.SweepOptions{Summary: monitor.SummaryNever})
	if err != nil {
		t.Fatal(err)
	}
	wantAlerts(t, out, "sweep")
	if s.Alerts != 0 || s.Noncompliant != 1 {
		t.Errorf("sweep summary %+v, want the key noncompliant and no alert", s)
	}
}

const coldStartEnv = "FSXKMS_TEST_COLD_START_TABLE"

// TestStateColdStart: a new process (the test binary run again, on the
// same stack and table) handling the event again sends nothing.
func TestStateColdStart(t *testing.T) {
	client, _ := world(t)
	table := stateTable(t)
	clk := &clock{now: time.Now()}
	m, out := stateMonitor(t, table, clk, nil)
	disableProd(t, client, m, out, "first process")

	cmd := exec.Command(os.Args[0], "-test.run=^TestColdStartChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), coldStartEnv+"="+table)
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, got)
	}
	if !strings.Contains(string(got), "child: 0 alerts, 1 checked") {
		t.Fatalf("child process output:\n%s\nwant 0 alerts, 1 checked", got)
	}
}

// TestColdStartChild is TestStateColdStart's new process.
func TestColdStartChild(t *testing.T) {
	table := os.Getenv(coldStartEnv)
	if table == "" {
		t.Skip("runs only as the child process of TestStateColdStart")
	}
	m, out := stateMonitor(t, table, &clock{now: time.Now()}, nil)
	res := handle(t, m, disableEvent(2))
	fmt.Printf("child: %d alerts, %d checked\n", len(alerts(t, out)), res.Checked)
}

// TestStateRace: invocations racing on one finding (two functions, the
// same event and another event at once) make one alert.
func TestStateRace(t *testing.T) {
	client, _ := world(t)
	disable(t, client, prodARN)
	for round := range 5 {
		table := stateTable(t)
		clk := &clock{now: time.Now()}
		var out bytes.Buffer
		pub := &lockedWriter{w: alert.NewWriter(&out)}
		var ms []*monitor.Monitor
		for range 3 {
			m, _ := stateMonitor(t, table, clk, nil)
			m.Alerts = pub
			ms = append(ms, m)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(ms))
		for i, m := range ms {
			wg.Go(func() { _, errs[i] = m.HandleEvent(context.Background(), disableEvent(1+i%2)) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		wantAlerts(t, &out, fmt.Sprintf("round %d", round), "NEW KEY_DISABLED")
	}
}

// failOnce fails its first n publishes, as an unreachable SNS would.
type failOnce struct {
	next  alert.Publisher
	fails atomic.Int32
}

func (f *failOnce) Publish(ctx context.Context, a alert.Alert) error {
	if f.fails.Add(-1) >= 0 {
		return errors.New("sns: topic unreachable (injected)")
	}
	return f.next.Publish(ctx, a)
}

// TestStatePublishFailsThenRetried: the first publish fails, the
// invocation errs (Lambda retries it), the retry delivers the alert once,
// and a third delivery sends nothing. A KMS CMK Deletion event, whose
// retries the monitor once dropped as duplicates.
func TestStatePublishFailsThenRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   []byte
		code string
		gone bool
	}{
		{name: "DisableKey", ev: disableEvent(1), code: "KEY_DISABLED"},
		{name: "KMS CMK Deletion", ev: scenario.Native("KMS CMK Deletion", goneARN, 1), code: "KEY_NOT_FOUND", gone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, _ := world(t)
			if tc.gone {
				useDeletedKey(t)
			} else {
				disable(t, client, prodARN)
			}
			clk := &clock{now: time.Now()}
			m, out := stateMonitor(t, stateTable(t), clk, nil)
			f := &failOnce{next: m.Alerts}
			f.fails.Store(1)
			m.Alerts = f
			if _, err := m.HandleEvent(context.Background(), tc.ev); err == nil || !strings.Contains(err.Error(), "topic unreachable") {
				t.Fatalf("first delivery: err %v, want the failed publish (so Lambda retries)", err)
			}
			wantAlerts(t, out, "first delivery")
			clk.Add(time.Minute) // Lambda's first retry comes about a minute later
			handle(t, m, tc.ev)
			wantAlerts(t, out, "retry", "UNSENT "+tc.code)
			handle(t, m, tc.ev)
			wantAlerts(t, out, "second retry")
		})
	}
}

// TestStateReminder: an open problem is reminded once REMIND_AFTER has
// passed since the last alert, saying for how long it has been open.
func TestStateReminder(t *testing.T) {
	client, _ := world(t)
	clk := &clock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	m, out := stateMonitor(t, stateTable(t), clk, map[string]string{"REMIND_AFTER": "24h"})
	disableProd(t, client, m, out, "t0")
	clk.Add(23 * time.Hour)
	handle(t, m, disableEvent(2))
	wantAlerts(t, out, "t0+23h")
	clk.Add(time.Hour)
	handle(t, m, disableEvent(3))
	as := wantAlerts(t, out, "t0+24h", "REMINDER KEY_DISABLED")
	n := as[0].Notice
	if n.OpenFor != "24h00m" || n.AlertsBefore != 1 || !strings.HasPrefix(as[0].Title, "Reminder, open 24h00m: KMS key alias/fsx-prod") {
		t.Errorf("reminder notice %+v, title %q", n, as[0].Title)
	}
	_, body := as[0].Email()
	if !strings.Contains(body, "Notice:") || !strings.Contains(body, "reminder 1; open 24h00m, since 2026-12-01T09:00:00Z") {
		t.Errorf("reminder email lacks its notice line:\n%s", body)
	}
	clk.Add(time.Hour)
	handle(t, m, disableEvent(4))
	wantAlerts(t, out, "t0+25h")
}

// TestStateResolved: the recovery is said once, as RESOLVED, by whichever
// path sees it first: the EnableKey event, or the sweep when the event
// never came. The sweep summary goes out only when its counts changed.
func TestStateResolved(t *testing.T) {
	t.Run("by the event", func(t *testing.T) {
		client, _ := world(t)
		clk := &clock{now: time.Now()}
		m, out := stateMonitor(t, stateTable(t), clk, nil)
		disableProd(t, client, m, out, "disabled")
		clk.Add(2*time.Hour + 13*time.Minute)
		enable(t, client, prodARN)
		handle(t, m, enableEvent(2))
		as := wantAlerts(t, out, "enabled", "RESOLVED RESOLVED")
		a := as[0]
		if a.Severity != alert.Info || a.Status != alert.Compliant || !slices.Equal(a.Notice.Resolved, []string{"KEY_DISABLED"}) ||
			a.Title != "Resolved: KMS key alias/fsx-prod KEY_DISABLED over after 2h13m" ||
			!strings.Contains(a.Findings[0].Message, "KEY_DISABLED is over after 2h13m") {
			t.Errorf("RESOLVED alert %s %s %q %+v %q", a.Severity, a.Status, a.Title, a.Notice, a.Findings[0].Message)
		}
		handle(t, m, enableEvent(2))
		wantAlerts(t, out, "EnableKey redelivered")
	})
	t.Run("by the sweep", func(t *testing.T) {
		client, _ := world(t)
		clk := &clock{now: time.Now()}
		m, out := stateMonitor(t, stateTable(t), clk, nil)
		disable(t, client, prodARN)
		if _, _, err := m.Sweep(context.Background(), monitor.SweepOptions{}); err != nil {
			t.Fatal(err)
		}
		wantAlerts(t, out, "first sweep", "NEW KEY_DISABLED", "- SWEEP_SUMMARY")
		handle(t, m, disableEvent(1))
		wantAlerts(t, out, "the event after the sweep")
		if _, _, err := m.Sweep(context.Background(), monitor.SweepOptions{}); err != nil {
			t.Fatal(err)
		}
		wantAlerts(t, out, "second sweep, nothing changed")
		enable(t, client, prodARN) // and the EnableKey event never comes
		clk.Add(6 * time.Hour)
		if _, _, err := m.Sweep(context.Background(), monitor.SweepOptions{}); err != nil {
			t.Fatal(err)
		}
		wantAlerts(t, out, "sweep after the fix", "RESOLVED RESOLVED", "- SWEEP_SUMMARY")
		if _, _, err := m.Sweep(context.Background(), monitor.SweepOptions{}); err != nil {
			t.Fatal(err)
		}
		wantAlerts(t, out, "sweep after that")
	})
}

// goneARN is a key KMS does not know, which FSx still names (deleted).
const goneARN = "arn:aws:kms:us-east-1:111122223333:key/9999abcd-12ab-34cd-56ef-1234567890ab"

// useDeletedKey adds a file system on goneARN to the FSx inventory.
func useDeletedKey(t testing.TB) {
	t.Helper()
	rs := append(scenario.Resources(), scenario.Resource{ID: "fs-0a1b2c3d4e5f60099", Type: "ONTAP", Lifecycle: "AVAILABLE",
		KeyID: "9999abcd-12ab-34cd-56ef-1234567890ab"})
	setInventory(t, rs)
}

// TestStateDeletionTwoEvents: a deletion's two events, the native KMS CMK
// Deletion and CloudTrail's DeleteKey, make one alert: both find
// KEY_NOT_FOUND, one problem. (An imported key material expiry's two events
// both find KEY_PENDING_IMPORT the same way; local-kms cannot make a key
// PendingImport, so no test here shows it.)
func TestStateDeletionTwoEvents(t *testing.T) {
	world(t)
	useDeletedKey(t)
	m, out := stateMonitor(t, stateTable(t), &clock{now: time.Now()}, nil)
	handle(t, m, scenario.Native("KMS CMK Deletion", goneARN, 1))
	wantAlerts(t, out, "KMS CMK Deletion", "NEW KEY_NOT_FOUND")
	handle(t, m, scenario.APICall(scenario.CallFor("DeleteKey", goneARN)))
	wantAlerts(t, out, "DeleteKey")
	handle(t, m, scenario.Native("KMS CMK Deletion", goneARN, 2))
	wantAlerts(t, out, "KMS CMK Deletion again")
}

// TestStateExpiredItemIgnored: an item past its expiry, which DynamoDB has
// not deleted yet (it deletes them only eventually; moto never does), is
// treated as absent: the problem alerts as new, and is not resolved.
func TestStateExpiredItemIgnored(t *testing.T) {
	client, _ := world(t)
	clk := &clock{now: time.Now()}
	m, out := stateMonitor(t, stateTable(t), clk, map[string]string{"REMIND_AFTER": "0"})
	disableProd(t, client, m, out, "t0")
	clk.Add(state.DefaultOpenTTL + time.Hour)
	handle(t, m, disableEvent(2))
	wantAlerts(t, out, "after the expiry", "NEW KEY_DISABLED")
	clk.Add(state.DefaultOpenTTL + time.Hour)
	enable(t, client, prodARN)
	handle(t, m, enableEvent(3))
	wantAlerts(t, out, "fixed after that item expired too")
}

// TestEventBus: with EVENT_BUS_ARN every alert the monitor sends is also an
// event on that bus (source fsxkms, detail-type "fsxkms Alert", detail the
// machine form), which rules route: here one sending fsxkms's events to a
// queue on the devstack's moto. The state rule holds for the bus too: a
// redelivery puts nothing, a recovery puts its RESOLVED.
func TestEventBus(t *testing.T) {
	ctx := context.Background()
	client, _ := world(t)
	sink, err := devstack.Current().NewEventSink(ctx, fmt.Sprintf("fsxkms-%d", time.Now().UnixNano()),
		`{"source":["fsxkms"],"detail-type":["fsxkms Alert"]}`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sink.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	// Alerts to stdout and the bus, as the Lambda's without a topic.
	m := lambdaMonitor(t, map[string]string{"STATE_TABLE": stateTable(t), "EVENT_BUS_ARN": sink.BusARN}, noBackoff)
	clk := &clock{now: time.Now()}
	m.Now = clk.Now

	disable(t, client, prodARN)
	handle(t, m, disableEvent(1))
	handle(t, m, disableEvent(1)) // redelivered: already said
	evs, err := sink.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("%d events reached the rule's queue, want the one alert", len(evs))
	}
	ev := evs[0]
	if ev.Source != alert.EventSource || ev.DetailType != alert.EventDetailType || len(ev.Resources) != 1 || ev.Resources[0] != prodARN {
		t.Errorf("event %s %q resources %v", ev.Source, ev.DetailType, ev.Resources)
	}
	var a alert.Alert
	if err := json.Unmarshal(ev.Detail, &a); err != nil {
		t.Fatalf("detail is not an alert: %v", err)
	}
	if a.Schema != alert.Schema || a.Key.ARN != prodARN || a.Code() != "KEY_DISABLED" || a.Notice == nil || a.Notice.Reason != "NEW" {
		t.Errorf("detail: schema %q key %s code %s notice %+v; want the NEW KEY_DISABLED alert", a.Schema, a.Key.ARN, a.Code(), a.Notice)
	}
	// The detail is exactly a machine form: rendering it again changes nothing.
	again, err := a.Machine()
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	json.Unmarshal(ev.Detail, &got)
	json.Unmarshal(again, &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("detail %s\nis not the machine form %s", ev.Detail, again)
	}

	clk.Add(time.Hour)
	enable(t, client, prodARN)
	handle(t, m, enableEvent(2))
	evs, err = sink.Receive(ctx)
	if err != nil || len(evs) != 1 {
		t.Fatalf("after EnableKey: %d events (%v), want the RESOLVED alert", len(evs), err)
	}
	var r alert.Alert
	if err := json.Unmarshal(evs[0].Detail, &r); err != nil || r.Severity != alert.Info || r.Notice == nil || r.Notice.Reason != "RESOLVED" {
		t.Errorf("after EnableKey: detail %s, want the INFO RESOLVED alert", evs[0].Detail)
	}
}
