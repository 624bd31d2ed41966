package policy

import (
	"strconv"
	"strings"
	"testing"
)

// fsxAllow is the aws/fsx statement (FSx user guides, "to allow the FSx
// service"), with extra conditions spliced in where %s is.
const fsxAllow = `{"Sid":"FSx","Effect":"Allow","Principal":{"AWS":"*"},
 "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],
 "Resource":"%r","Condition":{"StringEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com","kms:CallerAccount":"111122223333"}%s}}`

const mrkARN = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"

// fsxPolicy builds a policy of the aws/fsx statement (with extra
// conditions and Resource) plus further statements.
func fsxPolicy(t *testing.T, allowCond, resource string, more ...string) *Policy {
	t.Helper()
	if resource == "" {
		resource = "*"
	}
	if allowCond != "" {
		allowCond = "," + allowCond
	}
	s := strings.Replace(fsxAllow, "%r", resource, 1)
	s = strings.Replace(s, "%s", allowCond, 1)
	doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(append([]string{s}, more...), ",") + `]}`
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return p
}

// deny is a Deny of actions to every principal under one condition.
func deny(actions, cond string) string {
	return `{"Sid":"Guard","Effect":"Deny","Principal":"*","Action":` + actions + `,"Resource":"*","Condition":{` + cond + `}}`
}

