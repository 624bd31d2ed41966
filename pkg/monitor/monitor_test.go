package monitor_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

// TestDemoScenario runs the demo's steps through the handler and the sweep,
// with the alert state on, against the local stack, and checks the alerts
// each one sends.
func TestDemoScenario(t *testing.T) {
	ctx := context.Background()
	client, grants := world(t)
	m, out := stateMonitor(t, stateTable(t), &clock{now: time.Now()}, nil)
	st := devstack.Current()
	for i, step := range scenario.Demo(grants) {
		if step.Change != nil {
			if err := step.Change(ctx, client); err != nil {
				t.Fatalf("step %d (%s): change: %v", i, step.Title, err)
			}
		}
		st.KMS.ResetCalls()
		if step.Sweep {
			if _, _, err := m.Sweep(ctx, monitor.SweepOptions{}); err != nil {
				t.Fatalf("step %d (%s): %v", i, step.Title, err)
			}
		} else if _, err := m.HandleEvent(ctx, step.Event); err != nil {
			t.Fatalf("step %d (%s): %v", i, step.Title, err)
		}
		got := alerts(t, out)
		var firsts []string
		for _, a := range got {
			firsts = append(firsts, a.Code())
		}
		if !slices.Equal(firsts, step.Want) {
			t.Fatalf("step %d (%s): alerts %v, want %v", i, step.Title, firsts, step.Want)
		}
		for j, a := range got {
			wantSev := alert.Critical
			switch step.Want[j] {
			case "RESOLVED", "SWEEP_SUMMARY":
				wantSev = alert.Info
			case "ATTEMPTED_CHANGE_DENIED":
				wantSev = alert.Warning
			}
			if a.Severity != wantSev {
				t.Errorf("step %d (%s): alert %d severity %s, want %s", i, step.Title, j, a.Severity, wantSev)
			}
			if len(a.Resources) == 0 && !step.Sweep {
				t.Errorf("step %d (%s): alert names no FSx resource", i, step.Title)
			}
		}
		if step.Sweep {
			continue
		}
		// At most one DescribeKey, GetKeyPolicy and ListGrants page per key.
		for op, n := range st.KMS.Calls() {
			if n > 1 && op != "ListGrants" {
				t.Errorf("step %d (%s): %s called %d times", i, step.Title, op, n)
			}
		}
	}
}

