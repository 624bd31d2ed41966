package kmsproxy_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/devstack/kmsproxy"
)

// The proxy is tested against a real local-kms, started once for the package.
func TestMain(m *testing.M) { os.Exit(devstack.Main(m, devstack.Options{})) }

// call sends a KMS JSON 1.1 request to the stack's proxy.
func call(t *testing.T, op, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, devstack.Current().KMSEndpoint+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); len(b) > 0 && !strings.HasPrefix(ct, "application/x-amz-json-1.1") {
		t.Errorf("%s: Content-Type %q: %s", op, ct, b)
	}
	out := map[string]any{}
	if len(b) == 0 && resp.StatusCode == 200 {
		return resp.StatusCode, out // local-kms answers DisableKey with no body
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: answer is not JSON (%v): %s", op, err, b)
	}
	return resp.StatusCode, out
}

// newKey creates a key in local-kms and returns its ID and ARN.
func newKey(t *testing.T) (id, arn string) {
	t.Helper()
	status, out := call(t, "CreateKey", `{}`)
	if status != 200 {
		t.Fatalf("CreateKey: %d %v", status, out)
	}
	md := out["KeyMetadata"].(map[string]any)
	return md["KeyId"].(string), md["Arn"].(string)
}

func TestErrors(t *testing.T) {
	enabled, _ := newKey(t)
	disabled, _ := newKey(t)
	call(t, "DisableKey", `{"KeyId":"`+disabled+`"}`)
	pending, _ := newKey(t)
	call(t, "ScheduleKeyDeletion", `{"KeyId":"`+pending+`","PendingWindowInDays":7}`)
	const missing = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000"
	grant := func(key string) string {
		return `{"KeyId":"` + key + `","GranteePrincipal":"arn:aws:iam::111122223333:root","Operations":["Decrypt"]}`
	}

	tests := []struct {
		name, op, body string
		status         int
		errType        string
	}{
		{"create-unknown-key", "CreateGrant", grant(missing), 400, "NotFoundException"},
		{"create-unknown-alias", "CreateGrant", grant("alias/none"), 400, "NotFoundException"},
		{"create-disabled", "CreateGrant", grant(disabled), 400, "DisabledException"},
		{"create-pending-deletion", "CreateGrant", grant(pending), 400, "KMSInvalidStateException"},
		{"create-no-key", "CreateGrant", `{"GranteePrincipal":"p","Operations":["Decrypt"]}`, 400, "ValidationException"},
		{"create-no-grantee", "CreateGrant", `{"KeyId":"` + enabled + `","Operations":["Decrypt"]}`, 400, "ValidationException"},
		{"create-no-operations", "CreateGrant", `{"KeyId":"` + enabled + `","GranteePrincipal":"p"}`, 400, "ValidationException"},
		{"create-bad-operation", "CreateGrant", `{"KeyId":"` + enabled + `","GranteePrincipal":"p","Operations":["Delete"]}`, 400, "ValidationException"},
		{"create-both-constraints", "CreateGrant", `{"KeyId":"` + enabled + `","GranteePrincipal":"p","Operations":["Decrypt"],"Constraints":{"EncryptionContextSubset":{"a":"b"},"EncryptionContextEquals":{"a":"b"}}}`, 400, "ValidationException"},
		{"create-dry-run", "CreateGrant", `{"KeyId":"` + enabled + `","GranteePrincipal":"p","Operations":["Decrypt"],"DryRun":true}`, 412, "DryRunOperationException"},
		{"create-bad-json", "CreateGrant", `{"KeyId":`, 400, "SerializationException"},
		{"list-unknown-key", "ListGrants", `{"KeyId":"` + missing + `"}`, 400, "NotFoundException"},
		{"list-bad-limit", "ListGrants", `{"KeyId":"` + enabled + `","Limit":101}`, 400, "ValidationException"},
		{"list-bad-marker", "ListGrants", `{"KeyId":"` + enabled + `","Marker":"x"}`, 400, "InvalidMarkerException"},
		{"retirable-no-principal", "ListRetirableGrants", `{}`, 400, "ValidationException"},
		{"revoke-unknown-grant", "RevokeGrant", `{"KeyId":"` + enabled + `","GrantId":"abc"}`, 400, "NotFoundException"},
		{"revoke-bad-grant-id", "RevokeGrant", `{"KeyId":"` + enabled + `","GrantId":""}`, 400, "InvalidGrantIdException"},
		{"retire-unknown-token", "RetireGrant", `{"GrantToken":"nope"}`, 400, "InvalidGrantTokenException"},
		{"retire-nothing", "RetireGrant", `{}`, 400, "ValidationException"},
		{"policies-unknown-key", "ListKeyPolicies", `{"KeyId":"` + missing + `"}`, 400, "NotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := call(t, tt.op, tt.body)
			if status != tt.status || out["__type"] != tt.errType || out["message"] == "" {
				t.Errorf("%s = %d %v, want %d with __type %s and a message", tt.op, status, out, tt.status, tt.errType)
			}
		})
	}
}

