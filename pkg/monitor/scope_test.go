package monitor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/scenario"
)

// refusedCall is a DisableKey refused to Mallory in the demo account and
// Region, made with keyId as typed; resources, when set, replace the
// record's resources[].
func refusedCall(t *testing.T, keyID string, resources ...string) []byte {
	t.Helper()
	c := scenario.CallFor("DisableKey", scenario.KeyARN(scenario.ProdKeyID))
	c.NoKey, c.Actor, c.ErrorCode = true, scenario.MalloryARN, "AccessDenied"
	c.Params = map[string]any{"keyId": keyID}
	raw := scenario.APICall(c)
	if len(resources) == 0 {
		return raw
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	var rs []any
	for _, r := range resources {
		rs = append(rs, map[string]any{"accountId": scenario.Account, "type": "AWS::KMS::Key", "ARN": r})
	}
	ev["detail"].(map[string]any)["resources"] = rs
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestForeignTargetsNotRead: a refused call naming an alias or key in
// another account, Region or partition makes no KMS call, raises no alert,
// and is logged at WARN saying why.
func TestForeignTargetsNotRead(t *testing.T) {
	world(t)
	st := devstack.Current()
	ctx := context.Background()
	for _, tc := range []struct{ keyID, why string }{
		{"arn:aws:kms:us-east-1:999999999999:alias/fsx-prod", "in account 999999999999, not the event's account 111122223333"},
		{"arn:aws:kms:eu-west-1:111122223333:alias/fsx-prod", "in Region eu-west-1, not the event's Region us-east-1"},
		{"arn:aws-cn:kms:us-east-1:111122223333:alias/fsx-prod", "in partition aws-cn"},
		{"arn:aws:kms:us-east-1:999999999999:key/" + scenario.ProdKeyID, "in account 999999999999"},
		{"arn:aws:kms:ap-south-1:111122223333:key/" + scenario.ProdKeyID, "in Region ap-south-1"},
	} {
		t.Run(tc.keyID, func(t *testing.T) {
			m, out := newMonitor(t)
			var logs bytes.Buffer
			m.Log = slog.New(slog.NewJSONHandler(&logs, nil))
			st.KMS.ResetCalls()
			res, err := m.HandleEvent(ctx, refusedCall(t, tc.keyID))
			if err != nil {
				t.Fatal(err)
			}
			if res.Ignored != 1 || res.Checked != 0 {
				t.Errorf("result %+v, want the event ignored", res)
			}
			if calls := st.KMS.Calls(); len(calls) != 0 {
				t.Errorf("KMS calls %v, want none", calls)
			}
			if got := alerts(t, out); len(got) != 0 {
				t.Errorf("alerts %v, want none", codes(got[0]))
			}
			if !strings.Contains(logs.String(), `"level":"WARN","msg":"key or alias named by the event is outside its account and Region: not read"`) ||
				!strings.Contains(logs.String(), tc.why) {
				t.Errorf("logs lack the WARN line saying %q:\n%s", tc.why, &logs)
			}
		})
	}
}

// TestOneKeyNamedTwice: an event naming one key by two aliases is checked
// and alerted once.
func TestOneKeyNamedTwice(t *testing.T) {
	client, _ := world(t)
	ctx := context.Background()
	twin := "alias/fsx-prod-twin"
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(twin), TargetKeyId: aws.String(scenario.ProdKeyID)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.DeleteAlias(context.Background(), &kms.DeleteAliasInput{AliasName: aws.String(twin)}) })
	m, out := newMonitor(t)
	alias := func(name string) string { return "arn:aws:kms:us-east-1:111122223333:" + name }
	res, err := m.HandleEvent(ctx, refusedCall(t, alias("alias/fsx-prod"), alias("alias/fsx-prod"), alias(twin)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked != 1 || len(res.Keys) != 1 || res.Keys[0].KeyARN != scenario.KeyARN(scenario.ProdKeyID) {
		t.Errorf("result %+v, want the prod key checked once", res)
	}
	if got := alerts(t, out); len(got) != 1 || codes(got[0])[0] != "ATTEMPTED_CHANGE_DENIED" {
		t.Errorf("%d alerts, want one ATTEMPTED_CHANGE_DENIED", len(got))
	}
}

// TestStaleInventoryListedAgain: an event on a key the cached listing does
// not name lists FSx once more before ignoring it; a key FSx started using
// since is then checked.
func TestStaleInventoryListedAgain(t *testing.T) {
	client, _ := world(t)
	st := devstack.Current()
	ctx := context.Background()
	m, out := newMonitor(t)
	other := scenario.KeyARN(scenario.OtherKeyID)
	event := func(seq int) []byte {
		c := scenario.CallFor("DisableKey", other)
		c.Seq = seq
		return scenario.APICall(c)
	}
	// Warm the cache; the other key is not FSx's yet.
	res, err := m.HandleEvent(ctx, event(1))
	if err != nil || res.Ignored != 1 {
		t.Fatalf("result %+v, err %v; want ignored", res, err)
	}
	if n := st.FSx.Calls()["DescribeFileSystems"]; n != 1 {
		t.Errorf("DescribeFileSystems calls = %d, want 1 (a cold cache)", n)
	}
	// A cached listing that does not name the key is confirmed by one more.
	st.FSx.ResetCalls()
	if res, err := m.HandleEvent(ctx, event(2)); err != nil || res.Ignored != 1 || res.Checked != 0 {
		t.Fatalf("result %+v, err %v; want ignored after listing again", res, err)
	}
	if n := st.FSx.Calls()["DescribeFileSystems"]; n != 1 {
		t.Errorf("DescribeFileSystems calls = %d, want 1 (listed again once)", n)
	}

	// FSx now has a file system on the key; the cache does not know it.
	rs := append(scenario.Resources(), scenario.Resource{ID: "fs-0a1b2c3d4e5f60099", Type: "WINDOWS", Lifecycle: "AVAILABLE", KeyID: scenario.OtherKeyID})
	setInventory(t, rs)
	if _, err := client.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(other)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.EnableKey(context.Background(), &kms.EnableKeyInput{KeyId: aws.String(other)}) })
	st.FSx.ResetCalls()
	res, err = m.HandleEvent(ctx, event(3))
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked != 1 || res.Ignored != 0 || res.Keys[0].KeyARN != other {
		t.Errorf("result %+v, want the other key checked", res)
	}
	if n := st.FSx.Calls()["DescribeFileSystems"]; n != 1 {
		t.Errorf("DescribeFileSystems calls = %d, want 1 (listed again once)", n)
	}
	got := alerts(t, out)
	if len(got) != 1 || got[0].Key.ARN != other || codes(got[0])[0] != "KEY_DISABLED" ||
		len(got[0].Resources) != 1 || got[0].Resources[0].ID != "fs-0a1b2c3d4e5f60099" {
		t.Errorf("alerts %+v, want one KEY_DISABLED on the other key naming its new file system", got)
	}
}
