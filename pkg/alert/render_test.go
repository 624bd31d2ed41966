package alert

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/internal/testutil"
)

// loadInput reads testdata/<name>.input.json, rejecting unknown fields.
func loadInput(t *testing.T, path string) Alert {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var a Alert
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return a
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return append(out.Bytes(), '\n')
}

// TestGolden renders every testdata/*.input.json alert in the three forms.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.input.json")
	if err != nil || len(inputs) < 5 {
		t.Fatalf("want at least 5 golden inputs, got %d (%v)", len(inputs), err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.json")
		t.Run(name, func(t *testing.T) {
			a := loadInput(t, in)
			base := strings.TrimSuffix(in, ".input.json")

			machine, err := a.Machine()
			if err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsAny(machine, "\n") {
				t.Errorf("machine form spans lines")
			}
			testutil.Golden(t, base+".machine.json", indent(t, machine))

			subject, body := a.Email()
			checkSubject(t, subject)
			checkEmail(t, body)
			testutil.Golden(t, base+".email.txt", []byte("Subject: "+subject+"\n\n"+body))

			chat, err := a.Chat()
			if err != nil {
				t.Fatal(err)
			}
			checkChat(t, chat, a)
			testutil.Golden(t, base+".chat.json", indent(t, chat))
		})
	}
}

func checkSubject(t *testing.T, s string) {
	t.Helper()
	if len(s) >= 100 || s == "" {
		t.Errorf("subject has %d bytes, want 1..99: %q", len(s), s)
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			t.Errorf("subject has %U, want printable ASCII: %q", r, s)
		}
	}
}

// checkEmail wants every line within 80 columns unless it is one unbreakable
// word (a URL or ARN, also in a quoted block) or a shell-continued command
// part.
func checkEmail(t *testing.T, body string) {
	t.Helper()
	for i, l := range strings.Split(body, "\n") {
		if len([]rune(l)) <= 80 {
			continue
		}
		f := strings.Fields(l)
		if len(f) > 1 && f[0] == "|" {
			f = f[1:] // a quoted block
		}
		if len(f) == 1 || (len(f) == 2 && strings.HasPrefix(f[0], "--")) ||
			(len(f) == 3 && f[2] == "\\" && strings.HasPrefix(f[0], "--")) {
			continue
		}
		t.Errorf("email line %d has %d columns: %q", i+1, len([]rune(l)), l)
	}
}

func checkChat(t *testing.T, b []byte, a Alert) {
	t.Helper()
	var n chatNotification
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	if n.Version != "1.0" || n.Source != "custom" || n.Content.TextType != "client-markdown" {
		t.Errorf("chat version/source/textType = %q/%q/%q", n.Version, n.Source, n.Content.TextType)
	}
	if want := "fsxkms:" + a.Key.ARN; n.Metadata.ThreadID != want {
		t.Errorf("threadId = %q, want %q", n.Metadata.ThreadID, want)
	}
	if n.Content.Title == "" || n.Content.Description == "" {
		t.Errorf("chat title or description empty")
	}
}

func TestThreadPerKey(t *testing.T) {
	a := loadInput(t, "testdata/key-disabled.input.json")
	b := loadInput(t, "testdata/restored.input.json")
	c := loadInput(t, "testdata/key-deleted.input.json")
	id := func(x Alert) string { return x.filled().chat().Metadata.ThreadID }
	if id(a) != id(b) {
		t.Errorf("same key, different threads: %q, %q", id(a), id(b))
	}
	if id(a) == id(c) {
		t.Errorf("different keys, same thread %q", id(a))
	}
}

func TestDerived(t *testing.T) {
	a := Alert{
		Key:       Key{ARN: "arn:aws:kms:ap-south-1:444455556666:key/abcd"},
		Resources: []Resource{{Type: "file-system", ID: "fs-1"}},
		Findings: []Finding{
			{Code: "OPTIONAL_PERMISSION_DENIED", Severity: Warning},
			{Code: "KEY_DISABLED", Severity: Critical},
			{Code: "GRANT_REVOKED", Severity: Critical},
		},
	}
	f := a.filled()
	for _, c := range []struct{ name, got, want string }{
		{"schema", f.Schema, Schema},
		{"severity", string(f.Severity), "CRITICAL"},
		{"status", string(f.Status), "UNKNOWN"},
		{"account", f.Account, "444455556666"},
		{"region", f.Region, "ap-south-1"},
		{"code", f.Code(), "KEY_DISABLED"},
		{"key id", f.KeyID(), "abcd"},
		{"title", f.Title, "KMS key abcd was disabled; 1 FSx resource at risk"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	m, err := Alert{}.Machine()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(m, []byte(`"resources":[],"findings":[]`)) || !bytes.Contains(m, []byte(`"aliases":[]`)) {
		t.Errorf("empty lists should encode as []: %s", m)
	}
	if bytes.Contains(m, []byte("eventTime")) {
		t.Errorf("zero eventTime should be omitted: %s", m)
	}
}

func TestSeverity(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Severity
		ok   bool
	}{
		{"critical", Critical, true}, {" Warning ", Warning, true}, {"INFO", Info, true},
		{"", "", false}, {"HIGH", "", false}, {"warn", "", false},
	} {
		got, err := ParseSeverity(c.in)
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("ParseSeverity(%q) = %q, %v; want %q, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	order := []Severity{Info, Warning, Critical}
	for i, s := range order {
		for j, min := range order {
			if got := s.AtLeast(min); got != (i >= j) {
				t.Errorf("%s.AtLeast(%s) = %v", s, min, got)
			}
		}
	}
	if Severity("HIGH").AtLeast(Info) {
		t.Errorf("unknown severity ranks at least INFO")
	}
}

func TestValidate(t *testing.T) {
	bad := Alert{Schema: "v0", Severity: "HIGH", Status: "BROKEN", Trigger: Trigger{Source: "sqs"},
		Findings: []Finding{{Code: "X", Severity: "LOW"}}}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad alert")
	}
	for _, want := range []string{`schema "v0"`, `severity "HIGH"`, `status "BROKEN"`, `trigger.source "sqs"`, `findings[0] (X): severity "LOW"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := bad.Machine(); err == nil {
		t.Error("Machine accepted a bad alert")
	}
	if _, err := bad.Chat(); err == nil {
		t.Error("Chat accepted a bad alert")
	}
	if _, err := bad.Message(); err == nil {
		t.Error("Message accepted a bad alert")
	}
}

func TestRemedyWrap(t *testing.T) {
	got := remedy(lines(spans("aws kms put-key-policy --key-id arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab --policy 'a b --c' --region us-east-1", nil)), "  ")
	want := "  aws kms put-key-policy \\\n" +
		"      --key-id arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab \\\n" +
		"      --policy 'a b --c' --region us-east-1\n"
	if got != want {
		t.Errorf("remedy:\n%s\nwant:\n%s", got, want)
	}
}
