package policy

import (
	"reflect"
	"strings"
	"testing"
)

const (
	acct    = "111122223333"
	other   = "444455556666"
	root    = "arn:aws:iam::111122223333:root"
	role    = "arn:aws:iam::111122223333:role/FsxAdmin"
	session = "arn:aws:sts::111122223333:assumed-role/FsxAdmin/s1"
	user    = "arn:aws:iam::111122223333:user/alice"
	keyARN  = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	viaFSx  = "fsx.us-east-1.amazonaws.com"
)

// doc wraps statements in a 2012-10-17 policy.
func doc(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

// ctx builds a request context from key, value pairs.
func ctx(kv ...string) map[string][]string {
	m := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return m
}

const (
	allowAll     = `{"Sid":"AllowAll","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}`
	allowRoot    = `{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`
	allowDecrypt = `{"Sid":"Dec","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}`
)

// cond is an Allow statement on kms:Decrypt for "*" with the given Condition.
func cond(c string) string {
	return `{"Sid":"C","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":` + c + `}`
}

// denyCond is a Deny statement on kms:Decrypt for "*" with the given Condition.
func denyCond(c string) string {
	return `{"Sid":"D","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":` + c + `}`
}

// evalCase is one Evaluate case: a policy, a request and the decision (and
// optionally the deciding statements) the AWS documentation rule gives.
type evalCase struct {
	name   string
	rule   string // the AWS documentation rule the case encodes
	policy string
	req    Request
	want   Decision
	stmts  []string // nil: not checked
}

// runEvalCases parses each case's policy, evaluates its request and wants
// the decision, the statements (when given) and a non-empty reason.
func runEvalCases(t *testing.T, tests []evalCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.policy))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := p.Evaluate(tt.req)
			if got.Decision != tt.want {
				t.Errorf("Decision = %s, want %s (rule: %s)\nreason: %s", got.Decision, tt.want, tt.rule, got.Reason)
			}
			if tt.stmts != nil && !reflect.DeepEqual(got.Statements, tt.stmts) {
				t.Errorf("Statements = %q, want %q (rule: %s)", got.Statements, tt.stmts, tt.rule)
			}
			if got.Reason == "" {
				t.Error("empty Reason")
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	tests := []evalCase{
		// Decision order.
		{"explicit deny wins", "reference_policies_evaluation-logic: an explicit deny overrides any allow",
			doc(allowAll, `{"Sid":"NoDecrypt","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`),
			Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"NoDecrypt"}},
		{"order does not matter", "reference_policies_evaluation-logic: statements are not ordered",
			doc(`{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`, allowAll),
			Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"#0"}},
		{"no statement allows", "reference_policies_evaluation-logic: default deny",
			doc(allowDecrypt), Request{Principal: role, Action: "kms:Encrypt"}, DenyImplicit, []string{}},
		{"same-account principal allowed by * needs no IAM", "reference_policies_elements_principal: \"*\" covers every principal",
			doc(allowDecrypt), Request{Principal: role, Action: "kms:Decrypt"}, Allow, []string{"Dec"}},

		// KMS specifics.
		{"account principal delegates to IAM", "kms key-policy-default: the account statement enables IAM policies",
			doc(allowRoot), Request{Principal: role, Action: "kms:Decrypt"}, DelegatedToIAM, []string{"Root"}},
		{"bare account id is the account", "reference_policies_elements_principal: {\"AWS\":\"A\"} = arn:aws:iam::A:root",
			doc(`{"Sid":"Acct","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}`),
			Request{Principal: session, Action: "kms:Decrypt"}, DelegatedToIAM, []string{"Acct"}},
		{"conditional account statement delegates only when its conditions hold", "kms key-policy-default: conditions limit delegation",
			doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com"}}}`),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", "ec2.us-east-1.amazonaws.com")}, DenyImplicit, []string{"#0"}},
		{"cross-account caller allowed by * is delegated", "kms key-policy-modifying-external-accounts: the other account's IAM must also allow",
			doc(allowDecrypt), Request{Principal: "arn:aws:iam::444455556666:role/R", Action: "kms:Decrypt", Resource: keyARN}, DelegatedToIAM, []string{"Dec"}},
		{"cross-account named role is delegated", "kms key-policy-modifying-external-accounts",
			doc(`{"Sid":"X","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:role/R"},"Action":"kms:Decrypt","Resource":"*"}`),
			Request{Principal: "arn:aws:sts::444455556666:assumed-role/R/s", Action: "kms:Decrypt", Context: ctx("aws:ResourceAccount", acct)}, DelegatedToIAM, []string{"X"}},
		{"statement without Resource has no effect", "kms key-policy-overview: Resource is required; a statement without it has no effect",
			doc(`{"Sid":"NoRes","Effect":"Allow","Principal":"*","Action":"kms:*"}`), Request{Principal: role, Action: "kms:Decrypt"}, DenyImplicit, []string{}},
		{"deny without Resource has no effect", "kms key-policy-overview",
			doc(allowAll, `{"Effect":"Deny","Principal":"*","Action":"kms:*"}`), Request{Principal: role, Action: "kms:Decrypt"}, Allow, []string{"AllowAll"}},
		{"ListAliases is IAM-only even under a deny", "kms alias-access: key policies cannot control kms:ListAliases",
			doc(`{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}`), Request{Principal: role, Action: "kms:ListAliases"}, DelegatedToIAM, []string{}},

		// Action / NotAction.
		{"action is case-insensitive", "reference_policies_elements_action: action names are case-insensitive",
			doc(`{"Sid":"A","Effect":"Allow","Principal":"*","Action":"KMS:decrypt","Resource":"*"}`), Request{Principal: role, Action: "kms:Decrypt"}, Allow, nil},
		{"GenerateDataKey* covers WithoutPlaintext", "reference_policies_elements_action: * matches any run",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:GenerateDataKey*","Resource":"*"}`), Request{Principal: role, Action: "kms:GenerateDataKeyWithoutPlaintext"}, Allow, nil},
		{"ReEncrypt* covers ReEncryptFrom", "reference_policies_elements_action",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:ReEncrypt*","Resource":"*"}`), Request{Principal: role, Action: "kms:ReEncryptFrom"}, Allow, nil},
		{"action patterns are anchored", "reference_policies_elements_action: the pattern matches the whole name",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:Describe","Resource":"*"}`), Request{Principal: role, Action: "kms:DescribeKey"}, DenyImplicit, nil},
		{"? matches exactly one character", "reference_policies_elements_action",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:?ncrypt","Resource":"*"}`), Request{Principal: role, Action: "kms:ReEncrypt"}, DenyImplicit, nil},
		{"deny with NotAction denies unlisted actions", "reference_policies_elements_notaction",
			doc(allowAll, `{"Sid":"OnlyDescribe","Effect":"Deny","Principal":"*","NotAction":"kms:Describe*","Resource":"*"}`),
			Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"OnlyDescribe"}},
		{"NotAction does not cover listed actions", "reference_policies_elements_notaction",
			doc(allowAll, `{"Effect":"Deny","Principal":"*","NotAction":"kms:Describe*","Resource":"*"}`),
			Request{Principal: role, Action: "kms:DescribeKey"}, Allow, nil},
		{"empty Action matches nothing", "access-analyzer policy checks: empty arrays have no effect",
			doc(`{"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"}`), Request{Principal: role, Action: "kms:Decrypt"}, DenyImplicit, nil},

		// Principal / NotPrincipal.
		{"string * equals AWS *", "reference_policies_elements_principal",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`), Request{Principal: user, Action: "kms:Decrypt"}, Allow, nil},
		{"role ARN covers its sessions", "reference_policies_elements_principal: role principals match assumed-role sessions",
			doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/FsxAdmin"},"Action":"kms:Decrypt","Resource":"*"}`),
			Request{Principal: session, Action: "kms:Decrypt"}, Allow, nil},
		{"role ARN with a path covers its sessions", "reference_policies_elements_principal (session ARNs omit the path)",
			doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/ops/FsxAdmin"},"Action":"kms:Decrypt","Resource":"*"}`),
			Request{Principal: session, Action: "kms:Decrypt"}, Allow, nil},
		{"session ARN covers only that session", "reference_policies_elements_principal: role session principals",
			doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/FsxAdmin/other"},"Action":"kms:Decrypt","Resource":"*"}`),
			Request{Principal: session, Action: "kms:Decrypt"}, DenyImplicit, nil},
		{"user name is case-sensitive", "reference_policies_elements_principal",
			doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},"Action":"kms:Decrypt","Resource":"*"}`),
			Request{Principal: user, Action: "kms:Decrypt"}, DenyImplicit, nil},
		{"service principal does not cover an IAM caller via FSx", "fsx security_iam_service-with-iam: forward access sessions use the caller's identity",
			doc(`{"Effect":"Allow","Principal":{"Service":"fsx.amazonaws.com"},"Action":"kms:Decrypt","Resource":"*"}`),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx)}, DenyImplicit, nil},
		{"service principal covers that service", "reference_policies_elements_principal: service principals",
			doc(`{"Effect":"Allow","Principal":{"Service":["fsx.amazonaws.com"]},"Action":"kms:Decrypt","Resource":"*"}`),
			Request{Principal: "fsx.amazonaws.com", Action: "kms:Decrypt"}, Allow, nil},
		{"account principal in a deny covers every identity", "iam-simulate kms tests; NotPrincipal multi-principal model",
			doc(allowAll, `{"Sid":"DenyAcct","Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*"}`),
			Request{Principal: session, Action: "kms:Decrypt"}, DenyExplicit, []string{"DenyAcct"}},
		{"NotPrincipal deny: session, role and account listed", "reference_policies_elements_notprincipal",
			doc(allowAll, `{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:role/FsxAdmin","arn:aws:sts::111122223333:assumed-role/FsxAdmin/s1"]},"Action":"kms:*","Resource":"*"}`),
			Request{Principal: session, Action: "kms:Decrypt"}, Allow, nil},
		{"NotPrincipal deny: session not listed is denied", "reference_policies_elements_notprincipal: list the session ARN too",
			doc(allowAll, `{"Sid":"NP","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:role/FsxAdmin"]},"Action":"kms:*","Resource":"*"}`),
			Request{Principal: session, Action: "kms:Decrypt"}, DenyExplicit, []string{"NP"}},
		{"NotPrincipal deny: account not listed is denied", "reference_policies_elements_notprincipal: list the account ARN too",
			doc(allowAll, `{"Sid":"NP","Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/FsxAdmin"},"Action":"kms:*","Resource":"*"}`),
			Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"NP"}},
		{"NotPrincipal deny applies to other principals", "reference_policies_elements_notprincipal",
			doc(allowAll, `{"Sid":"NP","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:role/FsxAdmin"]},"Action":"kms:*","Resource":"*"}`),
			Request{Principal: user, Action: "kms:Decrypt"}, DenyExplicit, []string{"NP"}},

		// Resource / NotResource.
		{"NotResource of another service covers the key", "reference_policies_elements_notresource",
			doc(allowAll, `{"Sid":"NR","Effect":"Deny","Principal":"*","Action":"kms:*","NotResource":"arn:aws:s3:::*"}`),
			Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"NR"}},
		{"Resource naming the key matches", "kms key-policy-overview: Resource is the key ARN or *",
			doc(`{"Sid":"K","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:key/*"}`),
			Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN}, Allow, []string{"K"}},
		{"Resource naming another key does not match", "reference_policies_elements_resource",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:us-west-2:111122223333:key/*"}`),
			Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN}, DenyImplicit, nil},
		{"specific Resource with no key ARN is undecidable", "fail closed: the evaluator cannot tell which key",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:us-west-2:111122223333:key/*"}`),
			Request{Principal: role, Action: "kms:Decrypt"}, Indeterminate, nil},

		// Conditions: keys, values, missing keys.
		{"condition keys are case-insensitive", "reference_policies_elements_condition: keys are case-insensitive",
			doc(cond(`{"StringEquals":{"KMS:VIASERVICE":"fsx.us-east-1.amazonaws.com"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx)}, Allow, nil},
		{"several values are ORed", "reference_policies_multi-value-conditions",
			doc(cond(`{"StringEquals":{"kms:ViaService":["ec2.us-east-1.amazonaws.com","fsx.us-east-1.amazonaws.com"]}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx)}, Allow, nil},
		{"negated operator: several values are ANDed", "reference_policies_multi-value-conditions",
			doc(allowAll, denyCond(`{"StringNotEquals":{"kms:ViaService":["ec2.us-east-1.amazonaws.com","fsx.us-east-1.amazonaws.com"]}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx)}, Allow, nil},
		{"several keys are ANDed", "reference_policies_elements_condition",
			doc(cond(`{"StringEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com","kms:CallerAccount":"444455556666"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx, "kms:CallerAccount", acct)}, DenyImplicit, []string{"C"}},
		{"positive operator on a missing key is false", "reference_policies_elements_condition_operators",
			doc(cond(`{"StringEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com"}}`)),
			Request{Principal: role, Action: "kms:Decrypt"}, DenyImplicit, nil},
		{"negated operator on a missing key is true", "reference_policies_elements_condition_operators: negated operators match a missing key",
			doc(allowAll, denyCond(`{"StringNotEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com"}}`)),
			Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"D"}},
		{"IfExists on a missing key is true", "reference_policies_elements_condition_operators: ...IfExists",
			doc(allowAll, denyCond(`{"StringNotEqualsIfExists":{"kms:ViaService":"fsx.us-east-1.amazonaws.com"}}`)),
			Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"D"}},
		{"IfExists compares a present key", "reference_policies_elements_condition_operators: ...IfExists",
			doc(cond(`{"StringEqualsIfExists":{"kms:ViaService":"fsx.us-east-1.amazonaws.com"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", "ec2.us-east-1.amazonaws.com")}, DenyImplicit, nil},
		{"Null true: key absent", "reference_policies_elements_condition_operators: Null",
			doc(cond(`{"Null":{"kms:ViaService":"true"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, Allow, nil},
		{"Null false: key present", "reference_policies_elements_condition_operators: Null",
			doc(cond(`{"Null":{"kms:ViaService":false}}`)), Request{Principal: role, Action: "kms:Decrypt"}, DenyImplicit, nil},

		// Set operators.
		{"ForAllValues is true for an absent key", "reference_policies_multi-value-conditions: ForAllValues",
			doc(cond(`{"ForAllValues:StringEquals":{"kms:GrantOperations":["Decrypt","Encrypt"]}}`)),
			Request{Principal: role, Action: "kms:Decrypt"}, Allow, nil},
		{"ForAllValues is true for an empty key", "reference_policies_multi-value-conditions: ForAllValues",
			doc(cond(`{"ForAllValues:StringEquals":{"kms:GrantOperations":["Decrypt"]}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: map[string][]string{"kms:GrantOperations": {}}}, Allow, nil},
		{"ForAllValues rejects an unlisted value", "conditions-kms: kms:GrantOperations with ForAllValues",
			doc(cond(`{"ForAllValues:StringEquals":{"kms:GrantOperations":["Decrypt","Encrypt"]}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:GrantOperations", "Decrypt", "kms:GrantOperations", "RetireGrant")}, DenyImplicit, nil},
		{"ForAnyValue is false for an absent key", "reference_policies_multi-value-conditions: ForAnyValue",
			doc(cond(`{"ForAnyValue:StringEquals":{"kms:GrantOperations":"Decrypt"}}`)),
			Request{Principal: role, Action: "kms:Decrypt"}, DenyImplicit, nil},
		{"ForAnyValue matches one value", "reference_policies_multi-value-conditions: ForAnyValue",
			doc(cond(`{"ForAnyValue:StringEquals":{"kms:GrantOperations":"Decrypt"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:GrantOperations", "Encrypt", "kms:GrantOperations", "Decrypt")}, Allow, nil},
		{"ForAnyValue with a negated operator negates per value", "reference_policies_multi-value-conditions",
			doc(allowAll, denyCond(`{"ForAnyValue:StringNotEquals":{"kms:GrantOperations":["Decrypt","Encrypt"]}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:GrantOperations", "Decrypt", "kms:GrantOperations", "CreateGrant")}, DenyExplicit, nil},
		{"ForAllValues on single-valued ViaService allows direct calls", "access-analyzer checks: ForAllValues with a single-valued key",
			doc(cond(`{"ForAllValues:StringEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com"}}`)),
			Request{Principal: role, Action: "kms:Decrypt"}, Allow, nil},

		// Operators.
		{"StringLike wildcard", "reference_policies_elements_condition_operators: StringLike",
			doc(cond(`{"StringLike":{"kms:ViaService":"fsx.*.amazonaws.com"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx)}, Allow, nil},
		{"StringEquals treats * literally", "reference_policies_elements_condition_operators: StringEquals",
			doc(cond(`{"StringEquals":{"kms:ViaService":"fsx.*.amazonaws.com"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx)}, DenyImplicit, nil},
		{"StringEqualsIgnoreCase", "reference_policies_elements_condition_operators",
			doc(cond(`{"StringEqualsIgnoreCase":{"kms:ViaService":"FSX.US-EAST-1.AMAZONAWS.COM"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx)}, Allow, nil},
		{"StringEquals is case-sensitive", "reference_policies_elements_condition_operators",
			doc(cond(`{"StringEquals":{"kms:ViaService":"FSX.us-east-1.amazonaws.com"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx)}, DenyImplicit, nil},
		{"encryption context key name is case-insensitive", "conditions-kms: kms:EncryptionContext:context-key",
			doc(cond(`{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:encryptioncontext:department", "IT")}, Allow, nil},
		{"NumericLessThan with a JSON number", "reference_policies_elements_condition_operators: Numeric",
			doc(cond(`{"NumericLessThan":{"kms:RecipientAttestation:ImageSha384":10}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:RecipientAttestation:ImageSha384", "9.5")}, Allow, nil},
		{"NumericGreaterThanEquals false", "reference_policies_elements_condition_operators: Numeric",
			doc(cond(`{"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":"3600"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:MultiFactorAuthAge", "60")}, DenyImplicit, nil},
		{"NumericNotEquals", "reference_policies_elements_condition_operators: Numeric",
			doc(cond(`{"NumericNotEquals":{"aws:MultiFactorAuthAge":[1,2]}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:MultiFactorAuthAge", "3")}, Allow, nil},
		{"DateLessThan ISO 8601", "reference_policies_elements_condition_operators: Date",
			doc(cond(`{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:CurrentTime", "2026-11-26T12:00:00Z")}, Allow, nil},
		{"DateGreaterThan epoch seconds", "reference_policies_elements_condition_operators: Date (epoch seconds)",
			doc(cond(`{"DateGreaterThan":{"aws:EpochTime":1767225600}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:EpochTime", "1767225601")}, Allow, nil},
		{"DateEquals mixes epoch and ISO", "reference_policies_elements_condition_operators: Date",
			doc(cond(`{"DateEquals":{"aws:CurrentTime":"1767225600"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:CurrentTime", "2026-01-01T00:00:00Z")}, Allow, nil},
		{"Bool with a JSON boolean", "conditions-kms: kms:GrantIsForAWSResource (docs write true unquoted)",
			doc(cond(`{"Bool":{"kms:GrantIsForAWSResource":true}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:GrantIsForAWSResource", "true")}, Allow, nil},
		{"Bool false does not match true", "reference_policies_elements_condition_operators: Bool",
			doc(cond(`{"Bool":{"kms:GrantIsForAWSResource":"false"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:GrantIsForAWSResource", "true")}, DenyImplicit, nil},
		{"IpAddress CIDR", "reference_policies_elements_condition_operators: IpAddress",
			doc(cond(`{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:SourceIp", "203.0.113.7")}, Allow, nil},
		{"IpAddress bare address is /32", "reference_policies_elements_condition_operators: IpAddress",
			doc(cond(`{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:SourceIp", "203.0.113.8")}, DenyImplicit, nil},
		{"IpAddress IPv6 among IPv4", "reference_policies_elements_condition_operators: IpAddress",
			doc(cond(`{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:SourceIp", "2001:db8::1")}, Allow, nil},
		{"NotIpAddress", "reference_policies_elements_condition_operators: NotIpAddress",
			doc(allowAll, denyCond(`{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:SourceIp", "198.51.100.1")}, DenyExplicit, nil},
		{"ArnLike per field", "reference_policies_elements_condition_operators: ARN operators",
			doc(cond(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Fsx*"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:PrincipalArn", role)}, Allow, nil},
		{"ArnLike wildcard does not cross colons", "reference_policies_elements_condition_operators: ARN operators",
			doc(cond(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:*"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:PrincipalArn", role)}, DenyImplicit, nil},
		{"StringLike wildcard crosses colons", "reference_policies_elements_condition_operators: StringLike",
			doc(cond(`{"StringLike":{"aws:PrincipalArn":"arn:aws:*"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:PrincipalArn", role)}, Allow, nil},
		{"ArnNotEquals", "reference_policies_elements_condition_operators: ARN operators",
			doc(allowAll, denyCond(`{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/FsxAdmin"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:PrincipalArn", role)}, Allow, nil},
		{"BinaryEquals", "reference_policies_elements_condition_operators: BinaryEquals",
			doc(cond(`{"BinaryEquals":{"aws:Custom":"QmluYXJ5VmFsdWU="}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:Custom", "QmluYXJ5VmFsdWU=")}, Allow, nil},
		{"operator names are case-insensitive", "iam-simulate: operators compare case-insensitively",
			doc(cond(`{"stringequals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx)}, Allow, nil},

		// Policy variables.
		{"variable substituted with Version 2012-10-17", "reference_policies_variables",
			doc(cond(`{"StringEquals":{"kms:CallerAccount":"${aws:PrincipalAccount}"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:CallerAccount", acct, "aws:PrincipalAccount", acct)}, Allow, nil},
		{"variable is literal without Version", "reference_policies_variables: only with Version 2012-10-17",
			`{"Statement":[` + cond(`{"StringEquals":{"kms:CallerAccount":"${aws:PrincipalAccount}"}}`) + `]}`,
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:CallerAccount", acct, "aws:PrincipalAccount", acct)}, DenyImplicit, nil},
		{"variable default value", "reference_policies_variables: ${key, 'default'}",
			doc(cond(`{"StringEquals":{"kms:CallerAccount":"${aws:PrincipalAccount, '111122223333'}"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:CallerAccount", acct)}, Allow, nil},
		{"missing variable: negated operator matches", "reference_policies_variables: a missing value is null",
			doc(allowAll, denyCond(`{"StringNotEquals":{"kms:CallerAccount":"${aws:PrincipalAccount}"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:CallerAccount", acct)}, DenyExplicit, nil},
		{"escaped * is literal in StringLike", "reference_policies_variables: ${*}",
			doc(cond(`{"StringLike":{"aws:Custom":"a${*}"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:Custom", "ab")}, DenyImplicit, nil},
		{"substituted value is literal in StringLike", "reference_policies_variables",
			doc(cond(`{"StringLike":{"aws:Custom":"${aws:username}"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:Custom", "ab", "aws:username", "*")}, DenyImplicit, nil},

		// Fail closed.
		{"unknown operator in a deny is Indeterminate", "fail closed: an unknown construct in a Deny is never read as no deny",
			doc(allowAll, denyCond(`{"StringFancy":{"kms:ViaService":"x"}}`)),
			Request{Principal: role, Action: "kms:Decrypt"}, Indeterminate, []string{"D"}},
		{"unknown operator in an allow is Indeterminate", "fail closed",
			doc(cond(`{"StringFancy":{"kms:ViaService":"x"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, Indeterminate, []string{"C"}},
		{"unknown key in a deny is Indeterminate", "key-policy-evaluation §4: kms:GrantOperations of FSx is unknown",
			doc(allowAll, denyCond(`{"ForAllValues:StringEquals":{"kms:GrantOperations":"Decrypt"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Unknown: []string{"kms:GrantOperations"}}, Indeterminate, []string{"D"}},
		{"possible deny without any allow is still a deny", "reference_policies_evaluation-logic: default deny",
			doc(denyCond(`{"StringFancy":{"kms:ViaService":"x"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, DenyImplicit, []string{"D"}},
		{"definite deny wins over an undecidable one", "reference_policies_evaluation-logic",
			doc(allowAll, denyCond(`{"StringFancy":{"kms:ViaService":"x"}}`), `{"Sid":"Hard","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`),
			Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"Hard"}},
		{"delegation stands beside an undecidable allow", "kms key-policy-default",
			doc(allowRoot, cond(`{"StringFancy":{"kms:ViaService":"x"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, DelegatedToIAM, []string{"Root"}},
	}
	runEvalCases(t, tests)
}
