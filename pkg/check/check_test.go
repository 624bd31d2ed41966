package check

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsxkms/fsxkms/pkg/finding"
)

const keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func policyFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func baseInput(t *testing.T) Input {
	return Input{
		Key: Key{ARN: keyARN, ID: "1234abcd-12ab-34cd-56ef-1234567890ab", Account: "111122223333", Region: "us-east-1",
			State: "Enabled", Manager: "CUSTOMER", Spec: "SYMMETRIC_DEFAULT", Origin: "AWS_KMS"},
		Policy:     policyFile(t, "fsx-key-policy.json"),
		GrantsRead: true,
		Grants: []Grant{{ID: "g-fsx-1", Name: "FSx-fs-0123456789abcdef0", GranteePrincipal: "fsx.us-east-1.amazonaws.com",
			Operations: []string{"Decrypt", "GenerateDataKeyWithoutPlaintext"}}},
		Resources: []Resource{
			{Type: "file-system", ID: "fs-0123456789abcdef0", FileSystemType: "WINDOWS", Lifecycle: "AVAILABLE", OwnerID: "111122223333"},
			{Type: "backup", ID: "backup-0a1b2c3d4e5f67890", FileSystemType: "WINDOWS", Lifecycle: "AVAILABLE", OwnerID: "111122223333"},
		},
		Now: now,
	}
}

