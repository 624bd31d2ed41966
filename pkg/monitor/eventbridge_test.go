package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

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
	table := stateTable(t)
	s, err := monitor.SettingsFromEnv(func(k string) string {
		return map[string]string{"STATE_TABLE": table, "EVENT_BUS_ARN": sink.BusARN}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := monitor.NewAWS(ctx, s, "test", noBackoff) // alerts to stdout and the bus, as the Lambda without a topic
	if err != nil {
		t.Fatal(err)
	}
	m.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	m.Metrics = io.Discard
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
