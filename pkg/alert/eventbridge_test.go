package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/fsxkms/fsxkms/internal/devstack"
)

const bus = "arn:aws:events:us-east-1:111122223333:event-bus/fsxkms"

// fakeEvents records PutEvents calls and refuses entries as told: refuse
// returns the error code for the n-th entry ever sent (from 0), or "".
type fakeEvents struct {
	mu     sync.Mutex
	calls  [][]types.PutEventsRequestEntry
	sent   int
	refuse func(n int) string
}

func (f *fakeEvents) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in.Entries)
	out := &eventbridge.PutEventsOutput{}
	for range in.Entries {
		code := ""
		if f.refuse != nil {
			code = f.refuse(f.sent)
		}
		f.sent++
		if code != "" {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, types.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("refused (test)")})
		} else {
			out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String(fmt.Sprint("ev-", f.sent))})
		}
	}
	return out, nil
}

func newTestEventBridge(f *fakeEvents) *EventBridge {
	e := NewEventBridge(f, bus, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	e.wait = func(context.Context, time.Duration) error { return nil }
	return e
}

// entrySize is an entry's size as EventBridge counts it.
func entrySize(en types.PutEventsRequestEntry) int {
	n := len(aws.ToString(en.Source)) + len(aws.ToString(en.DetailType)) + len(aws.ToString(en.Detail))
	for _, r := range en.Resources {
		n += len(r)
	}
	if en.Time != nil {
		n += 14
	}
	return n
}

// TestEventBridgeEntry: one alert is one entry on the bus: source fsxkms,
// detail-type "fsxkms Alert", detail the machine form, the key ARN as its
// resource.
func TestEventBridgeEntry(t *testing.T) {
	f := &fakeEvents{}
	a := loadInput(t, "testdata/attempt-denied.input.json")
	if err := newTestEventBridge(f).Publish(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 || len(f.calls[0]) != 1 {
		t.Fatalf("calls %d, want 1 call of 1 entry", len(f.calls))
	}
	en := f.calls[0][0]
	machine, err := a.Machine()
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(en.Source) != "fsxkms" || aws.ToString(en.DetailType) != "fsxkms Alert" || aws.ToString(en.EventBusName) != bus ||
		aws.ToString(en.Detail) != string(machine) || !slices.Equal(en.Resources, []string{a.Key.ARN}) {
		t.Errorf("entry %s %q on %s, resources %v; detail equals the machine form: %v",
			aws.ToString(en.Source), aws.ToString(en.DetailType), aws.ToString(en.EventBusName), en.Resources, aws.ToString(en.Detail) == string(machine))
	}
}

// TestEventBridgeBatches: 25 alerts go in calls of 10, 10 and 5.
func TestEventBridgeBatches(t *testing.T) {
	f := &fakeEvents{}
	a := loadInput(t, "testdata/attempt-denied.input.json")
	as := make([]Alert, 25)
	for i := range as {
		as[i] = a
	}
	if err := newTestEventBridge(f).PublishAll(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, c := range f.calls {
		sizes = append(sizes, len(c))
	}
	if !slices.Equal(sizes, []int{10, 10, 5}) {
		t.Errorf("calls of %v entries, want [10 10 5]", sizes)
	}
}

// TestEventBridgeRefused: a refused entry is sent again, alone; one
// refused every time fails after three attempts, naming its error code.
func TestEventBridgeRefused(t *testing.T) {
	a := loadInput(t, "testdata/attempt-denied.input.json")
	as := []Alert{a, a, a}

	once := &fakeEvents{refuse: func(n int) string {
		if n == 1 {
			return "ThrottlingException"
		}
		return ""
	}}
	if err := newTestEventBridge(once).PublishAll(context.Background(), as); err != nil {
		t.Fatalf("refused once: %v, want it sent again and no error", err)
	}
	if len(once.calls) != 2 || len(once.calls[1]) != 1 {
		t.Errorf("refused once: %d calls, the second of %d entries; want 2, the second with the refused one alone", len(once.calls), len(once.calls[len(once.calls)-1]))
	}

	always := &fakeEvents{refuse: func(int) string { return "InternalFailure" }}
	err := newTestEventBridge(always).PublishAll(context.Background(), as[:1])
	if err == nil || !strings.Contains(err.Error(), "InternalFailure") || !strings.Contains(err.Error(), "3 times") {
		t.Fatalf("refused always: err %v, want the error code after 3 attempts", err)
	}
	if len(always.calls) != 3 {
		t.Errorf("refused always: %d calls, want 3", len(always.calls))
	}
}

// TestEventBridgeBigAlert: an alert about a key with 20,000 FSx resources
// and long statements fits one entry (256 KB), still one valid machine
// form, which says what it left out.
func TestEventBridgeBigAlert(t *testing.T) {
	a := loadInput(t, "testdata/attempt-denied.input.json")
	for i := range 20000 {
		id := fmt.Sprintf("backup-%017d", i)
		a.Resources = append(a.Resources, Resource{Type: "backup", ID: id, ARN: "arn:aws:fsx:us-east-1:111122223333:backup/" + id, Lifecycle: "AVAILABLE"})
	}
	a.Findings[0].Statements = []string{strings.Repeat("é", 4000)}
	if b, _ := a.Machine(); len(b) <= MaxEventBytes {
		t.Fatalf("test alert's machine form is %d bytes: not over the limit", len(b))
	}
	f := &fakeEvents{}
	if err := newTestEventBridge(f).Publish(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	en := f.calls[0][0]
	if n := entrySize(en); n > MaxEventBytes {
		t.Errorf("entry is %d bytes, over %d", n, MaxEventBytes)
	}
	var got Alert
	if err := json.Unmarshal([]byte(aws.ToString(en.Detail)), &got); err != nil || !utf8.ValidString(aws.ToString(en.Detail)) {
		t.Fatalf("detail is not valid JSON: %v", err)
	}
	if got.Schema != Schema || got.Key.ARN != a.Key.ARN || got.Findings[len(got.Findings)-1].Code != "ALERT_TRUNCATED" || len(got.Resources) == 0 {
		t.Errorf("shortened detail: schema %q key %q, %d resources, last finding %q; want the alert with ALERT_TRUNCATED last",
			got.Schema, got.Key.ARN, len(got.Resources), got.Findings[len(got.Findings)-1].Code)
	}
}

func TestCheckEventBusARN(t *testing.T) {
	for _, s := range []string{bus, "arn:aws-us-gov:events:us-gov-west-1:111122223333:event-bus/default"} {
		if err := CheckEventBusARN(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"fsxkms", "arn:aws:events:us-east-1:111122223333:rule/x", "arn:aws:sns:us-east-1:111122223333:event-bus/x",
		"arn:aws:events::111122223333:event-bus/x", "arn:aws:events:us-east-1:111122223333:event-bus/"} {
		if err := CheckEventBusARN(s); err == nil {
			t.Errorf("%s: accepted", s)
		}
	}
}

type failing struct{ calls int }

func (f *failing) Publish(context.Context, Alert) error { f.calls++; return errors.New("down (test)") }

// TestAll: every publisher gets the alert, even after one failed, and the
// failure is returned.
func TestAll(t *testing.T) {
	bad := &failing{}
	f := &fakeEvents{}
	a := loadInput(t, "testdata/attempt-denied.input.json")
	err := All(bad, newTestEventBridge(f)).Publish(context.Background(), a)
	if err == nil || !strings.Contains(err.Error(), "down (test)") || bad.calls != 1 || len(f.calls) != 1 {
		t.Errorf("err %v, %d and %d calls; want the failure and one call each", err, bad.calls, len(f.calls))
	}
}

func TestPlain(t *testing.T) {
	got := Plain("Allow\nhttps://evil.example/\u202e"+strings.Repeat("x", 300), 100)
	if strings.ContainsAny(got, "\n\u202e") || strings.Contains(got, "://") || len(got) > 100 || !strings.HasPrefix(got, `Allow\nhttps[:]//evil.example/\u202e`) {
		t.Errorf("Plain: %q", got)
	}
}

// TestEventBridgeMoto puts an alert on a bus of the devstack's moto, whose
// rule on the detail's severity sends it to a queue, and reads it back as
// a rule's target receives it: the machine form as the event's detail.
func TestEventBridgeMoto(t *testing.T) {
	ctx := context.Background()
	sink, err := devstack.Current().NewEventSink(ctx, fmt.Sprintf("alerts-%d", time.Now().UnixNano()),
		`{"source":["fsxkms"],"detail-type":["fsxkms Alert"],"detail":{"severity":["WARNING"]}}`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sink.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := loadInput(t, "testdata/attempt-denied.input.json")
	info := a
	info.Severity, info.Findings = Info, nil
	if err := NewEventBridge(eventbridge.NewFromConfig(cfg), sink.BusARN).PublishAll(ctx, []Alert{a, info}); err != nil {
		t.Fatal(err)
	}
	evs, err := sink.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("%d events reached the rule's queue, want the WARNING one", len(evs))
	}
	var got, want map[string]any
	machine, _ := a.Machine()
	json.Unmarshal(machine, &want)
	if err := json.Unmarshal(evs[0].Detail, &got); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("detail %s\nwant the machine form %s", evs[0].Detail, machine)
	}
	if evs[0].Source != EventSource || evs[0].DetailType != EventDetailType || !slices.Equal(evs[0].Resources, []string{a.Key.ARN}) {
		t.Errorf("event %s %q resources %v", evs[0].Source, evs[0].DetailType, evs[0].Resources)
	}
}