// TestCheck covers every finding code and the severity and status each gets.
func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*Input)
		status   Status
		severity Severity
		codes    []finding.Code // in order
		contains []string       // substrings of the findings' messages or remediations
	}{
		{name: "healthy key, no trigger", status: Compliant, severity: "", codes: nil},
		{name: "disabled", edit: func(in *Input) { in.Key.State = "Disabled" },
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeKeyDisabled},
			contains: []string{"aws kms enable-key --key-id " + keyARN + " --region us-east-1", "2 FSx resources (1 file system, 1 backup) will lose access"}},
		{name: "pending deletion with days left", edit: func(in *Input) {
			in.Key.State, in.Key.DeletionDate = "PendingDeletion", now.Add(7*24*time.Hour)
		}, status: Noncompliant, severity: Critical, codes: []finding.Code{CodeKeyPendingDeletion},
			contains: []string{"2026-12-03 12:00 UTC (7 days left)", "cancel-key-deletion", "enable-key"}},
		{name: "pending replica deletion has no date", edit: func(in *Input) { in.Key.State = "PendingReplicaDeletion" },
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeKeyPendingDeletion}, contains: []string{"after its replicas are deleted"}},
		{name: "pending import", edit: func(in *Input) { in.Key.State, in.Key.Origin = "PendingImport", "EXTERNAL" },
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeKeyPendingImport}, contains: []string{"import-key-material", "SAME key material"}},
		{name: "unavailable custom key store", edit: func(in *Input) { in.Key.State, in.Key.KeyStoreID = "Unavailable", "cks-1234567890abcdef0" },
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeKeyUnavailable}, contains: []string{"connect-custom-key-store --custom-key-store-id cks-1234567890abcdef0"}},
		{name: "updating is transient", edit: func(in *Input) { in.Key.State = "Updating" },
			status: Unknown, severity: Warning, codes: []finding.Code{CodeKeyUnavailable}},
		{name: "imported material expiring soon", edit: func(in *Input) { in.Key.Origin, in.Key.ValidTo = "EXTERNAL", now.Add(48*time.Hour) },
			status: Compliant, severity: Warning, codes: []finding.Code{CodeKeyMaterialExpiring}, contains: []string{"2026-11-28 12:00 UTC"}},
		{name: "imported material far from expiry", edit: func(in *Input) { in.Key.Origin, in.Key.ValidTo = "EXTERNAL", now.Add(90*24*time.Hour) },
			status: Compliant, codes: nil},
		{name: "deleted key", edit: func(in *Input) {
			in.Key.State = ""
			in.Errors = []ReadError{{Call: "kms:DescribeKey", Kind: NotFound, Message: "Key '" + keyARN + "' does not exist"}}
		}, status: Noncompliant, severity: Critical, codes: []finding.Code{CodeKeyNotFound}, contains: []string{"cannot be recovered"}},
		{name: "monitor denied", edit: func(in *Input) {
			in.Policy = ""
			in.Errors = []ReadError{{Call: "kms:GetKeyPolicy", Kind: AccessDenied, Message: "User is not authorized"}}
		}, status: Unknown, severity: Critical, codes: []finding.Code{CodeMonitorAccessDenied}, contains: []string{"kms:GetKeyPolicy was denied"}},
		{name: "policy drops Decrypt", edit: func(in *Input) { in.Policy = policyFile(t, "no-decrypt.json") },
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeRequiredPermissionDenied},
			contains: []string{"kms:Decrypt", "Deny-implicit", "fsxkms policy check --policy policy.json --account 111122223333 --region us-east-1"}},
		{name: "policy denies Decrypt via FSx", edit: func(in *Input) { in.Policy = policyFile(t, "deny-decrypt.json") },
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeRequiredPermissionDenied}, contains: []string{"Deny-explicit", "DenyDecryptViaFSx"}},
		{name: "policy drops optional Encrypt", edit: func(in *Input) { in.Policy = policyFile(t, "no-encrypt.json") },
			status: Compliant, severity: Warning, codes: []finding.Code{CodeOptionalPermissionDenied}, contains: []string{"kms:Encrypt"}},
		{name: "permissions split between two roles", edit: func(in *Input) { in.Policy = policyFile(t, "split-permissions.json") },
			// IAM User Guide, forward access sessions: "The service that receives a subsequent FAS request
			// also checks the permissions of the same IAM principal."
			status: Noncompliant, severity: Critical, codes: []finding.Code{CodeRequiredPermissionDenied},
			contains: []string{"No single principal can use key", "role/AppRole lacks kms:CreateGrant", "role/KeyAdmin lacks kms:Decrypt"}},
		{name: "listed principals: one lacks CreateGrant", edit: func(in *Input) {
			in.Policy = policyFile(t, "split-permissions.json")
			in.Principals = []string{"arn:aws:iam::111122223333:role/AppRole"}
		}, status: Noncompliant, severity: Critical, codes: []finding.Code{CodeRequiredPermissionDenied},
			contains: []string{"arn:aws:iam::111122223333:role/AppRole can no longer use key", "kms:CreateGrant"}},
		{name: "policy not JSON", edit: func(in *Input) { in.Policy = "{not json" },
			status: Unknown, severity: Warning, codes: []finding.Code{CodePolicyUnreadable}},
		{name: "grant revoked, FSx grant remains", edit: func(in *Input) {
			in.Trigger = &Trigger{EventName: "RevokeGrant", Relevance: "breaking", Actor: "arn:aws:iam::111122223333:user/mallory", GrantID: "g-other"}
		}, status: Compliant, severity: Warning, codes: []finding.Code{CodeGrantRevoked}, contains: []string{"arn:aws:iam::111122223333:user/mallory revoked grant g-other", "1 grant(s) that look like FSx's remain: g-fsx-1"}},
		{name: "grant retired, no FSx grant left", edit: func(in *Input) {
			in.Grants = nil
			in.Trigger = &Trigger{EventName: "RetireGrant", Relevance: "breaking", GrantID: "g-fsx-1"}
		}, status: Noncompliant, severity: Critical, codes: []finding.Code{CodeGrantRevoked}, contains: []string{"An unknown principal retired grant g-fsx-1", "No grant that looks like FSx's remains"}},
		{name: "grant revoked, grants unreadable", edit: func(in *Input) {
			in.Grants, in.GrantsRead = nil, false
			in.Errors = []ReadError{{Call: "kms:ListGrants", Kind: AccessDenied, Message: "denied"}}
			in.Trigger = &Trigger{EventName: "RevokeGrant", Relevance: "breaking", GrantID: "g-1"}
		}, status: Unknown, severity: Critical, codes: []finding.Code{CodeMonitorAccessDenied, CodeGrantRevoked}},
		{name: "lockout bypass", edit: func(in *Input) {
			in.Trigger = &Trigger{EventName: "PutKeyPolicy", Relevance: "breaking", BypassPolicyLockoutSafetyCheck: true, Actor: "arn:aws:iam::111122223333:role/Admin"}
		}, status: Compliant, severity: Warning, codes: []finding.Code{CodePolicyLockoutBypass}},
		{name: "attempted disable", edit: func(in *Input) {
			in.Trigger = &Trigger{EventName: "DisableKey", Relevance: "attempted", Failed: true, ErrorCode: "AccessDenied", Actor: "arn:aws:iam::111122223333:user/mallory"}
		}, status: Compliant, severity: Warning, codes: []finding.Code{CodeAttemptedChangeDenied}, contains: []string{"was refused (AccessDenied)"}},
		{name: "restored after EnableKey", edit: func(in *Input) {
			in.Trigger = &Trigger{EventName: "EnableKey", Relevance: "restoring"}
		}, status: Compliant, severity: Info, codes: []finding.Code{CodeRestored}},
		{name: "restoring event but still broken", edit: func(in *Input) {
			in.Key.State = "Disabled"
			in.Trigger = &Trigger{EventName: "CancelKeyDeletion", Relevance: "restoring"}
		}, status: Noncompliant, severity: Critical, codes: []finding.Code{CodeKeyDisabled}},
		{name: "disabled and policy broken", edit: func(in *Input) {
			in.Key.State = "Disabled"
			in.Policy = policyFile(t, "no-decrypt.json")
		}, status: Noncompliant, severity: Critical, codes: []finding.Code{CodeKeyDisabled, CodeRequiredPermissionDenied}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput(t)
			if tt.edit != nil {
				tt.edit(&in)
			}
			r := Check(in)
			codes, text := findingsOf(r)
			if !slices.Equal(codes, tt.codes) {
				t.Errorf("codes = %v, want %v\n%s", codes, tt.codes, text)
			}
			if r.Status != tt.status {
				t.Errorf("status = %s, want %s", r.Status, tt.status)
			}
			if r.Severity != tt.severity {
				t.Errorf("severity = %q, want %q", r.Severity, tt.severity)
			}
			mentions(t, "findings", text, tt.contains, nil)
		})
	}
}

