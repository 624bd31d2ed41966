package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	big := `{"Version":"2012-10-17","Statement":[{"Sid":"` + strings.Repeat("x", MaxSize) + `"}]}`
	tests := []struct {
		name string
		doc  string
		want []string // substrings the error must contain
	}{
		{"not JSON", `{"Statement": [}`, []string{"invalid JSON", "line 1"}},
		{"not an object", `[]`, []string{"want"}},
		{"over 32 KB", big, []string{"limit is 32768"}},
		{"no Statement", `{"Version":"2012-10-17"}`, []string{"Statement", "missing"}},
		{"empty Statement", `{"Statement":[]}`, []string{"Statement", "empty"}},
		{"bad Version", `{"Version":"2020-01-01","Statement":[]}`, []string{"Version", "2020-01-01"}},
		{"wrong-case element", `{"statement":[]}`, []string{`"statement"`, `did you mean "Statement"`}},
		{"statement not an object", `{"Statement":["x"]}`, []string{"statement #0", "want an object"}},
		{"bad Effect", `{"Statement":[{"Sid":"S1","Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}]}`,
			[]string{"statement #0", `"S1"`, "Effect"}},
		{"Action is a number", `{"Statement":[{"Sid":"S","Effect":"Allow","Principal":"*","Action":5,"Resource":"*"}]}`,
			[]string{"statement #0", "Action", "got a number"}},
		{"Action array holds a number", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":["kms:Decrypt",5],"Resource":"*"}]}`,
			[]string{"Action", "element 1"}},
		{"both Action and NotAction", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a","NotAction":"b","Resource":"*"}]}`,
			[]string{"NotAction", "both"}},
		{"no Principal", `{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`, []string{"Principal", "missing"}},
		{"string principal other than *", `{"Statement":[{"Effect":"Allow","Principal":"111122223333","Action":"kms:*","Resource":"*"}]}`,
			[]string{"Principal", `{"AWS": "111122223333"}`}},
		{"unknown principal type", `{"Statement":[{"Effect":"Allow","Principal":{"IAM":"x"},"Action":"kms:*","Resource":"*"}]}`,
			[]string{"Principal", `"IAM"`}},
		{"condition value is an object", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":{}}}}]}`,
			[]string{"statement #0", "Condition.StringEquals.kms:ViaService", "an object"}},
		{"condition is an array", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":[]}]}`,
			[]string{"Condition", "an array"}},
		{"Null with IfExists", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NullIfExists":{"k":"true"}}}]}`,
			[]string{"Null operator cannot take IfExists"}},
		{"second statement at fault", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},{"Sid":"Bad","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":true}]}`,
			[]string{"statement #1", `"Bad"`, "Resource"}},
		{"control character", "{\"Statement\":[{\"Sid\":\"a\x01\"}]}", []string{"U+0001"}},
		{"unknown statement element", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Conditions":{}}]}`,
			[]string{"statement #0", `"Conditions"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded (%d statements), want an error", len(p.statements))
			}
			if _, ok := errors.AsType[*ParseError](err); !ok {
				t.Errorf("error %T is not a *ParseError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseForms(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":{"Sid":"Only one","Effect":"Allow",
		"Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:role/R"],"Service":"fsx.amazonaws.com","Federated":"cognito-identity.amazonaws.com","CanonicalUser":"abc"},
		"Action":"kms:*","NotResource":["arn:aws:s3:::*"],
		"Condition":{"Bool":{"kms:GrantIsForAWSResource":true},"NumericLessThan":{"n":[1,2.5]},"ForAnyValue:StringLikeIfExists":{"k":"v*"}}}}`
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Statements()) != 1 {
		t.Fatalf("got %d statements, want 1 (a single object is one statement)", len(p.Statements()))
	}
	s := p.Statements()[0]
	if s.Name() != "Only one" || s.Effect() != EffectAllow || s.notPrincipal || len(s.principal.aws) != 2 || s.principal.service[0] != "fsx.amazonaws.com" ||
		s.principal.federated[0] != "cognito-identity.amazonaws.com" || s.principal.canonicalUser[0] != "abc" ||
		!s.hasResource || !s.notResource || s.resources[0] != "arn:aws:s3:::*" {
		t.Errorf("unexpected statement: %+v", s)
	}
	want := map[string]string{"kms:GrantIsForAWSResource": "true", "n": "1,2.5", "k": "v*"}
	for _, c := range s.conditions {
		if got := strings.Join(c.values, ","); got != want[c.key] {
			t.Errorf("condition %s %s = %q, want %q", c.operator, c.key, got, want[c.key])
		}
	}
	if c := s.conditions[1]; c.base != opStringLike || c.set != setAnyValue || !c.ifExists {
		t.Errorf("ForAnyValue:StringLikeIfExists parsed as %+v", c)
	}
}

func TestStatementName(t *testing.T) {
	p, err := Parse([]byte(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a","Resource":"*"},{"Sid":"Named statement","Effect":"Allow","Principal":"*","Action":"a","Resource":"*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Statements()[0].Name(); got != "#0" {
		t.Errorf("Name() = %q, want #0", got)
	}
	if got := p.Statements()[1].Name(); got != "Named statement" {
		t.Errorf("Name() = %q, want the Sid (Sids may contain spaces)", got)
	}
}
