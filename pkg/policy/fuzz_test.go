package policy

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseEvaluate parses arbitrary documents and evaluates every FSx
// permission against those that parse: neither may panic, and every result
// must carry a known decision, a reason and non-nil statements.
func FuzzParseEvaluate(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		doc, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc, "kms:Decrypt", session)
	}
	f.Fuzz(func(t *testing.T, doc []byte, action, principal string) {
		p, err := Parse(doc)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		r := Request{Principal: principal, Action: action,
			Context: map[string][]string{"kms:ViaService": {viaFSx}, "kms:GrantOperations": {"Decrypt", "Encrypt"}, "aws:SourceIp": {"203.0.113.1"}}}
		for _, res := range []Result{p.Evaluate(r), p.Evaluate(Request{Principal: acct, Action: action, Unknown: []string{"*"}})} {
			switch res.Decision {
			case Allow, DenyExplicit, DenyImplicit, DelegatedToIAM, Indeterminate:
			default:
				t.Fatalf("unknown decision %q", res.Decision)
			}
			if res.Reason == "" || res.Statements == nil {
				t.Fatalf("incomplete result %+v", res)
			}
		}
		CheckFSx(p, FSxParams{Account: acct, Region: "us-east-1", Principals: []string{principal}})
	})
}
