package policy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// hostilePolicy builds a policy just under MaxSize that names as many roles
// as fit, each in its own Allow statement built by stmt.
func hostilePolicy(stmt func(i int) string) []byte {
	var stmts []string
	size := len(`{"Version":"2012-10-17","Statement":[]}`)
	for i := 0; ; i++ {
		s := stmt(i)
		if size+len(s)+1 > MaxSize {
			break
		}
		size += len(s) + 1
		stmts = append(stmts, s)
	}
	return []byte(`{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`)
}

// hostilePolicies are the red team's 32 KB policies (issue 13): roles each
// allowed only via S3, and roles on a Resource that never matches.
var hostilePolicies = []struct {
	name string
	doc  []byte
}{
	{"roles-via-s3", hostilePolicy(func(i int) string {
		return fmt.Sprintf(`{"Sid":"S3Only%d","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/AppRole%d"},"Action":["kms:Decrypt","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],"Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}}`, i, i)
	})},
	{"roles-wrong-resource", hostilePolicy(func(i int) string {
		return fmt.Sprintf(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R%d"},"Action":"kms:*","Resource":"arn:aws:s3:::b"}`, i)
	})},
}

// BenchmarkCheckFSxHostile runs the full check on the hostile policies and
// reports the size of its JSON answer (output-bytes) and the roles named.
func BenchmarkCheckFSxHostile(b *testing.B) {
	for _, hp := range hostilePolicies {
		p, err := Parse(hp.doc)
		if err != nil {
			b.Fatal(err)
		}
		params := FSxParams{Account: acct, Region: "us-east-1"}
		b.Run(hp.name, func(b *testing.B) {
			b.ReportAllocs()
			var res FSxResult
			for b.Loop() {
				res = CheckFSx(p, params)
			}
			out, _ := json.Marshal(res)
			b.ReportMetric(float64(len(out)), "output-bytes")
			b.ReportMetric(float64(len(p.statements)), "statements")
		})
	}
}

// BenchmarkCheckFSx32KB runs the full check on the 32 KB policy of
// BenchmarkEvaluate32KB.
func BenchmarkCheckFSx32KB(b *testing.B) {
	p, err := Parse(largePolicy())
	if err != nil {
		b.Fatal(err)
	}
	params := FSxParams{Account: acct, Region: "us-east-1"}
	b.ReportAllocs()
	for b.Loop() {
		CheckFSx(p, params)
	}
}

// deepPolicy nests objects as deep as MaxSize allows (under encoding/json's
// depth limit of 10,000) inside a condition value: the parser's checks must
// stay linear in the document.
func deepPolicy() []byte {
	head := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"k":`
	tail := `}}}]}`
	depth := min((MaxSize-len(head)-len(tail)-2)/len(`{"a":}`), 9000)
	return []byte(head + strings.Repeat(`{"a":`, depth) + `""` + strings.Repeat("}", depth) + tail)
}

// BenchmarkParseDeep parses (and rejects) the deeply nested policy.
func BenchmarkParseDeep(b *testing.B) {
	doc := deepPolicy()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc); err == nil {
			b.Fatal("nested objects accepted as condition values")
		}
	}
}

// TestHostilePoliciesBounded checks the answer on the red team's 32 KB
// policies stays small (at most 64 KB of JSON) and still says why.
func TestHostilePoliciesBounded(t *testing.T) {
	for _, hp := range hostilePolicies {
		t.Run(hp.name, func(t *testing.T) {
			p, err := Parse(hp.doc)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(p.namedPrincipals(acct)); n < 100 {
				t.Fatalf("fixture names only %d roles", n)
			}
			res := CheckFSx(p, FSxParams{Account: acct, Region: "us-east-1"})
			out, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) > 64<<10 {
				t.Errorf("answer is %d bytes; want at most 64 KB", len(out))
			}
			if res.Verdict != VerdictBroken || !strings.Contains(res.Summary, "more") {
				t.Errorf("verdict %s, summary %q", res.Verdict, res.Summary)
			}
		})
	}
}