func TestStateAllowsListGrants(t *testing.T) {
	// ListGrants works whatever the key state, as in KMS.
	id, arn := newKey(t)
	p := devstack.Current().KMS
	if _, _, err := p.AddGrant(kmsproxy.Grant{KeyId: id, GranteePrincipal: "g", Operations: []string{"Decrypt"}}); err != nil {
		t.Fatal(err)
	}
	call(t, "DisableKey", `{"KeyId":"`+id+`"}`)
	status, out := call(t, "ListGrants", `{"KeyId":"`+arn+`"}`)
	if status != 200 || len(out["Grants"].([]any)) != 1 {
		t.Errorf("ListGrants of a disabled key = %d %v", status, out)
	}
}

func TestCreateGrantIdempotentByName(t *testing.T) {
	id, _ := newKey(t)
	body := `{"KeyId":"` + id + `","GranteePrincipal":"g","Operations":["Decrypt"],"Name":"same"}`
	_, first := call(t, "CreateGrant", body)
	_, second := call(t, "CreateGrant", body)
	if first["GrantId"] == nil || first["GrantId"] != second["GrantId"] {
		t.Errorf("same name and parameters gave grants %v and %v, want one", first["GrantId"], second["GrantId"])
	}
}

func TestListRetirableGrantsPaging(t *testing.T) {
	p := devstack.Current().KMS
	// A principal of its own, so grants of an earlier run (go test -count=2:
	// the proxy keeps them) are not listed.
	principal := "arn:aws:iam::111122223333:role/retirer-" + rand.Text()
	var want []string
	for range 3 {
		id, _ := newKey(t)
		g, _, err := p.AddGrant(kmsproxy.Grant{KeyId: id, GranteePrincipal: "g", RetiringPrincipal: principal, Operations: []string{"Encrypt"}})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, g.GrantId)
	}
	var got []string
	marker := ""
	for pages := 1; ; pages++ {
		status, out := call(t, "ListRetirableGrants", fmt.Sprintf(`{"RetiringPrincipal":%q,"Limit":2,"Marker":%q}`, principal, marker))
		if status != 200 {
			t.Fatalf("ListRetirableGrants: %d %v", status, out)
		}
		for _, g := range out["Grants"].([]any) {
			got = append(got, g.(map[string]any)["GrantId"].(string))
		}
		if out["Truncated"] != true {
			if pages != 2 {
				t.Errorf("%d pages, want 2", pages)
			}
			break
		}
		marker = out["NextMarker"].(string)
	}
	if len(got) != 3 {
		t.Fatalf("got grants %v, want %v in any order", got, want)
	}
	for _, id := range want {
		if !strings.Contains(strings.Join(got, " "), id) {
			t.Errorf("grant %s missing from %v", id, got)
		}
	}
}

func TestForwardsAndCounts(t *testing.T) {
	p := devstack.Current().KMS
	p.ResetCalls()
	if status, out := call(t, "ListKeys", `{}`); status != 200 || out["Keys"] == nil {
		t.Errorf("forwarded ListKeys = %d %v", status, out)
	}
	id, _ := newKey(t)
	call(t, "ListGrants", `{"KeyId":"`+id+`"}`)
	got := p.Calls()
	if got["ListKeys"] != 1 || got["CreateKey"] != 1 || got["ListGrants"] != 1 {
		t.Errorf("Calls = %v, want ListKeys, CreateKey and ListGrants once each", got)
	}
}

func TestNewRejectsBadUpstream(t *testing.T) {
	if _, err := kmsproxy.New("127.0.0.1:4599"); err == nil {
		t.Error("New accepted an upstream without a scheme")
	}
}