// TestRequestContext checks each value of FSx's request context (present,
// absent or unknown) by its effect on the verdict, citing the AWS sentence.
func TestRequestContext(t *testing.T) {
	tests := []struct {
		name      string
		rule      string // the AWS sentence (and page) behind the value
		allowCond string // extra conditions on the aws/fsx Allow
		resource  string // the Allow's Resource; "" is "*"
		more      []string
		edit      func(*FSxParams)
		action    string // the permission whose decision is checked
		decision  Decision
		verdict   Verdict
	}{
		// aws:SecureTransport: present, true.
		{name: "Allow requires SecureTransport true",
			rule:      `IAM global condition keys, aws:SecureTransport: "This key is always included in the request context"; KMS requires TLS`,
			allowCond: `"Bool":{"aws:SecureTransport":"true"}`,
			action:    "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		{name: "Deny on SecureTransport false",
			rule:   "aws:SecureTransport is true for FSx's TLS calls, so the Deny does not apply",
			more:   []string{deny(`"kms:*"`, `"Bool":{"aws:SecureTransport":"false"}`)},
			action: "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		{name: "Deny on SecureTransport true",
			rule:   "aws:SecureTransport is true, so a Deny on true applies",
			more:   []string{deny(`"kms:*"`, `"Bool":{"aws:SecureTransport":"true"}`)},
			action: "kms:Decrypt", decision: DenyExplicit, verdict: VerdictBroken},
		{name: "BoolIfExists SecureTransport false",
			rule:   "IAM condition operators: ...IfExists is the plain operator when the key is present",
			more:   []string{deny(`"kms:*"`, `"BoolIfExists":{"aws:SecureTransport":"false"}`)},
			action: "kms:CreateGrant", decision: Allow, verdict: VerdictUsable},
		// kms:EncryptionAlgorithm: SYMMETRIC_DEFAULT on crypto operations, absent on the others.
		{name: "Deny other encryption algorithms on Decrypt",
			rule:   `KMS condition keys, kms:EncryptionAlgorithm: cryptographic operations of a symmetric encryption key use SYMMETRIC_DEFAULT`,
			more:   []string{deny(`["kms:Decrypt","kms:Encrypt"]`, `"StringNotEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`)},
			action: "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		{name: "Deny SYMMETRIC_DEFAULT on Decrypt",
			rule:   "kms:EncryptionAlgorithm is SYMMETRIC_DEFAULT on Decrypt",
			more:   []string{deny(`"kms:Decrypt"`, `"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`)},
			action: "kms:Decrypt", decision: DenyExplicit, verdict: VerdictBroken},
		{name: "EncryptionAlgorithm is absent on CreateGrant",
			rule:   "kms:EncryptionAlgorithm is valid only for cryptographic operations: a negated operator on a missing key is true",
			more:   []string{deny(`"kms:*"`, `"StringNotEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`)},
			action: "kms:CreateGrant", decision: DenyExplicit, verdict: VerdictBroken},
		{name: "EncryptionAlgorithm IfExists on DescribeKey",
			rule:   "IfExists on a missing key is true for an Allow",
			more:   []string{deny(`"kms:*"`, `"StringNotEqualsIfExists":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`)},
			action: "kms:DescribeKey", decision: DenyExplicit, verdict: VerdictBroken},
		// kms:KeySpec / kms:KeyUsage: SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT.
		{name: "Deny keys that are not symmetric",
			rule:   `FSx "supports only symmetric encryption KMS keys"; KMS condition keys, kms:KeySpec`,
			more:   []string{deny(`"kms:*"`, `"StringNotEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}`)},
			action: "kms:CreateGrant", decision: Allow, verdict: VerdictUsable},
		{name: "Deny ENCRYPT_DECRYPT keys",
			rule:   "kms:KeyUsage is ENCRYPT_DECRYPT for a symmetric encryption key",
			more:   []string{deny(`"kms:*"`, `"StringEquals":{"kms:KeyUsage":"ENCRYPT_DECRYPT"}`)},
			action: "kms:DescribeKey", decision: DenyExplicit, verdict: VerdictBroken},
		// aws:RequestedRegion: the key's Region.
		{name: "Deny outside allowed Regions (allowed)",
			rule:   `IAM global condition keys, aws:RequestedRegion: "This key is always included in the request context"`,
			more:   []string{deny(`"kms:*"`, `"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}`)},
			action: "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		{name: "Deny outside allowed Regions (not allowed)",
			rule:   "aws:RequestedRegion is the key's Region, us-east-1",
			more:   []string{deny(`"kms:*"`, `"StringNotEquals":{"aws:RequestedRegion":["eu-west-1"]}`)},
			action: "kms:Decrypt", decision: DenyExplicit, verdict: VerdictBroken},
		{name: "Resource with ${aws:RequestedRegion}",
			rule:     "IAM policy variables: a variable takes the request's value",
			resource: "arn:aws:kms:${aws:RequestedRegion}:111122223333:key/*",
			edit:     func(p *FSxParams) { p.KeyARN = keyARN },
			action:   "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		// aws:CurrentTime / aws:EpochTime: the check's clock.
		{name: "Allow until a date in the future",
			rule:      `IAM global condition keys, aws:CurrentTime: "This key is always included in the request context"`,
			allowCond: `"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}`,
			action:    "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		{name: "Allow from a date in the future",
			rule:      "aws:CurrentTime is now: an Allow from 2030 does not apply",
			allowCond: `"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}`,
			action:    "kms:Decrypt", decision: DenyImplicit, verdict: VerdictBroken},
		{name: "Deny after an epoch time in the past",
			rule:   "aws:EpochTime is now in seconds",
			more:   []string{deny(`"kms:*"`, `"DateGreaterThan":{"aws:EpochTime":"1700000000"}`)},
			action: "kms:Decrypt", decision: DenyExplicit, verdict: VerdictBroken},
		// kms:MultiRegion: from the key id.
		{name: "Allow multi-Region keys, mrk- key",
			rule:      `KMS developer guide: "Multi-Region keys have a distinctive key ID that begins with mrk-"`,
			allowCond: `"Bool":{"kms:MultiRegion":"true"}`,
			edit:      func(p *FSxParams) { p.KeyARN = mrkARN },
			action:    "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		{name: "Allow multi-Region keys, single-Region key",
			rule:      "a key id without mrk- is a single-Region key",
			allowCond: `"Bool":{"kms:MultiRegion":"true"}`,
			edit:      func(p *FSxParams) { p.KeyARN = keyARN },
			action:    "kms:Decrypt", decision: DenyImplicit, verdict: VerdictBroken},
		{name: "MultiRegion without a key ARN is unknown",
			rule:      "without the key's id or DescribeKey, kms:MultiRegion is unknown",
			allowCond: `"Bool":{"kms:MultiRegion":"true"}`,
			action:    "kms:Decrypt", decision: Indeterminate, verdict: VerdictUndecided},
		{name: "MultiRegionKeyType from DescribeKey",
			rule:      "kms:MultiRegionKeyType is the key's MultiRegionConfiguration.MultiRegionKeyType",
			allowCond: `"StringEqualsIgnoreCase":{"kms:MultiRegionKeyType":"PRIMARY"}`,
			edit:      func(p *FSxParams) { p.KeyARN = mrkARN; p.Key.MultiRegionKeyType = "REPLICA" },
			action:    "kms:Decrypt", decision: DenyImplicit, verdict: VerdictBroken},
		// kms:KeyOrigin: from DescribeKey, else unknown.
		{name: "KeyOrigin unknown",
			rule:   `KMS condition keys, kms:KeyOrigin: "the Origin property of the KMS key"; unknown without DescribeKey`,
			more:   []string{deny(`"kms:*"`, `"StringEquals":{"kms:KeyOrigin":"EXTERNAL"}`)},
			action: "kms:Decrypt", decision: Indeterminate, verdict: VerdictUndecided},
		{name: "KeyOrigin known",
			rule:   "kms:KeyOrigin is DescribeKey's Origin",
			more:   []string{deny(`"kms:*"`, `"StringEquals":{"kms:KeyOrigin":"EXTERNAL"}`)},
			edit:   func(p *FSxParams) { p.Key.Origin = "AWS_KMS" },
			action: "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		// kms:GrantIsForAWSResource: true on CreateGrant.
		{name: "GrantIsForAWSResource on CreateGrant",
			rule:      `KMS condition keys, kms:GrantIsForAWSResource: "only when an AWS service integrated with AWS KMS calls the operation on the user's behalf"`,
			allowCond: `"Bool":{"kms:GrantIsForAWSResource":"true"}`,
			action:    "kms:CreateGrant", decision: Allow, verdict: VerdictBroken},
		// aws:ViaAWSService, aws:PrincipalIsAWSService.
		{name: "Deny calls not via a service",
			rule:   `IAM forward access sessions: "Whenever a FAS request is made, aws:ViaAWSService is set to true"`,
			more:   []string{deny(`"kms:*"`, `"Bool":{"aws:ViaAWSService":"false"}`)},
			action: "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		{name: "Deny service principals",
			rule:   "aws:PrincipalIsAWSService is false: FSx calls with the caller's identity",
			more:   []string{deny(`"kms:*"`, `"Bool":{"aws:PrincipalIsAWSService":"true"}`)},
			action: "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		// absent: aws:SourceAccount, aws:SourceArn, aws:PrincipalServiceName, tags.
		{name: "confused-deputy Deny with IfExists",
			rule:   `IAM global condition keys: "the aws:SourceAccount condition key is only available when the call to your resource is made directly by an AWS service principal"; IfExists on a missing key is true`,
			more:   []string{deny(`"kms:*"`, `"StringNotEqualsIfExists":{"aws:SourceAccount":"111122223333"}`)},
			action: "kms:Decrypt", decision: DenyExplicit, verdict: VerdictBroken},
		{name: "Deny when SourceArn is present",
			rule:   "aws:SourceArn is absent: Null false (the key is present) is false",
			more:   []string{deny(`"kms:*"`, `"Null":{"aws:SourceArn":"false"}`)},
			action: "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		{name: "Deny unless a service principal name",
			rule:   `aws:PrincipalServiceName: "present in the request when the call is made by an AWS service principal"; a negated operator on a missing key is true`,
			more:   []string{deny(`"kms:*"`, `"StringNotEquals":{"aws:PrincipalServiceName":"fsx.amazonaws.com"}`)},
			action: "kms:Decrypt", decision: DenyExplicit, verdict: VerdictBroken},
		{name: "Deny on request tags",
			rule:   `aws:TagKeys: "included in the request context when tags are passed in the request"; ForAnyValue on a missing key is false`,
			more:   []string{deny(`"kms:*"`, `"ForAnyValue:StringEquals":{"aws:TagKeys":["owner"]}`)},
			action: "kms:CreateGrant", decision: Allow, verdict: VerdictUsable},
		{name: "operation keys of other operations",
			rule:   "KMS condition keys: kms:DataKeyPairSpec is valid only for GenerateDataKeyPair*",
			more:   []string{deny(`"kms:*"`, `"StringLike":{"kms:DataKeyPairSpec":"RSA*"}`)},
			action: "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		{name: "ReEncryptOnSameKey is absent on Decrypt",
			rule:   "KMS condition keys: kms:ReEncryptOnSameKey is valid only for ReEncrypt",
			more:   []string{deny(`"kms:*"`, `"Bool":{"kms:ReEncryptOnSameKey":"true"}`)},
			action: "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		{name: "encryption context is absent on DescribeKey",
			rule:   "KMS condition keys: kms:EncryptionContext:* applies to cryptographic operations and CreateGrant",
			more:   []string{deny(`"kms:DescribeKey"`, `"StringEquals":{"kms:EncryptionContext:app":"x"}`)},
			action: "kms:DescribeKey", decision: Allow, verdict: VerdictUsable},
		// unknown: FSx's encryption context, the caller's tags, IP, organization.
		{name: "encryption context on Decrypt is unknown",
			rule:   "FSx's encryption context is not documented (fsx-kms-facts §4)",
			more:   []string{deny(`"kms:Decrypt"`, `"StringEquals":{"kms:EncryptionContext:app":"x"}`)},
			action: "kms:Decrypt", decision: Indeterminate, verdict: VerdictUndecided},
		{name: "caller tags are unknown",
			rule:   "aws:PrincipalTag depends on the caller, which the check does not see",
			more:   []string{deny(`"kms:*"`, `"StringNotEquals":{"aws:PrincipalTag/team":"storage"}`)},
			action: "kms:Decrypt", decision: Indeterminate, verdict: VerdictUndecided},
		{name: "organization unknown",
			rule:   "aws:PrincipalOrgID is unknown unless given",
			more:   []string{deny(`"kms:*"`, `"StringNotEquals":{"aws:PrincipalOrgID":"o-abc123"}`)},
			action: "kms:Decrypt", decision: Indeterminate, verdict: VerdictUndecided},
		{name: "organization given",
			rule:   "aws:PrincipalOrgID as given",
			more:   []string{deny(`"kms:*"`, `"StringNotEquals":{"aws:PrincipalOrgID":"o-abc123"}`)},
			edit:   func(p *FSxParams) { p.PrincipalOrgID = "o-abc123" },
			action: "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
		// aws:CalledVia: AWS's pages disagree; both possibilities are evaluated.
		{name: "Allow only via CalledVia fsx",
			rule:      `IAM forward access sessions: "aws:CalledVia ... populated with the service principal"; the aws:CalledVia entry does not list FSx`,
			allowCond: `"ForAnyValue:StringEquals":{"aws:CalledVia":"fsx.amazonaws.com"}`,
			action:    "kms:Decrypt", decision: Indeterminate, verdict: VerdictUndecided},
		{name: "Deny CalledViaFirst athena",
			rule:   "with aws:CalledViaFirst=fsx.amazonaws.com or without it, the Deny does not apply",
			more:   []string{deny(`"kms:*"`, `"StringEquals":{"aws:CalledViaFirst":"athena.amazonaws.com"}`)},
			action: "kms:Decrypt", decision: Allow, verdict: VerdictUsable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fsxPolicy(t, tt.allowCond, tt.resource, tt.more...)
			params := FSxParams{Account: acct, Region: "us-east-1", Now: testNow}
			if tt.edit != nil {
				tt.edit(&params)
			}
			res := CheckFSx(p, params)
			var got *Permission
			for i := range res.Permissions {
				if res.Permissions[i].Action == tt.action {
					got = &res.Permissions[i]
				}
			}
			if got == nil {
				t.Fatalf("no permission %s", tt.action)
			}
			if got.Decision != tt.decision || res.Verdict != tt.verdict {
				t.Errorf("%s = %s, verdict %s; want %s, %s (rule: %s)\nreason: %s\nsummary: %s",
					tt.action, got.Decision, res.Verdict, tt.decision, tt.verdict, tt.rule, got.Reason, res.Summary)
			}
		})
	}
}

// TestOnePrincipalHoldsAll checks the rule that one caller must hold every
// required permission: "The service that receives a subsequent FAS request
// also checks the permissions of the same IAM principal" (IAM User Guide,
// forward access sessions).
func TestOnePrincipalHoldsAll(t *testing.T) {
	const (
		app   = "arn:aws:iam::111122223333:role/AppRole"
		admin = "arn:aws:iam::111122223333:role/KeyAdmin"
		fsx   = "arn:aws:iam::111122223333:role/FsxAdmin"
	)
	allow := func(sid, principal, actions string) string {
		return `{"Sid":"` + sid + `","Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":` + actions + `,"Resource":"*"}`
	}
	use := `["kms:Decrypt","kms:GenerateDataKey*","kms:DescribeKey"]`
	all := `["kms:Decrypt","kms:GenerateDataKey*","kms:DescribeKey","kms:CreateGrant"]`
	tests := []struct {
		name       string
		statements []string
		principals []string
		verdict    Verdict
		lacking    string // a principal the summary must name as lacking something
	}{
		{"one role per permission", []string{allow("Use", app, use), allow("Grant", admin, `"kms:CreateGrant"`)},
			nil, VerdictBroken, "role/AppRole lacks kms:CreateGrant"},
		{"one role per permission, both listed", []string{allow("Use", app, use), allow("Grant", admin, `"kms:CreateGrant"`)},
			[]string{app, admin}, VerdictBroken, "role/AppRole lacks kms:CreateGrant"},
		{"one role with all", []string{allow("Use", app, use), allow("Grant", admin, `"kms:CreateGrant"`), allow("All", fsx, all)},
			nil, VerdictUsable, ""},
		{"two listed principals each complete", []string{allow("All", fsx, all), allow("All2", app, all)},
			[]string{fsx, app}, VerdictUsable, ""},
		{"one listed principal incomplete", []string{allow("All", fsx, all), allow("Use", app, use)},
			[]string{fsx, app}, VerdictBroken, "role/AppRole lacks kms:CreateGrant"},
		{"split across two statements for one role", []string{allow("Use", app, use), allow("Grant", app, `"kms:CreateGrant"`)},
			nil, VerdictUsable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(tt.statements, ",") + `]}`
			p, err := Parse([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			res := CheckFSx(p, FSxParams{Account: acct, Region: "us-east-1", Principals: tt.principals, Now: testNow})
			if res.Verdict != tt.verdict || res.Usable != (tt.verdict == VerdictUsable) {
				t.Errorf("verdict %s (usable %v), want %s: %s", res.Verdict, res.Usable, tt.verdict, res.Summary)
			}
			if tt.lacking != "" && !strings.Contains(res.Summary, tt.lacking) {
				t.Errorf("summary %q does not say %q", res.Summary, tt.lacking)
			}
			for _, pr := range res.Principals {
				if pr.Verdict == VerdictBroken && (len(pr.Missing) == 0 || pr.Reason == "") {
					t.Errorf("broken principal %s without what it lacks and why: %+v", pr.Principal, pr)
				}
			}
		})
	}
}

// TestCheckFSxBounded checks that a policy naming hundreds of roles gives a
// short answer: a few names, then "and N more".
func TestCheckFSxBounded(t *testing.T) {
	var stmts []string
	for i := range 240 {
		r := "arn:aws:iam::111122223333:role/App" + strconv.Itoa(i)
		stmts = append(stmts, `{"Effect":"Allow","Principal":{"AWS":"`+r+`"},"Action":"kms:*","Resource":"arn:aws:s3:::b"}`)
	}
	doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	res := CheckFSx(p, FSxParams{Account: acct, Region: "us-east-1", Now: testNow})
	if res.Verdict != VerdictBroken {
		t.Fatalf("verdict %s", res.Verdict)
	}
	if len(res.Principals) != MaxPrincipalsListed || res.MorePrincipals != 241-MaxPrincipalsListed {
		t.Errorf("principals listed %d, more %d", len(res.Principals), res.MorePrincipals)
	}
	if !strings.Contains(res.Summary, "and 238 more") {
		t.Errorf("summary not bounded: %q", res.Summary)
	}
	for _, perm := range res.Permissions {
		if len(perm.Reason) > 4096 || len(perm.Statements) > maxStatements+1 {
			t.Errorf("%s: reason %d bytes, %d statements", perm.Action, len(perm.Reason), len(perm.Statements))
		}
	}
}

// TestBoundMerged: merging bounded lists keeps at most maxStatements names
// and never restates a count it no longer knows.
func TestBoundMerged(t *testing.T) {
	var long []string
	for i := range 12 {
		long = append(long, "S"+strconv.Itoa(i))
	}
	tests := []struct {
		in   []string
		want int // names kept
		more bool
	}{
		{[]string{"A", "B"}, 2, false},
		{append(long[:10:10], "(5 more)"), 10, true},
		{long, 10, true},
		{[]string{"A", "(2 more)", "B"}, 2, true},
		{[]string{"(not a count more)"}, 1, false},
	}
	for _, tt := range tests {
		got := boundMerged(tt.in)
		more := len(got) > 0 && got[len(got)-1] == "(more)"
		names := len(got)
		if more {
			names--
		}
		if names != tt.want || more != tt.more {
			t.Errorf("boundMerged(%q) = %q; want %d names, more %v", tt.in, got, tt.want, tt.more)
		}
	}
}
