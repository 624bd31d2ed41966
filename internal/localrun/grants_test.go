package localrun_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/fsxkms/fsxkms/internal/localrun"
	"github.com/fsxkms/fsxkms/internal/scenario"
)

// quiet is how long to wait for an alert that must not come: goaws delivers
// to the HTTP subscriber within milliseconds of the publish.
const quiet = 2 * time.Second

// restoreGrants gives every FSx resource of the demo world its grant again
// (CreateGrant with the same name and parameters returns the grant that
// exists) and returns the grant ids by key ARN.
func restoreGrants(t *testing.T) map[string][]string {
	t.Helper()
	grants, err := scenario.Setup(context.Background(), env.KMS)
	if err != nil {
		t.Fatal(err)
	}
	env.Drain(100 * time.Millisecond)
	return grants
}

type answer struct {
	Checked     int `json:"checked"`
	Alerts      int `json:"alerts"`
	FSxGrantOps int `json:"fsxGrantOps"`
}

func invoke(t *testing.T, event []byte) answer {
	t.Helper()
	out, err := env.Invoke(context.Background(), event)
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, env.Lambda.Log())
	}
	var a answer
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatalf("answer %s: %v", out, err)
	}
	return a
}

// noAlarm fails if any WARNING or CRITICAL alert reaches the SNS subscriber.
func noAlarm(t *testing.T, step string) {
	t.Helper()
	for _, d := range env.Drain(quiet) {
		if d.Machine.Severity == "WARNING" || d.Machine.Severity == "CRITICAL" {
			var cs []string
			for _, f := range d.Machine.Findings {
				cs = append(cs, string(f.Code))
			}
			t.Errorf("%s: a %s alert reached SNS: %q %v", step, d.Machine.Severity, d.Subject, cs)
		}
	}
}

// TestFSxOwnRetireGrant runs the real kms-events bootstrap: FSx retiring one
// of the two FSx grants on a key, then the last one (userIdentity invokedBy
// fsx.amazonaws.com, as AWSService and as AWSAccount), is routine. Nothing
// is published on SNS, the function counts it and logs why.
func TestFSxOwnRetireGrant(t *testing.T) {
	ctx := context.Background()
	grants := restoreGrants(t)
	defer restoreGrants(t)
	backup := scenario.KeyARN(scenario.BackupKeyID)
	second, err := env.KMS.CreateGrant(ctx, &kms.CreateGrantInput{
		KeyId: aws.String(backup), GranteePrincipal: aws.String(scenario.FSxGrantee), RetiringPrincipal: aws.String(scenario.FSxGrantee),
		Name:       aws.String("FSx-backup-0a1b2c3d4e5f60002-copy"),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationGenerateDataKeyWithoutPlaintext},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(env.Stack.KMS.Grants(backup)); n != 2 {
		t.Fatalf("backup key has %d grants, want 2", n)
	}
	steps := []struct {
		name, grant, identity string
		left                  int
	}{
		{"one of two, AWSService", aws.ToString(second.GrantId), "AWSService", 1},
		{"the last one, AWSAccount", grants[backup][0], "AWSAccount", 0},
	}
	for i, s := range steps {
		if _, err := env.KMS.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: aws.String(backup), GrantId: aws.String(s.grant)}); err != nil {
			t.Fatalf("%s: RetireGrant: %v", s.name, err)
		}
		if n := len(env.Stack.KMS.Grants(backup)); n != s.left {
			t.Fatalf("%s: %d grants left, want %d", s.name, n, s.left)
		}
		a := invoke(t, scenario.GrantCall("RetireGrant", backup, s.grant, 400+i, scenario.ServiceIdentity(s.identity, "fsx.amazonaws.com")))
		if a.Checked != 1 || a.Alerts != 0 || a.FSxGrantOps != 1 {
			t.Errorf("%s: answer %+v, want 1 key checked, 0 alerts, 1 FSx grant operation", s.name, a)
		}
		noAlarm(t, s.name)
	}
	log := env.Lambda.Log()
	if !strings.Contains(log, "FSx's own grant operation: routine") || !strings.Contains(log, `"FSxGrantOperations":1`) {
		t.Errorf("the function neither logged nor counted FSx's own grant operations:\n%s", tail(log, 4000))
	}
}

// TestPersonRevokesOnlyFSxGrant runs the real kms-events bootstrap: a
// person revoking the only FSx grant on a key FSx uses raises CRITICAL
// GRANT_REVOKED, as an SNS subscriber receives it.
func TestPersonRevokesOnlyFSxGrant(t *testing.T) {
	ctx := context.Background()
	forgetState(t)
	grants := restoreGrants(t)
	defer restoreGrants(t)
	backup := scenario.KeyARN(scenario.BackupKeyID)
	if n := len(env.Stack.KMS.Grants(backup)); n != 1 {
		t.Fatalf("backup key has %d grants, want its 1 FSx grant", n)
	}
	grant := grants[backup][0]
	if _, err := env.KMS.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(backup), GrantId: aws.String(grant)}); err != nil {
		t.Fatal(err)
	}
	a := invoke(t, scenario.GrantCall("RevokeGrant", backup, grant, 410, nil))
	if a.Checked != 1 || a.Alerts != 1 || a.FSxGrantOps != 0 {
		t.Errorf("answer %+v, want 1 key checked, 1 alert, no FSx grant operation", a)
	}
	d, ok := env.Next(10 * time.Second)
	if !ok {
		t.Fatalf("no alert reached the SNS subscriber\n%s", tail(env.Lambda.Log(), 4000))
	}
	checkGrantRevoked(t, d, backup, grant)
	noAlarm(t, "after the one alert")
}

func checkGrantRevoked(t *testing.T, d localrun.Delivery, key, grant string) {
	t.Helper()
	m := d.Machine
	if m.Severity != "CRITICAL" || m.Status != "NONCOMPLIANT" || len(m.Findings) == 0 || m.Findings[0].Code != "GRANT_REVOKED" {
		t.Fatalf("machine form: %s %s %+v, want CRITICAL NONCOMPLIANT GRANT_REVOKED", m.Severity, m.Status, m.Findings)
	}
	for k, v := range map[string]string{"severity": "CRITICAL", "code": "GRANT_REVOKED", "key_id": scenario.BackupKeyID, "event_name": "RevokeGrant"} {
		if d.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, d.Attributes[k], v)
		}
	}
	f := m.Findings[0]
	for _, s := range []string{scenario.AdminARN + " revoked grant " + grant, "No grant that looks like FSx's remains"} {
		if !strings.Contains(f.Message, s) {
			t.Errorf("message %q does not say %q", f.Message, s)
		}
	}
	if !strings.Contains(f.Remediation, "aws fsx describe-backups") || strings.Contains(f.Remediation, "describe-file-systems") {
		t.Errorf("remediation %q: want describe-backups for the key's only resource, a backup", f.Remediation)
	}
	if len(m.Resources) != 1 || m.Resources[0].Type != "backup" || m.Key.ARN != key {
		t.Errorf("alert names key %s and resources %+v, want the backup key and its backup", m.Key.ARN, m.Resources)
	}
	if !strings.Contains(d.Email, "backup backup-0a1b2c3d4e5f60002") {
		t.Errorf("email does not list the backup:\n%s", d.Email)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
