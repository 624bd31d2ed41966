package policy

import (
	"reflect"
	"testing"
)

// TestCheckFSx checks the FSx verdicts on the fixtures, per principal set.
func TestCheckFSx(t *testing.T) {
	type perm struct {
		action string
		want   Decision
		who    string
	}
	tests := []struct {
		name       string
		rule       string
		fixture    string
		params     FSxParams
		usable     bool
		perms      []perm // checked subset
		statements map[string][]string
	}{
		{"aws/fsx managed key", "FSXKMS.md: aws/fsx allows every principal of the account via FSx",
			"aws-fsx.json", FSxParams{Account: acct, Region: "us-east-1"}, true,
			[]perm{{"kms:Decrypt", Allow, "any principal of 111122223333 via FSx"}, {"kms:CreateGrant", Allow, "any principal of 111122223333 via FSx"},
				{"kms:ListAliases", DelegatedToIAM, "delegated to IAM"}}, nil},
		{"aws/fsx used from another region", "conditions-kms: kms:ViaService is per region",
			"aws-fsx.json", FSxParams{Account: acct, Region: "eu-west-1"}, false,
			[]perm{{"kms:Decrypt", DenyImplicit, "nobody"}, {"kms:DescribeKey", DelegatedToIAM, "delegated to IAM"}}, nil},
		{"aws/fsx used by another account", "conditions-kms: kms:CallerAccount",
			"aws-fsx.json", FSxParams{Account: other, Region: "us-east-1", KeyARN: keyARN}, false,
			[]perm{{"kms:Decrypt", DenyImplicit, "nobody"}}, nil},
		{"console default key policy", "key-policy-default: root delegates; key users allowed directly",
			"console-default.json", FSxParams{Account: acct, Region: "us-east-1"}, true,
			[]perm{{"kms:Decrypt", Allow, "role/FsxAdmin; others delegated to IAM"}, {"kms:CreateGrant", Allow, "role/KeyAdmin, role/FsxAdmin; others delegated to IAM"}}, nil},
		{"console policy without root: only the key user", "key-policy-default: without the account statement IAM cannot grant",
			"console-no-root.json", FSxParams{Account: acct, Region: "us-east-1"}, true,
			[]perm{{"kms:Decrypt", Allow, "only role/FsxAdmin"}}, nil},
		{"explicit principal list", "FSx managed by a named role",
			"console-no-root.json", FSxParams{Account: acct, Region: "us-east-1", Principals: []string{session}}, true,
			[]perm{{"kms:Decrypt", Allow, "assumed-role/FsxAdmin/s1"}}, nil},
		{"CreateGrant needs GrantIsForAWSResource=true", "conditions-kms: kms:GrantIsForAWSResource is true for FSx's CreateGrant",
			"break-console-grant-false.json", FSxParams{Account: acct, Region: "us-east-1", Principals: []string{role}}, false,
			[]perm{{"kms:CreateGrant", DenyImplicit, "nobody"}, {"kms:Decrypt", Allow, "role/FsxAdmin"}},
			map[string][]string{"kms:CreateGrant": {"Allow attachment of persistent resources"}}},
		{"deny of Decrypt via FSx", "evaluation-logic: explicit deny",
			"break-deny-decrypt.json", FSxParams{Account: acct, Region: "us-east-1"}, false,
			[]perm{{"kms:Decrypt", DenyExplicit, "nobody"}, {"kms:GenerateDataKeyWithoutPlaintext", Allow, "any principal of 111122223333 via FSx"}},
			map[string][]string{"kms:Decrypt": {"DenyDecryptViaFSx"}}},
		{"CreateGrant removed", "FSx requires kms:CreateGrant",
			"break-no-creategrant.json", FSxParams{Account: acct, Region: "us-east-1"}, false,
			[]perm{{"kms:CreateGrant", DenyImplicit, "nobody"}}, nil},
		{"deny on GrantOperations is undecidable", "fsx-kms-facts §4: FSx's grant operations are undocumented",
			"break-grant-operations.json", FSxParams{Account: acct, Region: "us-east-1"}, false,
			[]perm{{"kms:CreateGrant", Indeterminate, "undecided"}, {"kms:Decrypt", Allow, "any principal of 111122223333 via FSx"}},
			map[string][]string{"kms:CreateGrant": {"LimitGrantOperations"}}},
		{"service principal does not cover FSx", "FSx uses forward access sessions",
			"break-service-principal.json", FSxParams{Account: acct, Region: "us-east-1"}, false,
			[]perm{{"kms:Decrypt", DenyImplicit, "nobody"}}, nil},
		{"statement without Resource", "key-policy-overview: no Resource, no effect",
			"break-no-resource.json", FSxParams{Account: acct, Region: "us-east-1"}, false,
			[]perm{{"kms:Decrypt", DenyImplicit, "nobody"}}, nil},
		{"NotPrincipal deny leaves only the exempt role", "reference_policies_elements_notprincipal",
			"deny-notprincipal.json", FSxParams{Account: acct, Region: "us-east-1"}, true,
			[]perm{{"kms:Decrypt", Allow, "only role/FsxAdmin"}}, nil},
		{"source IP deny is undecidable", "key-policy-evaluation §4: aws:SourceIp of FSx's request is unknown",
			"deny-source-ip.json", FSxParams{Account: acct, Region: "us-east-1"}, false,
			[]perm{{"kms:Decrypt", Indeterminate, "undecided"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := CheckFSx(mustParseFile(t, tt.fixture), tt.params)
			if res.Usable != tt.usable {
				t.Errorf("Usable = %v, want %v (rule: %s)", res.Usable, tt.usable, tt.rule)
			}
			if len(res.Permissions) != len(RequiredActions)+len(OptionalActions) {
				t.Fatalf("got %d permissions", len(res.Permissions))
			}
			byAction := map[string]Permission{}
			for i, p := range res.Permissions {
				byAction[p.Action] = p
				if p.Required != (i < len(RequiredActions)) {
					t.Errorf("%s: Required = %v at position %d", p.Action, p.Required, i)
				}
				if p.Reason == "" || p.Who == "" || p.Statements == nil {
					t.Errorf("%s: incomplete permission %+v", p.Action, p)
				}
			}
			for _, w := range tt.perms {
				p := byAction[w.action]
				if p.Decision != w.want || p.Who != w.who {
					t.Errorf("%s = %s / %q, want %s / %q (rule: %s)\nreason: %s", w.action, p.Decision, p.Who, w.want, w.who, tt.rule, p.Reason)
				}
			}
			for action, want := range tt.statements {
				if got := byAction[action].Statements; !reflect.DeepEqual(got, want) {
					t.Errorf("%s statements = %q, want %q", action, got, want)
				}
			}
		})
	}
}