func TestIgnoredKeyCostsNoKMSRead(t *testing.T) {
	world(t)
	m, out := newMonitor(t)
	ev := scenario.APICall(scenario.CallFor("DisableKey", scenario.KeyARN(scenario.OtherKeyID)))
	res, err := m.HandleEvent(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ignored != 1 || res.Checked != 0 {
		t.Errorf("result %+v, want 1 ignored, 0 checked", res)
	}
	if calls := devstack.Current().KMS.Calls(); len(calls) != 0 {
		t.Errorf("KMS calls for a key FSx does not use: %v", calls)
	}
	if a := alerts(t, out); len(a) != 0 {
		t.Errorf("alerts: %v", a)
	}
}

func TestMonitorAccessDenied(t *testing.T) {
	world(t)
	m, out := newMonitor(t)
	devstack.Current().KMS.Inject("GetKeyPolicy", devstack.Fault{Type: "AccessDeniedException", Message: "User: arn:aws:sts::111122223333:assumed-role/fsxkms/x is not authorized to perform: kms:GetKeyPolicy"})
	_, err := m.HandleEvent(context.Background(), scenario.APICall(scenario.CallFor("PutKeyPolicy", scenario.KeyARN(scenario.ProdKeyID))))
	if err != nil {
		t.Fatal(err)
	}
	got := alerts(t, out)
	if len(got) != 1 || !slices.Contains(codes(got[0]), "MONITOR_ACCESS_DENIED") || got[0].Severity != alert.Critical || got[0].Status != alert.Unknown {
		t.Fatalf("alerts %+v, want one CRITICAL UNKNOWN MONITOR_ACCESS_DENIED", got)
	}
}

func TestDeletedKey(t *testing.T) {
	world(t)
	gone := "arn:aws:kms:us-east-1:111122223333:key/9999abcd-12ab-34cd-56ef-1234567890ab"
	rs := append(scenario.Resources(), scenario.Resource{ID: "fs-0a1b2c3d4e5f60099", Type: "ONTAP", Lifecycle: "AVAILABLE", KeyID: "9999abcd-12ab-34cd-56ef-1234567890ab"})
	setInventory(t, rs)
	m, out := newMonitor(t)
	if _, err := m.HandleEvent(context.Background(), scenario.Native("KMS CMK Deletion", gone, 1)); err != nil {
		t.Fatal(err)
	}
	got := alerts(t, out)
	if len(got) != 1 || codes(got[0])[0] != "KEY_NOT_FOUND" || got[0].Trigger.Source != alert.SourceKMSEvent {
		t.Fatalf("alerts %+v, want one KEY_NOT_FOUND from kms-event", got)
	}
	if got[0].Resources[0].ID != "fs-0a1b2c3d4e5f60099" {
		t.Errorf("resources %+v", got[0].Resources)
	}
}

func TestThrottling(t *testing.T) {
	world(t)
	st := devstack.Current()
	ev := scenario.APICall(scenario.CallFor("DisableKey", scenario.KeyARN(scenario.ProdKeyID)))

	t.Run("retried by the SDK", func(t *testing.T) {
		m, out := newMonitor(t)
		st.KMS.Inject("DescribeKey", devstack.Fault{Status: 400, Type: "ThrottlingException", Message: "Rate exceeded", Times: 2})
		defer st.KMS.ClearFaults()
		if _, err := m.HandleEvent(context.Background(), ev); err != nil {
			t.Fatalf("throttled twice then fine: %v", err)
		}
		if n := st.KMS.Calls()["DescribeKey"]; n != 3 {
			t.Errorf("DescribeKey calls = %d, want 3 (2 throttled + 1)", n)
		}
		alerts(t, out)
	})
	t.Run("beyond retries the event is returned as an error", func(t *testing.T) {
		m, out := newMonitor(t)
		st.KMS.Inject("DescribeKey", devstack.Fault{Status: 400, Type: "ThrottlingException", Message: "Rate exceeded"})
		defer st.KMS.ClearFaults()
		st.KMS.ResetCalls()
		_, err := m.HandleEvent(context.Background(), ev)
		if err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
			t.Fatalf("err = %v, want a ThrottlingException error so Lambda retries", err)
		}
		if n := st.KMS.Calls()["DescribeKey"]; n != monitor.MaxAttempts {
			t.Errorf("DescribeKey calls = %d, want %d (the production retry policy's attempts)", n, monitor.MaxAttempts)
		}
		if a := alerts(t, out); len(a) != 0 {
			t.Errorf("an unjudged event raised alerts: %v", a)
		}
	})
}

