package policy

import (
	"strings"
	"testing"
)

// TestEvaluateAudit holds adversarial cases written against the AWS
// documentation, each trying to break one rule of the evaluator.
func TestEvaluateAudit(t *testing.T) {
	fedUser := "arn:aws:sts::111122223333:federated-user/bob"
	tests := []evalCase{
		// Action matching.
		{"action name upper case in the request", "reference_policies_elements_action: action names are case-insensitive",
			doc(allowDecrypt), Request{Principal: role, Action: "KMS:DECRYPT"}, Allow, nil},
		{"* in the middle of an action", "reference_policies_elements_action: * matches any run of characters",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:Re*To","Resource":"*"}`), Request{Principal: role, Action: "kms:ReEncryptTo"}, Allow, nil},
		{"* in the middle does not match a longer name", "reference_policies_elements_action: the pattern is anchored at the end",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:Re*To","Resource":"*"}`), Request{Principal: role, Action: "kms:ReEncryptToX"}, DenyImplicit, nil},
		{"action pattern is anchored at the start", "reference_policies_elements_action",
			doc(`{"Effect":"Allow","Principal":"*","Action":"crypt","Resource":"*"}`), Request{Principal: role, Action: "kms:Decrypt"}, DenyImplicit, nil},
		{"other service prefix does not match", "reference_policies_elements_action: service prefix is part of the name",
			doc(`{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}`), Request{Principal: role, Action: "kms:Decrypt"}, DenyImplicit, nil},
		{"bare * matches every action", "reference_policies_elements_action",
			doc(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`), Request{Principal: role, Action: "kms:Decrypt"}, Allow, nil},
		{"ReEncrypt* covers ReEncryptTo", "reference_policies_elements_action; fsx FSXKMS.md lists kms:ReEncrypt*",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:ReEncrypt*","Resource":"*"}`), Request{Principal: role, Action: "kms:ReEncryptTo"}, Allow, nil},
		{"Allow with NotAction allows unlisted actions", "reference_policies_elements_notaction: NotAction with Allow",
			doc(`{"Sid":"NA","Effect":"Allow","Principal":"*","NotAction":"kms:Describe*","Resource":"*"}`), Request{Principal: role, Action: "kms:Decrypt"}, Allow, []string{"NA"}},
		{"Allow with NotAction does not allow listed actions", "reference_policies_elements_notaction",
			doc(`{"Effect":"Allow","Principal":"*","NotAction":"kms:Describe*","Resource":"*"}`), Request{Principal: role, Action: "kms:DescribeKey"}, DenyImplicit, nil},
		{"NotAction matches case-insensitively", "reference_policies_elements_notaction; action names are case-insensitive",
			doc(allowAll, `{"Effect":"Deny","Principal":"*","NotAction":"KMS:DESCRIBE*","Resource":"*"}`), Request{Principal: role, Action: "kms:DescribeKey"}, Allow, nil},
		{"Deny with empty NotAction denies every action", "reference_policies_elements_notaction: every action not listed",
			doc(allowAll, `{"Sid":"D","Effect":"Deny","Principal":"*","NotAction":[],"Resource":"*"}`), Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"D"}},

		// Principal.
		{"Principal * in a deny covers everyone", "reference_policies_elements_principal: \"*\" is everyone",
			doc(allowAll, `{"Sid":"D","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`), Request{Principal: session, Action: "kms:Decrypt"}, DenyExplicit, []string{"D"}},
		{"AWS * in a deny covers everyone", "reference_policies_elements_principal: {\"AWS\":\"*\"} = \"*\"",
			doc(allowAll, `{"Sid":"D","Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}`), Request{Principal: user, Action: "kms:Decrypt"}, DenyExplicit, []string{"D"}},
		{"account root ARN delegates for a user", "key-policy-default: the account principal enables IAM policies",
			doc(allowRoot), Request{Principal: user, Action: "kms:Decrypt"}, DelegatedToIAM, []string{"Root"}},
		{"account principal of another account does not cover the caller", "reference_policies_elements_principal: account principal",
			doc(`{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:*","Resource":"*"}`), Request{Principal: role, Action: "kms:Decrypt"}, DenyImplicit, nil},
		{"account principal in a deny covers a federated user", "reference_policies_elements_principal: the account principal stands for every identity in the account",
			doc(allowAll, `{"Sid":"DenyAcct","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:Decrypt","Resource":"*"}`),
			Request{Principal: fedUser, Action: "kms:Decrypt"}, DenyExplicit, []string{"DenyAcct"}},
		{"account principal delegates for a federated user", "key-policy-default: the account principal enables IAM policies",
			doc(allowRoot), Request{Principal: fedUser, Action: "kms:Decrypt"}, DelegatedToIAM, []string{"Root"}},
		{"role principal does not cover a user of the same name", "reference_policies_elements_principal",
			doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/alice"},"Action":"kms:*","Resource":"*"}`), Request{Principal: user, Action: "kms:Decrypt"}, DenyImplicit, nil},
		{"role in another account does not cover a same-name session", "reference_policies_elements_principal",
			doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:role/FsxAdmin"},"Action":"kms:*","Resource":"*"}`), Request{Principal: session, Action: "kms:Decrypt"}, DenyImplicit, nil},
		{"Allow with NotPrincipal allows those not listed", "reference_policies_elements_notprincipal: Allow+NotPrincipal allows everyone else",
			doc(`{"Sid":"NP","Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"}`), Request{Principal: user, Action: "kms:Decrypt"}, Allow, []string{"NP"}},
		{"NotPrincipal deny: user and account listed is exempt", "reference_policies_elements_notprincipal: list the user and its account",
			doc(allowAll, `{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:user/alice"]},"Action":"kms:*","Resource":"*"}`),
			Request{Principal: user, Action: "kms:Decrypt"}, Allow, nil},
		{"NotPrincipal deny naming a service does not exempt an IAM caller", "reference_policies_elements_notprincipal",
			doc(allowAll, `{"Sid":"NP","Effect":"Deny","NotPrincipal":{"Service":"fsx.amazonaws.com"},"Action":"kms:*","Resource":"*"}`),
			Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"NP"}},

		{"NotPrincipal deny: federated user listed without its account is denied", "reference_policies_elements_notprincipal: a caller counts as its account too",
			doc(allowAll, `{"Sid":"NP","Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:sts::111122223333:federated-user/bob"},"Action":"kms:*","Resource":"*"}`),
			Request{Principal: fedUser, Action: "kms:Decrypt"}, DenyExplicit, []string{"NP"}},
		{"NotPrincipal deny: federated user and account listed is exempt", "reference_policies_elements_notprincipal",
			doc(allowAll, `{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333","arn:aws:sts::111122223333:federated-user/bob"]},"Action":"kms:*","Resource":"*"}`),
			Request{Principal: fedUser, Action: "kms:Decrypt"}, Allow, nil},

		// Resource.
		{"NotResource * excludes the key", "reference_policies_elements_notresource: matches every resource not listed",
			doc(allowAll, `{"Effect":"Deny","Principal":"*","Action":"kms:*","NotResource":"*"}`), Request{Principal: role, Action: "kms:Decrypt"}, Allow, nil},
		{"Resource is case-sensitive", "reference_policies_elements_resource: resource ARNs are case-sensitive",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111122223333:KEY/*"}`), Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN}, DenyImplicit, nil},
		{"Allow with NotResource naming the key does not apply", "reference_policies_elements_notresource",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","NotResource":"arn:aws:kms:*:111122223333:key/*"}`), Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN}, DenyImplicit, nil},
		{"empty Resource array has no effect", "access-analyzer policy checks: an empty array matches nothing",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":[]}`), Request{Principal: role, Action: "kms:Decrypt"}, DenyImplicit, nil},
		{"deny without Resource does not block; with NotResource it does", "key-policy-overview: no Resource, no effect",
			doc(allowAll, `{"Effect":"Deny","Principal":"*","Action":"kms:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:SecureTransport", "false")}, Allow, nil},

		// Condition keys and values.
		{"StringEquals value is case-sensitive in a deny", "reference_policies_elements_condition_operators: StringEquals is case-sensitive",
			doc(allowAll, denyCond(`{"StringEquals":{"kms:CallerAccount":"ABC"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:CallerAccount", "abc")}, Allow, nil},
		{"request key in upper case matches the policy key", "reference_policies_elements_condition: key names are case-insensitive",
			doc(cond(`{"StringEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("KMS:VIASERVICE", viaFSx)}, Allow, nil},
		{"several operators are ANDed", "reference_policies_elements_condition: multiple operators are ANDed",
			doc(cond(`{"StringEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com"},"StringLike":{"kms:CallerAccount":"4444*"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx, "kms:CallerAccount", acct)}, DenyImplicit, nil},
		{"StringLike ? matches one character", "reference_policies_elements_condition_operators: StringLike",
			doc(cond(`{"StringLike":{"kms:CallerAccount":"11112222333?"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:CallerAccount", acct)}, Allow, nil},
		{"StringLike is anchored", "reference_policies_elements_condition_operators: StringLike matches the whole value",
			doc(cond(`{"StringLike":{"kms:ViaService":"fsx.*"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", "xfsx.us-east-1.amazonaws.com")}, DenyImplicit, nil},
		{"StringLike is case-sensitive", "reference_policies_elements_condition_operators: StringLike is case-sensitive",
			doc(cond(`{"StringLike":{"kms:ViaService":"FSX.*"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx)}, DenyImplicit, nil},
		{"StringNotLike on a missing key is true", "reference_policies_elements_condition_operators: negated operators match a missing key",
			doc(allowAll, denyCond(`{"StringNotLike":{"kms:ViaService":"fsx.*"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"D"}},
		{"ArnNotLike on a missing key is true", "reference_policies_elements_condition_operators: negated operators match a missing key",
			doc(allowAll, denyCond(`{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"D"}},
		{"NotIpAddress on a missing key is true", "reference_policies_elements_condition_operators: negated operators match a missing key",
			doc(allowAll, denyCond(`{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"D"}},
		{"NumericNotEquals on a missing key is true", "reference_policies_elements_condition_operators: negated operators match a missing key",
			doc(allowAll, denyCond(`{"NumericNotEquals":{"aws:MultiFactorAuthAge":"1"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"D"}},
		{"DateNotEquals on a missing key is true", "reference_policies_elements_condition_operators: negated operators match a missing key",
			doc(allowAll, denyCond(`{"DateNotEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, []string{"D"}},
		{"StringNotEqualsIgnoreCase compares without case", "reference_policies_elements_condition_operators",
			doc(allowAll, denyCond(`{"StringNotEqualsIgnoreCase":{"kms:ViaService":"FSX.US-EAST-1.AMAZONAWS.COM"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx)}, Allow, nil},
		{"IfExists on a missing key in an allow is true", "reference_policies_elements_condition_operators: ...IfExists",
			doc(cond(`{"StringEqualsIfExists":{"kms:ViaService":"fsx.us-east-1.amazonaws.com"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, Allow, nil},
		{"NumericLessThanIfExists on a missing key is true", "reference_policies_elements_condition_operators: ...IfExists",
			doc(cond(`{"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"5"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, Allow, nil},
		{"Null true with the key present is false", "reference_policies_elements_condition_operators: Null",
			doc(cond(`{"Null":{"kms:ViaService":true}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx)}, DenyImplicit, nil},
		{"Null false with the key present is true", "reference_policies_elements_condition_operators: Null",
			doc(cond(`{"Null":{"kms:ViaService":"false"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:ViaService", viaFSx)}, Allow, nil},
		{"Null in a deny on a key FSx does not reveal is undecided", "fail closed: a Deny on an unknown key may apply",
			doc(allowAll, denyCond(`{"Null":{"aws:SourceVpc":"true"}}`)), Request{Principal: role, Action: "kms:Decrypt", Unknown: []string{"*"}}, Indeterminate, []string{"D"}},

		// Set operators.
		{"ForAnyValue with an empty policy array never matches", "access-analyzer checks: ForAnyValue with an empty array never matches",
			doc(cond(`{"ForAnyValue:StringEquals":{"kms:GrantOperations":[]}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:GrantOperations", "Decrypt")}, DenyImplicit, nil},
		{"ForAllValues with an empty policy array fails for a present key", "access-analyzer checks: ForAllValues with an empty array matches only an absent key",
			doc(cond(`{"ForAllValues:StringEquals":{"kms:GrantOperations":[]}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:GrantOperations", "Decrypt")}, DenyImplicit, nil},
		{"ForAllValues:StringNotEquals on an absent key is true", "reference_policies_multi-value-conditions: ForAllValues is true for an absent key",
			doc(allowAll, denyCond(`{"ForAllValues:StringNotEquals":{"kms:GrantOperations":"Decrypt"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, DenyExplicit, nil},
		{"ForAnyValue:StringNotEquals on an absent key is false", "reference_policies_multi-value-conditions: ForAnyValue is false for an absent key",
			doc(allowAll, denyCond(`{"ForAnyValue:StringNotEquals":{"kms:GrantOperations":"Decrypt"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, Allow, nil},
		{"ForAllValues:StringLike every value matches some pattern", "reference_policies_multi-value-conditions",
			doc(cond(`{"ForAllValues:StringLike":{"kms:GrantOperations":["Decrypt","Re*"]}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:GrantOperations", "Decrypt", "kms:GrantOperations", "ReEncryptFrom")}, Allow, nil},
		{"ForAllValues:StringNotEquals: no value may be listed", "reference_policies_multi-value-conditions (negation per request value)",
			doc(cond(`{"ForAllValues:StringNotEquals":{"kms:GrantOperations":["RetireGrant"]}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:GrantOperations", "Decrypt", "kms:GrantOperations", "RetireGrant")}, DenyImplicit, nil},
		{"EncryptionContextKeys values are case-sensitive", "conditions-kms: kms:EncryptionContextKeys with StringEquals is case-sensitive",
			doc(cond(`{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"Department"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:EncryptionContextKeys", "department")}, DenyImplicit, nil},

		// Bool.
		{"Bool with the string \"true\"", "reference_policies_elements_condition_operators: Bool",
			doc(cond(`{"Bool":{"kms:GrantIsForAWSResource":"true"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:GrantIsForAWSResource", "true")}, Allow, nil},
		{"Bool on a missing key is false", "reference_policies_elements_condition_operators: positive operators on a missing key",
			doc(cond(`{"Bool":{"kms:GrantIsForAWSResource":true}}`)), Request{Principal: role, Action: "kms:Decrypt"}, DenyImplicit, nil},
		{"Bool with a value that is not a boolean in a deny is undecided", "fail closed: the docs define Bool only for true and false",
			doc(allowAll, denyCond(`{"Bool":{"aws:SecureTransport":"no"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:SecureTransport", "false")}, Indeterminate, []string{"D"}},

		// Numeric.
		{"Numeric with a policy value that is not a number is undecided", "reference_policies_elements_condition_operators: Numeric operators take numbers",
			doc(allowAll, denyCond(`{"NumericLessThan":{"aws:MultiFactorAuthAge":"abc"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:MultiFactorAuthAge", "5")}, Indeterminate, []string{"D"}},
		{"NumericEquals NaN is not a number", "reference_policies_elements_condition_operators: Numeric operators take numbers",
			doc(cond(`{"NumericEquals":{"aws:MultiFactorAuthAge":"NaN"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:MultiFactorAuthAge", "5")}, Indeterminate, nil},
		{"NumericNotEquals NaN in a deny is undecided", "reference_policies_elements_condition_operators: Numeric operators take numbers; fail closed",
			doc(allowAll, denyCond(`{"NumericNotEquals":{"aws:MultiFactorAuthAge":"NaN"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:MultiFactorAuthAge", "5")}, Indeterminate, []string{"D"}},
		{"NumericLessThan Infinity is not a number", "reference_policies_elements_condition_operators: Numeric operators take numbers",
			doc(cond(`{"NumericLessThan":{"aws:MultiFactorAuthAge":"Infinity"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:MultiFactorAuthAge", "5")}, Indeterminate, nil},
		{"NumericEquals hex is not a decimal number", "reference_policies_elements_condition_operators: Numeric operators take numbers",
			doc(cond(`{"NumericEquals":{"aws:MultiFactorAuthAge":"0x10"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:MultiFactorAuthAge", "16")}, Indeterminate, nil},
		{"NumericEquals compares values, not text", "reference_policies_elements_condition_operators: Numeric",
			doc(cond(`{"NumericEquals":{"aws:MultiFactorAuthAge":"10.0"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:MultiFactorAuthAge", "10")}, Allow, nil},
		{"NumericGreaterThan with a negative number", "reference_policies_elements_condition_operators: Numeric",
			doc(cond(`{"NumericGreaterThan":{"aws:MultiFactorAuthAge":-1}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:MultiFactorAuthAge", "0")}, Allow, nil},

		// Date.
		{"Date with a NaN epoch is undecided", "reference_policies_elements_condition_operators: Date takes ISO 8601 or epoch seconds",
			doc(allowAll, denyCond(`{"DateGreaterThan":{"aws:CurrentTime":"NaN"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:CurrentTime", "2026-01-01T00:00:00Z")}, Indeterminate, []string{"D"}},
		{"Date with an infinite epoch is undecided", "reference_policies_elements_condition_operators: Date takes ISO 8601 or epoch seconds",
			doc(allowAll, denyCond(`{"DateLessThan":{"aws:CurrentTime":"Inf"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:CurrentTime", "2026-01-01T00:00:00Z")}, Indeterminate, []string{"D"}},
		{"Date with wildcards is undecided", "reference_policies_elements_condition_operators: Date operators take no wildcards",
			doc(allowAll, denyCond(`{"DateEquals":{"aws:CurrentTime":"2026-*"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:CurrentTime", "2026-01-01T00:00:00Z")}, Indeterminate, []string{"D"}},
		{"Date ISO 8601 with an offset", "reference_policies_elements_condition_operators: Date (ISO 8601)",
			doc(cond(`{"DateEquals":{"aws:CurrentTime":"2026-01-01T01:00:00+01:00"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:CurrentTime", "1767225600")}, Allow, nil},
		{"Date epoch seconds, not milliseconds", "reference_policies_elements_condition_operators: Date epoch is in seconds (iam-simulate pitfall)",
			doc(cond(`{"DateLessThan":{"aws:CurrentTime":"1767225600"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:CurrentTime", "2026-06-01T00:00:00Z")}, DenyImplicit, nil},

		// IpAddress.
		{"IpAddress IPv6 CIDR excludes another range", "reference_policies_elements_condition_operators: IpAddress (IPv6)",
			doc(cond(`{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:SourceIp", "2001:db9::1")}, DenyImplicit, nil},
		{"IpAddress IPv4 CIDR does not match an IPv6 caller", "reference_policies_elements_condition_operators: IpAddress",
			doc(cond(`{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:SourceIp", "2001:db8::1")}, DenyImplicit, nil},
		{"IpAddress with a malformed CIDR in a deny is undecided", "fail closed",
			doc(allowAll, denyCond(`{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:SourceIp", "10.1.2.3")}, Indeterminate, []string{"D"}},

		// ARN operators.
		{"ArnLike * does not cross the account field", "reference_policies_elements_condition_operators: ARN components are checked separately",
			doc(cond(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:PrincipalArn", role)}, DenyImplicit, nil},
		{"ArnLike ? is one character within a field", "reference_policies_elements_condition_operators: ARN operators",
			doc(cond(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::11112222333?:role/FsxAdmin"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:PrincipalArn", role)}, Allow, nil},
		{"ArnEquals also takes wildcards", "reference_policies_elements_condition_operators: ArnEquals behaves like ArnLike",
			doc(cond(`{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:PrincipalArn", role)}, Allow, nil},
		{"ArnLike resource part keeps its colons", "reference_policies_elements_condition_operators: the sixth field is the resource",
			doc(cond(`{"ArnLike":{"aws:SourceArn":"arn:aws:logs:us-east-1:111122223333:log-group:*"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:SourceArn", "arn:aws:logs:us-east-1:111122223333:log-group:a:b")}, Allow, nil},
		{"ArnNotLike in a deny with a matching ARN does not deny", "reference_policies_elements_condition_operators: ARN operators",
			doc(allowAll, denyCond(`{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Fsx*"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:PrincipalArn", role)}, Allow, nil},

		// Policy variables.
		{"variable is literal with Version 2008-10-17", "reference_policies_variables: variables need Version 2012-10-17",
			`{"Version":"2008-10-17","Statement":[` + cond(`{"StringEquals":{"kms:CallerAccount":"${aws:PrincipalAccount}"}}`) + `]}`,
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:CallerAccount", acct, "aws:PrincipalAccount", acct)}, DenyImplicit, nil},
		{"literal variable text matches with Version 2008-10-17", "reference_policies_variables: without 2012-10-17 the text is literal",
			`{"Version":"2008-10-17","Statement":[` + cond(`{"StringEquals":{"kms:CallerAccount":"${aws:PrincipalAccount}"}}`) + `]}`,
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:CallerAccount", "${aws:PrincipalAccount}")}, Allow, nil},
		{"${?} is a literal ? in StringLike", "reference_policies_variables: ${?}",
			doc(cond(`{"StringLike":{"aws:Custom":"a${?}"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:Custom", "a?")}, Allow, nil},
		{"${?} does not match another character", "reference_policies_variables: ${?}",
			doc(cond(`{"StringLike":{"aws:Custom":"a${?}"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:Custom", "ab")}, DenyImplicit, nil},
		{"${$} is a literal $", "reference_policies_variables: ${$}",
			doc(cond(`{"StringEquals":{"aws:Custom":"a${$}b"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:Custom", "a$b")}, Allow, nil},
		{"${*} is a literal * in StringEquals", "reference_policies_variables: ${*}",
			doc(cond(`{"StringEquals":{"aws:Custom":"a${*}"}}`)), Request{Principal: role, Action: "kms:Decrypt", Context: ctx("aws:Custom", "a*")}, Allow, nil},
		{"variable in Resource", "reference_policies_variables: variables in Resource",
			doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:us-east-1:${aws:PrincipalAccount}:key/*"}`),
			Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: ctx("aws:PrincipalAccount", acct)}, Allow, nil},
		{"variable name is case-insensitive", "reference_policies_variables: keys are case-insensitive",
			doc(cond(`{"StringEquals":{"kms:CallerAccount":"${AWS:PRINCIPALACCOUNT}"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:CallerAccount", acct, "aws:PrincipalAccount", acct)}, Allow, nil},
		{"unknown variable in a deny is undecided", "fail closed: a variable whose value is unknown",
			doc(allowAll, denyCond(`{"StringNotEquals":{"kms:CallerAccount":"${aws:PrincipalOrgID}"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:CallerAccount", acct), Unknown: []string{"aws:PrincipalOrgID"}}, Indeterminate, []string{"D"}},

		// Fail closed and unknown keys.
		{"unknown key in an allow is Indeterminate, never Allow", "key-policy-evaluation §4: conditions on keys the monitor cannot know",
			doc(cond(`{"StringEquals":{"kms:EncryptionContext:Dept":"IT"}}`)), Request{Principal: role, Action: "kms:Decrypt", Unknown: []string{"kms:EncryptionContext:*"}}, Indeterminate, []string{"C"}},
		{"unknown set qualifier is an unknown operator", "fail closed: an operator the evaluator does not know",
			doc(allowAll, denyCond(`{"ForSomeValues:StringEquals":{"kms:ViaService":"x"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, Indeterminate, []string{"D"}},
		{"unknown IfExists operator is unknown", "fail closed: an operator the evaluator does not know",
			doc(allowAll, denyCond(`{"StringFancyIfExists":{"kms:ViaService":"x"}}`)), Request{Principal: role, Action: "kms:Decrypt"}, Indeterminate, []string{"D"}},
		{"a failing condition ends an undecidable deny", "reference_policies_elements_condition: conditions are ANDed",
			doc(allowAll, denyCond(`{"StringFancy":{"kms:ViaService":"x"},"StringEquals":{"kms:CallerAccount":"444455556666"}}`)),
			Request{Principal: role, Action: "kms:Decrypt", Context: ctx("kms:CallerAccount", acct)}, Allow, nil},
	}
	runEvalCases(t, tests)
}

// TestParseAudit checks document-level rules: size, duplicates, forms.
func TestParseAudit(t *testing.T) {
	stmt := `{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`
	// pad builds a valid document of exactly n bytes, padding a Sid with c.
	pad := func(n int, c string) string {
		head, tail := `{"Statement":[{"Sid":"`, `","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`
		fill := n - len(head) - len(tail)
		return head + strings.Repeat(c, fill/len(c)) + strings.Repeat("x", fill%len(c)) + tail
	}
	tests := []struct {
		name string
		rule string
		doc  string
		want []string // nil: must parse; else substrings of the error
	}{
		{"exactly 32768 bytes", "kms quotas / PutKeyPolicy: 32 KiB (32,768 bytes)", pad(MaxSize, "x"), nil},
		{"32769 bytes", "kms quotas / PutKeyPolicy: 32 KiB (32,768 bytes)", pad(MaxSize+1, "x"), []string{"32769 bytes", "limit is 32768"}},
		{"whitespace counts", "kms PutKeyPolicy: the limit is on the document's bytes (unlike IAM, KMS does not document ignoring whitespace)",
			pad(MaxSize-10, "x") + strings.Repeat(" ", 11), []string{"limit is 32768"}},
		{"Latin-1 characters count as their UTF-8 bytes", "kms PutKeyPolicy: 32768 bytes, not characters",
			pad(MaxSize+1, "é"), []string{"limit is 32768"}},
		{"Statement as a single object", "reference_policies_grammar: Statement is one statement or an array", `{"Statement":` + stmt + `}`, nil},
		{"Effect is case-sensitive", "reference_policies_elements_effect: Allow or Deny",
			`{"Statement":[{"Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`, []string{"Effect", `"allow"`}},
		{"duplicate Effect", "undocumented: AWS does not say which duplicate JSON key counts",
			`{"Statement":[{"Sid":"S","Effect":"Deny","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`,
			[]string{"statement #0", `duplicate key "Effect"`}},
		{"duplicate condition operator", "undocumented: a dropped Deny condition could hide a deny",
			`{"Statement":[` + stmt + `,{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"a"},"StringEquals":{"kms:CallerAccount":"b"}}}]}`,
			[]string{"statement #1", "Condition", `duplicate key "StringEquals"`}},
		{"duplicate condition key", "undocumented: AWS does not say which duplicate JSON key counts",
			`{"Statement":{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"a","kms:ViaService":"b"}}}}`,
			[]string{"statement #0", "Condition.StringEquals", `duplicate key "kms:ViaService"`}},
		{"duplicate top-level key", "undocumented: AWS does not say which duplicate JSON key counts",
			`{"Version":"2012-10-17","Version":"2008-10-17","Statement":[` + stmt + `]}`, []string{`duplicate key "Version"`}},
		{"duplicate key inside Principal", "undocumented: AWS does not say which duplicate JSON key counts",
			`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333","AWS":"*"},"Action":"kms:*","Resource":"*"}]}`,
			[]string{"statement #0", "Principal", `duplicate key "AWS"`}},
		{"condition keys differing only in case", "reference_policies_elements_condition: keys are case-insensitive; access-analyzer flags such duplicates",
			`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"a","KMS:VIASERVICE":"b"}}}]}`,
			[]string{"statement #0", "differ only in case"}},
		{"operators differing only in case", "operators compare case-insensitively; how duplicates combine is undocumented",
			`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"a":"a"},"stringequals":{"b":"b"}}}]}`,
			[]string{"statement #0", "differ only in case"}},
		{"same key under two operators is fine", "reference_policies_elements_condition: operators are ANDed",
			`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"a":"a"},"StringLike":{"a":"b*"}}}]}`, nil},
		{"duplicate Sids are accepted", "KMS does not document Sid uniqueness for key policies (IAM requires it for IAM policies)",
			`{"Statement":[{"Sid":"S",` + stmt[1:] + `,{"Sid":"S",` + stmt[1:] + `]}`, nil},
		{"escaped NUL in a condition value", "kms PutKeyPolicy: printable ASCII and Latin-1, tab, LF, CR only (applied to escaped characters too)",
			`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringLike":{"aws:Custom":"a\u0000*"}}}]}`,
			[]string{"statement #0", "U+0000"}},
		{"escaped control character in an action", "kms PutKeyPolicy: character set",
			`{"Statement":[{"Effect":"Deny","Principal":"*","Action":["kms:*","kms:\u0001"],"Resource":"*"}]}`, []string{"Action", "element 1", "U+0001"}},
		{"escaped Latin-1 character is allowed", "kms PutKeyPolicy: Latin-1 supplement is allowed",
			`{"Statement":[{"Sid":"caf\u00e9","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:Custom":"caf\u00e9"}}}]}`, nil},
		{"same key in two statements is fine", "JSON: keys repeat only within one object",
			`{"Statement":[` + stmt + `,` + stmt + `]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Parse: %v (rule: %s)", err, tt.rule)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded, want an error (rule: %s)", tt.rule)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q (rule: %s)", err, w, tt.rule)
				}
			}
		})
	}
}

// TestCheckFSxAudit runs CheckFSx on small inline policies that try to break
// the FSx request context.
func TestCheckFSxAudit(t *testing.T) {
	fsxAllow := func(actions, condition string) string {
		return `{"Sid":"ViaFSx","Effect":"Allow","Principal":{"AWS":"*"},"Action":` + actions + `,"Resource":"*","Condition":` + condition + `}`
	}
	all := `["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"]`
	via := `{"StringEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com","kms:CallerAccount":"111122223333"}}`
	type perm struct {
		action string
		want   Decision
	}
	tests := []struct {
		name   string
		rule   string
		policy string
		params FSxParams
		usable bool
		perms  []perm
	}{
		{"wildcard actions cover what FSx calls", "reference_policies_elements_action; FSXKMS.md: GenerateDataKey* and ReEncrypt*",
			doc(fsxAllow(all, via)), FSxParams{Account: acct, Region: "us-east-1"}, true,
			[]perm{{"kms:GenerateDataKeyWithoutPlaintext", Allow}, {"kms:ReEncryptFrom", Allow}, {"kms:ReEncryptTo", Allow}, {"kms:ListAliases", DelegatedToIAM}}},
		{"GenerateDataKey alone does not cover WithoutPlaintext", "reference_policies_elements_action: names are matched whole",
			doc(fsxAllow(`["kms:Decrypt","kms:GenerateDataKey","kms:CreateGrant","kms:DescribeKey"]`, via)), FSxParams{Account: acct, Region: "us-east-1"}, false,
			[]perm{{"kms:GenerateDataKeyWithoutPlaintext", DenyImplicit}}},
		{"ListAliases stays with IAM under a deny of everything", "alias-access: kms:ListAliases is IAM-only",
			doc(fsxAllow(all, via), `{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}`), FSxParams{Account: acct, Region: "us-east-1"}, false,
			[]perm{{"kms:Decrypt", DenyExplicit}, {"kms:ListAliases", DelegatedToIAM}}},
		{"CallerAccount by policy variable", "reference_policies_variables: ${aws:PrincipalAccount}",
			doc(fsxAllow(all, `{"StringEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com","kms:CallerAccount":"${aws:PrincipalAccount}"}}`)),
			FSxParams{Account: acct, Region: "us-east-1"}, true, []perm{{"kms:Decrypt", Allow}}},
		{"ViaService by StringLike on every region", "conditions-kms: kms:ViaService with StringLike",
			doc(fsxAllow(all, `{"StringLike":{"kms:ViaService":"fsx.*.amazonaws.com"},"StringEquals":{"kms:CallerAccount":"111122223333"}}`)),
			FSxParams{Account: acct, Region: "eu-west-3"}, true, []perm{{"kms:Decrypt", Allow}}},
		{"ViaService naming another service", "conditions-kms: kms:ViaService",
			doc(fsxAllow(all, `{"StringEquals":{"kms:ViaService":"ec2.us-east-1.amazonaws.com"}}`)),
			FSxParams{Account: acct, Region: "us-east-1"}, false, []perm{{"kms:Decrypt", DenyImplicit}}},
		{"CreateGrant needs GrantIsForAWSResource true, which FSx sends", "conditions-kms: kms:GrantIsForAWSResource",
			doc(fsxAllow(all, via), `{"Sid":"OnlyForResources","Effect":"Deny","Principal":"*","Action":"kms:CreateGrant","Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"false"}}}`),
			FSxParams{Account: acct, Region: "us-east-1"}, true, []perm{{"kms:CreateGrant", Allow}}},
		{"account statement limited to FSx delegates", "key-policy-default: a conditional account statement delegates when its conditions hold",
			doc(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com"}}}`),
			FSxParams{Account: acct, Region: "us-east-1"}, true, []perm{{"kms:Decrypt", DelegatedToIAM}}},
		{"deny on aws:PrincipalArn of a session is undecidable", "the session ARN omits the role's path, which aws:PrincipalArn carries; fail closed",
			doc(fsxAllow(all, via), `{"Sid":"NoOps","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/ops/*"}}}`),
			FSxParams{Account: acct, Region: "us-east-1", Principals: []string{session}}, false, []perm{{"kms:Decrypt", Indeterminate}}},
		{"deny on aws:PrincipalArn of a named role is decided", "aws:PrincipalArn of a role is its ARN",
			doc(fsxAllow(all, via), `{"Sid":"NoOps","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/ops/*"}}}`),
			FSxParams{Account: acct, Region: "us-east-1", Principals: []string{role}}, true, []perm{{"kms:Decrypt", Allow}}},
		{"allow on encryption context is undecidable", "key-policy-evaluation §4: kms:EncryptionContext:* of FSx's requests is unknown",
			doc(fsxAllow(all, `{"StringEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com","kms:EncryptionContext:aws:fsx:fs-id":"fs-1"}}`)),
			FSxParams{Account: acct, Region: "us-east-1"}, false, []perm{{"kms:Decrypt", Indeterminate}}},
		{"deny of other accounts does not touch the owner", "conditions-kms: kms:CallerAccount; negated operators",
			doc(fsxAllow(all, via), `{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"kms:CallerAccount":"111122223333"}}}`),
			FSxParams{Account: acct, Region: "us-east-1"}, true, []perm{{"kms:Decrypt", Allow}, {"kms:CreateGrant", Allow}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.policy))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			res := CheckFSx(p, tt.params)
			if res.Usable != tt.usable {
				t.Errorf("Usable = %v, want %v (rule: %s)", res.Usable, tt.usable, tt.rule)
			}
			for _, w := range tt.perms {
				for _, got := range res.Permissions {
					if got.Action == w.action && got.Decision != w.want {
						t.Errorf("%s = %s, want %s (rule: %s)\nreason: %s", w.action, got.Decision, w.want, tt.rule, got.Reason)
					}
				}
			}
		})
	}
}
