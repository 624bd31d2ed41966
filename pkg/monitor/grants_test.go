package monitor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/devstack/fsxserver"
	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/monitor"
)

// removeGrant retires or revokes grant on key in the local KMS, as the
// event that follows will say.
func removeGrant(t *testing.T, client *kms.Client, name, key, grant string) {
	t.Helper()
	ctx := context.Background()
	var err error
	if name == "RetireGrant" {
		_, err = client.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: aws.String(key), GrantId: aws.String(grant)})
	} else {
		_, err = client.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(key), GrantId: aws.String(grant)})
	}
	if err != nil {
		t.Fatalf("%s %s: %v", name, grant, err)
	}
}

// emfValue returns the value of metric name in the EMF lines of b.
func emfValue(t *testing.T, b *bytes.Buffer, name string) float64 {
	t.Helper()
	var v float64
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("metric line is not JSON: %v: %s", err, line)
		}
		if x, ok := doc[name].(float64); ok {
			v += x
		}
	}
	return v
}

// TestFSxOwnGrantRetirement: FSx retiring its own grants (invokedBy
// fsx.amazonaws.com, as AWSService or AWSAccount), one of several or the
// last one, is routine: no alert, one FSxGrantOperations count each.
func TestFSxOwnGrantRetirement(t *testing.T) {
	client, grants := world(t)
	m, out := newMonitor(t)
	var metrics bytes.Buffer
	m.Metrics = &metrics
	prod, backup := scenario.KeyARN(scenario.ProdKeyID), scenario.KeyARN(scenario.BackupKeyID)
	steps := []struct {
		name, event, key, grant, identity string
	}{
		{"one of five on the prod key, AWSService", "RetireGrant", prod, grants[prod][0], "AWSService"},
		{"one of four left, AWSAccount", "RetireGrant", prod, grants[prod][1], "AWSAccount"},
		{"the only one on the backup key, AWSService", "RetireGrant", backup, grants[backup][0], "AWSService"},
		{"a revocation by FSx", "RevokeGrant", prod, grants[prod][2], "AWSAccount"},
	}
	for i, s := range steps {
		removeGrant(t, client, s.event, s.key, s.grant)
		res, err := m.HandleEvent(context.Background(), scenario.GrantCall(s.event, s.key, s.grant, 300+i, scenario.ServiceIdentity(s.identity, "fsx.amazonaws.com")))
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if res.Checked != 1 || res.FSxGrantOps != 1 || res.Alerts != 0 {
			t.Errorf("%s: result %+v, want 1 key checked, 1 FSx grant operation, no alert", s.name, res)
		}
		if got := alerts(t, out); len(got) != 0 {
			t.Errorf("%s: alerts %v %v, want none", s.name, got[0].Severity, codes(got[0]))
		}
	}
	if n := emfValue(t, &metrics, "FSxGrantOperations"); n != float64(len(steps)) {
		t.Errorf("FSxGrantOperations = %v, want %d:\n%s", n, len(steps), metrics.String())
	}
}

// TestPersonRevokesGrants: a person revoking the only FSx grant on a
// key FSx uses is CRITICAL GRANT_REVOKED; revoking one of several is a
// WARNING.
func TestPersonRevokesGrants(t *testing.T) {
	client, grants := world(t)
	m, out := newMonitor(t)
	prod, backup := scenario.KeyARN(scenario.ProdKeyID), scenario.KeyARN(scenario.BackupKeyID)
	ctx := context.Background()

	removeGrant(t, client, "RevokeGrant", prod, grants[prod][0])
	if _, err := m.HandleEvent(ctx, scenario.GrantCall("RevokeGrant", prod, grants[prod][0], 310, nil)); err != nil {
		t.Fatal(err)
	}
	got := alerts(t, out)
	if len(got) != 1 || got[0].Severity != alert.Warning || codes(got[0])[0] != "GRANT_REVOKED" {
		t.Fatalf("one of five revoked: alerts %+v, want one WARNING GRANT_REVOKED", got)
	}
	if msg := got[0].Findings[0].Message; !strings.Contains(msg, "4 grant(s) that look like FSx's remain") {
		t.Errorf("message %q", msg)
	}

	removeGrant(t, client, "RevokeGrant", backup, grants[backup][0])
	if _, err := m.HandleEvent(ctx, scenario.GrantCall("RevokeGrant", backup, grants[backup][0], 311, nil)); err != nil {
		t.Fatal(err)
	}
	got = alerts(t, out)
	if len(got) != 1 || got[0].Severity != alert.Critical || got[0].Status != alert.Noncompliant || codes(got[0])[0] != "GRANT_REVOKED" {
		t.Fatalf("only grant revoked: alerts %+v, want one CRITICAL NONCOMPLIANT GRANT_REVOKED", got)
	}
	f := got[0].Findings[0]
	if !strings.Contains(f.Message, "No grant that looks like FSx's remains") || !strings.Contains(f.Remediation, "aws fsx describe-backups") ||
		strings.Contains(f.Remediation, "describe-file-systems") {
		t.Errorf("finding %+v: want the backup named and describe-backups only", f)
	}
}