func TestMalformedEvent(t *testing.T) {
	world(t)
	m, out := newMonitor(t)
	for _, tc := range []struct {
		raw     string
		ignored int // an event of another source is ignored on purpose, and counted
	}{
		{raw: `{not json`},
		{raw: `[]`},
		{raw: `{"source":"aws.s3","detail-type":"Object Created","detail":{}}`}, // no id, no time: not an EventBridge event
		{raw: `{"version":"0","id":"7f3c5e1a-0000-4000-8000-000000000001","detail-type":"Object Created","source":"aws.s3",` +
			`"account":"111122223333","time":"2026-11-26T09:30:00Z","region":"us-east-1","resources":[],` +
			`"detail":{"bucket":{"name":"b"},"object":{"key":"k"}}}`, ignored: 1},
	} {
		res, err := m.HandleEvent(context.Background(), []byte(tc.raw))
		if tc.ignored > 0 {
			if err != nil || res.Ignored != tc.ignored || res.Events != 1 || res.Checked != 0 {
				t.Errorf("%s: result %+v, err %v; want the event decoded and ignored", tc.raw, res, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "decode event") {
			t.Errorf("%s: err = %v, want a decode error", tc.raw, err)
		}
	}
	if a := alerts(t, out); len(a) != 0 {
		t.Errorf("malformed events raised alerts: %v", a)
	}
}

func TestFSxUnavailable(t *testing.T) {
	world(t)
	st := devstack.Current()
	st.FSx.Inject("DescribeFileSystems", devstack.Fault{Status: 400, Type: "AccessDenied", Message: "not authorized to perform fsx:DescribeFileSystems"})
	defer st.FSx.ClearFaults()
	m, _ := newMonitor(t)
	_, err := m.HandleEvent(context.Background(), scenario.APICall(scenario.CallFor("DisableKey", scenario.KeyARN(scenario.ProdKeyID))))
	if err == nil || !strings.Contains(err.Error(), "FSx inventory") {
		t.Fatalf("err = %v, want the FSx inventory error", err)
	}
}

// TestCustomKeyStoreEvent: DisconnectCustomKeyStore names a key store, not a
// key, so every key FSx uses is read; keys outside that store are not judged
// for it (the demo keys live in no custom key store), so even the disabled
// one raises no alert here: its own events and the sweep report it.
func TestCustomKeyStoreEvent(t *testing.T) {
	ctx := context.Background()
	client, _ := world(t)
	backup := scenario.KeyARN(scenario.BackupKeyID)
	disable(t, client, backup)
	m, out := newMonitor(t)
	for _, name := range []string{"DisconnectCustomKeyStore", "ConnectCustomKeyStore"} {
		res, err := m.HandleEvent(ctx, scenario.APICall(scenario.CallFor(name, scenario.KeyARN(scenario.ProdKeyID))))
		if err != nil {
			t.Fatal(err)
		}
		if res.Checked != 2 {
			t.Errorf("%s: read %d keys, want both keys FSx uses", name, res.Checked)
		}
		for _, k := range res.Keys {
			if k.Status != "OUT_OF_SCOPE" || k.Alerted() {
				t.Errorf("%s: key %s: %+v, want OUT_OF_SCOPE and no alert", name, k.KeyARN, k)
			}
		}
		if got := alerts(t, out); len(got) != 0 {
			t.Errorf("%s: alerts %v, want none (no key is in that store)", name, codes(got[0]))
		}
	}
}

// TestRefusedCallByAlias: a refused call made with an alias names no key ARN;
// the monitor resolves the alias. An alias KMS does not know is ignored; a
// resolution that fails for another reason (throttling) is an error to retry.
func TestRefusedCallByAlias(t *testing.T) {
	world(t)
	st := devstack.Current()
	event := func(alias string) []byte {
		c := scenario.CallFor("DisableKey", scenario.KeyARN(scenario.ProdKeyID))
		c.NoKey, c.Actor, c.ErrorCode = true, scenario.MalloryARN, "AccessDenied"
		c.Params = map[string]any{"keyId": alias}
		return scenario.APICall(c)
	}
	m, out := newMonitor(t)
	ctx := context.Background()

	if _, err := m.HandleEvent(ctx, event("alias/fsx-prod")); err != nil {
		t.Fatal(err)
	}
	got := alerts(t, out)
	if len(got) != 1 || got[0].Key.ARN != scenario.KeyARN(scenario.ProdKeyID) || codes(got[0])[0] != "ATTEMPTED_CHANGE_DENIED" {
		t.Fatalf("alerts %+v, want ATTEMPTED_CHANGE_DENIED on the prod key", got)
	}

	res, err := m.HandleEvent(ctx, event("alias/no-such-key"))
	if err != nil || res.Ignored != 1 {
		t.Errorf("unknown alias: result %+v, err %v; want ignored", res, err)
	}

	st.KMS.Inject("DescribeKey", devstack.Fault{Type: "ThrottlingException", Message: "Rate exceeded"})
	defer st.KMS.ClearFaults()
	if _, err := m.HandleEvent(ctx, event("alias/fsx-prod")); err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Errorf("err = %v, want the throttling error so Lambda retries", err)
	}
}