// findingsOf returns the codes of r's findings, in order, and their text
// (each one's message, remediation, statements and decision) for the
// tests' contains and absent checks.
func findingsOf(r Report) (codes []finding.Code, text string) {
	var b strings.Builder
	for _, f := range r.Findings {
		codes = append(codes, f.Code)
		b.WriteString(f.Message + "\n" + f.Remediation + "\n" + strings.Join(f.Statements, ",") + "\n" + f.Decision + "\n")
	}
	return codes, b.String()
}

// mentions fails t for each string of want that text, what the test
// names, does not contain, and each string of never that it does.
func mentions(t *testing.T, what, text string, want, never []string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(text, s) {
			t.Errorf("%s: no %q in:\n%s", what, s, text)
		}
	}
	for _, s := range never {
		if strings.Contains(text, s) {
			t.Errorf("%s: unwanted %q in:\n%s", what, s, text)
		}
	}
}

// TestCheckCrossAccount: kms:CallerAccount is the FSx resource owner's account,
// so a policy that only allows the key's own account breaks another account's
// file systems.
func TestCheckCrossAccount(t *testing.T) {
	in := baseInput(t)
	in.Resources = append(in.Resources, Resource{Type: "file-system", ID: "fs-0fedcba9876543210", FileSystemType: "ONTAP", OwnerID: "444455556666"})
	r := Check(in)
	if r.Status != Noncompliant {
		t.Fatalf("status = %s, want NONCOMPLIANT: %+v", r.Status, r.Findings)
	}
	for _, f := range r.Findings {
		if f.Code == CodeRequiredPermissionDenied && !strings.Contains(f.Message, "444455556666") {
			t.Errorf("finding does not name the other account: %s", f.Message)
		}
		if f.Code == CodeRequiredPermissionDenied && strings.Contains(f.Message, "for account 111122223333") {
			t.Errorf("the key's own account is fine, yet: %s", f.Message)
		}
	}
}

func TestIsFSxGrant(t *testing.T) {
	tests := []struct {
		g    Grant
		want bool
	}{
		{Grant{GranteePrincipal: "fsx.us-east-1.amazonaws.com"}, true},
		{Grant{GranteePrincipal: "arn:aws:iam::111122223333:role/aws-service-role/fsx.amazonaws.com/AWSServiceRoleForAmazonFSx"}, true},
		{Grant{Name: "x", EncryptionContext: map[string]string{"aws:fsx:fs-id": "fs-1"}}, true},
		{Grant{GranteePrincipal: "service.amazonaws.com", SourceARN: "arn:aws:fsx:us-east-1:111122223333:file-system/fs-1"}, true},
		{Grant{GranteePrincipal: "arn:aws:iam::111122223333:role/ebs"}, false},
	}
	for _, tt := range tests {
		if got := IsFSxGrant(tt.g); got != tt.want {
			t.Errorf("IsFSxGrant(%+v) = %v, want %v", tt.g, got, tt.want)
		}
	}
}