// TestGrantRemovalConfirmedByFreshListing: before a grant removal is called
// CRITICAL on a cached listing, FSx is listed once more. A backup deleted
// since the cache was made no longer makes the key "in use".
func TestGrantRemovalConfirmedByFreshListing(t *testing.T) {
	client, grants := world(t)
	st := devstack.Current()
	m, out := newMonitor(t)
	ctx := context.Background()
	backup := scenario.KeyARN(scenario.BackupKeyID)
	// Warm the cache with an event that needs no alert.
	if _, err := m.HandleEvent(ctx, scenario.APICall(scenario.CallFor("TagResource", backup))); err != nil {
		t.Fatal(err)
	}
	alerts(t, out)
	// The only backup on the key is deleted; the cached listing still has it.
	var rs []scenario.Resource
	for _, r := range scenario.Resources() {
		if r.KeyID != scenario.BackupKeyID {
			rs = append(rs, r)
		}
	}
	setInventory(t, rs)
	st.FSx.ResetCalls()
	// A person revokes the last grant: the key is still in the cache, so it
	// is checked, and the fresh listing says FSx no longer uses it.
	removeGrant(t, client, "RevokeGrant", backup, grants[backup][0])
	if _, err := m.HandleEvent(ctx, scenario.GrantCall("RevokeGrant", backup, grants[backup][0], 320, nil)); err != nil {
		t.Fatal(err)
	}
	got := alerts(t, out)
	if len(got) != 1 || got[0].Severity != alert.Warning || len(got[0].Resources) != 0 {
		t.Fatalf("alerts %+v, want one WARNING naming no resource", got)
	}
	if !strings.Contains(got[0].Findings[0].Message, "FSx no longer lists a resource that uses it") {
		t.Errorf("message %q", got[0].Findings[0].Message)
	}
	if n := st.FSx.Calls()["DescribeBackups"]; n != 1 {
		t.Errorf("DescribeBackups calls = %d, want the one confirming listing", n)
	}
}

// TestGrantRemovalOnListedKey: a key in FSX_KEY_ARNS is in use even with no
// FSx resource listed (e.g. a cross-account key): losing its last FSx grant
// is CRITICAL.
func TestGrantRemovalOnListedKey(t *testing.T) {
	client, _ := world(t)
	ctx := context.Background()
	other := scenario.KeyARN(scenario.OtherKeyID)
	g, err := client.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(other), GranteePrincipal: aws.String(scenario.FSxGrantee),
		Name: aws.String("FSx-cross-account"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := monitor.SettingsFromEnv(func(k string) string {
		if k == "FSX_KEY_ARNS" {
			return other
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	m, out := newMonitor(t)
	mm, err := monitor.NewAWS(ctx, s, "test")
	if err != nil {
		t.Fatal(err)
	}
	m.Inventory = mm.Inventory
	removeGrant(t, client, "RetireGrant", other, aws.ToString(g.GrantId))
	if _, err := m.HandleEvent(ctx, scenario.GrantCall("RetireGrant", other, aws.ToString(g.GrantId), 330, nil)); err != nil {
		t.Fatal(err)
	}
	got := alerts(t, out)
	if len(got) != 1 || got[0].Severity != alert.Critical || codes(got[0])[0] != "GRANT_REVOKED" {
		t.Fatalf("alerts %+v, want one CRITICAL GRANT_REVOKED", got)
	}
	f := got[0].Findings[0]
	if !strings.Contains(f.Message, "FSX_KEY_ARNS") || strings.Contains(f.Remediation, "kms:RevokeGrant") {
		t.Errorf("finding %+v: want FSX_KEY_ARNS named and no kms:RevokeGrant advice for a retirement", f)
	}
}

// TestGrantRemovalOnFileCacheKey: a key only an Amazon File Cache uses is in
// use; the alert lists the cache and the fix says describe-file-caches.
func TestGrantRemovalOnFileCacheKey(t *testing.T) {
	client, _ := world(t)
	ctx := context.Background()
	st := devstack.Current()
	other := scenario.KeyARN(scenario.OtherKeyID)
	inv, err := fsxserver.ParseInventory(scenario.InventoryJSON(scenario.Resources()))
	if err != nil {
		t.Fatal(err)
	}
	cache, _ := json.Marshal(map[string]any{"FileCacheId": "fc-0a1b2c3d4e5f60001", "FileCacheType": "LUSTRE", "Lifecycle": "AVAILABLE",
		"OwnerId": scenario.Account, "CreationTime": 1718208000, "KmsKeyId": other,
		"ResourceARN": "arn:aws:fsx:us-east-1:111122223333:file-cache/fc-0a1b2c3d4e5f60001"})
	inv.FileCaches = append(inv.FileCaches, cache)
	if err := st.FSx.SetInventory(inv); err != nil {
		t.Fatal(err)
	}
	g, err := client.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(other), GranteePrincipal: aws.String(scenario.FSxGrantee),
		Name: aws.String("FSx-fc-0a1b2c3d4e5f60001"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	if err != nil {
		t.Fatal(err)
	}
	m, out := newMonitor(t)
	removeGrant(t, client, "RevokeGrant", other, aws.ToString(g.GrantId))
	if _, err := m.HandleEvent(ctx, scenario.GrantCall("RevokeGrant", other, aws.ToString(g.GrantId), 340, nil)); err != nil {
		t.Fatal(err)
	}
	got := alerts(t, out)
	if len(got) != 1 || got[0].Severity != alert.Critical {
		t.Fatalf("alerts %+v, want one CRITICAL", got)
	}
	if rs := got[0].Resources; len(rs) != 1 || rs[0].Type != "file-cache" || rs[0].ID != "fc-0a1b2c3d4e5f60001" || rs[0].FileSystemType != "LUSTRE" {
		t.Errorf("resources %+v, want the cache", rs)
	}
	rem := got[0].Findings[0].Remediation
	if !strings.Contains(rem, "aws fsx describe-file-caches --region us-east-1 --file-cache-ids fc-0a1b2c3d4e5f60001") ||
		strings.Contains(rem, "describe-file-systems") || strings.Contains(rem, "describe-backups") {
		t.Errorf("remediation %q: want describe-file-caches only", rem)
	}
}
