package policy

import (
	"fmt"
	"strings"
	"testing"
)

// fsxRequest is the FSx request for kms:Decrypt by any principal of acct.
func fsxRequest() Request {
	return newFSxModel(&Policy{}, FSxParams{Account: acct, Region: "us-east-1"}).request(acct, "kms:Decrypt", 0)
}

// BenchmarkEvaluateAWSFSx evaluates one permission against the aws/fsx policy.
func BenchmarkEvaluateAWSFSx(b *testing.B) {
	p := mustParseFile(b, "aws-fsx.json")
	r := fsxRequest()
	b.ReportAllocs()
	for b.Loop() {
		if p.Evaluate(r).Decision != Allow {
			b.Fatal("not allowed")
		}
	}
}

// BenchmarkCheckFSx runs the full check (seven permissions plus ListAliases)
// on the console default policy, which names two roles besides the account.
func BenchmarkCheckFSx(b *testing.B) {
	for _, name := range []string{"aws-fsx.json", "console-default.json"} {
		p := mustParseFile(b, name)
		params := FSxParams{Account: acct, Region: "us-east-1"}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !CheckFSx(p, params).Usable {
					b.Fatal("not usable")
				}
			}
		})
	}
}

// largePolicy builds a policy just under MaxSize: many conditional Allow
// statements on other actions, and the aws/fsx statement last.
func largePolicy() []byte {
	var stmts []string
	last := `{"Sid":"FSx","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Decrypt","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],"Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"fsx.us-east-1.amazonaws.com","kms:CallerAccount":"111122223333"}}}`
	size := len(`{"Version":"2012-10-17","Statement":[]}`) + len(last)
	for i := 0; ; i++ {
		s := fmt.Sprintf(`{"Sid":"S%d","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App%d"},"Action":["kms:Encrypt","kms:GenerateDataKey"],"Resource":"*","Condition":{"StringLike":{"kms:EncryptionContext:app":"app-%d-*"},"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}}`, i, i, i)
		if size+len(s)+1 > MaxSize {
			break
		}
		size += len(s) + 1
		stmts = append(stmts, s)
	}
	stmts = append(stmts, last)
	return []byte(`{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`)
}

// BenchmarkEvaluate32KB evaluates kms:Decrypt via FSx against a 32 KB policy.
func BenchmarkEvaluate32KB(b *testing.B) {
	doc := largePolicy()
	p, err := Parse(doc)
	if err != nil {
		b.Fatal(err)
	}
	r := fsxRequest()
	b.ReportAllocs()
	for b.Loop() {
		if p.Evaluate(r).Decision != Allow {
			b.Fatal("not allowed")
		}
	}
	b.ReportMetric(float64(len(doc)), "policy-bytes")
	b.ReportMetric(float64(len(p.statements)), "statements")
}

// BenchmarkParse32KB parses the 32 KB policy.
func BenchmarkParse32KB(b *testing.B) {
	doc := largePolicy()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}