// TestPolicyRemediation: a Deny-implicit fix adds a statement, and the one
// it shows, pasted into the policy, makes the key usable by FSx again; an
// explicit Deny is edited, never answered with an Allow (an explicit Deny
// wins over any Allow, IAM User Guide, policy evaluation logic).
func TestPolicyRemediation(t *testing.T) {
	tests := []struct {
		name, policy string
		principals   []string
		code         finding.Code
		say, never   []string
		paste        bool // a statement to paste, which fixes the policy
	}{
		{name: "no statement allows Decrypt", policy: "no-decrypt.json", code: CodeRequiredPermissionDenied,
			say:   []string{"No statement allows kms:Decrypt via FSx for account 111122223333: add a statement that allows it"},
			never: []string{"edit the statement"}, paste: true},
		{name: "no statement allows the optional Encrypt", policy: "no-encrypt.json", code: CodeOptionalPermissionDenied,
			say: []string{"add a statement that allows it"}, never: []string{"edit the statement"}, paste: true},
		{name: "a Deny denies Decrypt", policy: "deny-decrypt.json", code: CodeRequiredPermissionDenied,
			say:   []string{"remove or narrow the Deny statement(s) this finding names so that they no longer deny kms:Decrypt via FSx for account 111122223333"},
			never: []string{"add a statement", "{"}},
		{name: "a Deny may deny CreateGrant", policy: "deny-undecided.json", code: CodeRequiredPermissionUnsure,
			say:   []string{"edit the statement(s) this finding names so that what they do to kms:CreateGrant via FSx for account 111122223333 no longer depends"},
			never: []string{"add a statement", "{"}},
		{name: "no principal holds all four", policy: "split-permissions.json", code: CodeRequiredPermissionDenied,
			say: []string{"add a statement that allows every required permission"}, paste: true},
		{name: "a listed principal lacks CreateGrant", policy: "split-permissions.json", principals: []string{"arn:aws:iam::111122223333:role/AppRole"},
			code: CodeRequiredPermissionDenied, say: []string{"kms:CreateGrant to arn:aws:iam::111122223333:role/AppRole"}, paste: true},
		{name: "a Deny denies a listed principal Decrypt", policy: "deny-decrypt.json", principals: []string{"arn:aws:iam::111122223333:role/AppRole"},
			code: CodeRequiredPermissionDenied, say: []string{"no longer deny kms:Decrypt to arn:aws:iam::111122223333:role/AppRole"},
			never: []string{"add a statement", "{"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput(t)
			in.Policy, in.Principals = policyFile(t, tt.policy), tt.principals
			r := Check(in)
			if len(r.Findings) != 1 || r.Findings[0].Code != tt.code {
				t.Fatalf("findings %+v, want one %s", r.Findings, tt.code)
			}
			rem := r.Findings[0].Remediation
			lines := strings.Split(rem, "\n")
			for _, want := range []string{
				"aws kms get-key-policy --key-id " + keyARN + " --policy-name default --query Policy --output text --region us-east-1 > policy.json",
				"fsxkms policy check --policy policy.json --account 111122223333 --region us-east-1 --key-arn " + keyARN,
				"aws kms put-key-policy --key-id " + keyARN + " --policy-name default --policy file://policy.json --region us-east-1",
			} {
				if !slices.Contains(lines, want) {
					t.Errorf("no line %q in:\n%s", want, rem)
				}
			}
			mentions(t, "remediation", rem, tt.say, tt.never)
			var stmt map[string]any
			for _, l := range lines {
				if strings.HasPrefix(l, "{") {
					if err := json.Unmarshal([]byte(l), &stmt); err != nil {
						t.Fatalf("statement line %q: %v", l, err)
					}
				}
			}
			if (stmt != nil) != tt.paste {
				t.Fatalf("statement to paste: %v, want %v:\n%s", stmt != nil, tt.paste, rem)
			}
			if !tt.paste {
				return
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(in.Policy), &doc); err != nil {
				t.Fatal(err)
			}
			doc["Statement"] = append(doc["Statement"].([]any), stmt)
			fixed, _ := json.Marshal(doc)
			in.Policy = string(fixed)
			if r := Check(in); r.Status != Compliant || len(r.Findings) != 0 {
				t.Errorf("with the statement pasted: %s %+v, want COMPLIANT without findings", r.Status, r.Findings)
			}
		})
	}
}

// TestResourcePhrase: a message counts the FSx resources by kind and names
// none, however many there are (the alert lists them once).
func TestResourcePhrase(t *testing.T) {
	many := make([]Resource, 0, 400)
	for i := range 400 {
		typ := ResourceBackup
		if i < 2 {
			typ = ResourceFileSystem
		}
		many = append(many, Resource{Type: typ, ID: fmt.Sprintf("x-%d", i)})
	}
	tests := []struct {
		rs   []Resource
		want string
	}{
		{nil, "FSx resources are at risk"},
		{many[:1], "1 FSx file system is at risk"},
		{many[2:5], "3 FSx backups are at risk"},
		{[]Resource{{Type: ResourceFileCache}, {Type: ResourceBackup}}, "2 FSx resources (1 backup, 1 file cache) are at risk"},
		{[]Resource{{Type: "volume"}}, "1 FSx resource is at risk"},
		{many, "400 FSx resources (2 file systems, 398 backups) are at risk"},
	}
	for _, tt := range tests {
		if got := atRisk(tt.rs); got != tt.want {
			t.Errorf("atRisk(%d resources) = %q, want %q", len(tt.rs), got, tt.want)
		}
	}
}
