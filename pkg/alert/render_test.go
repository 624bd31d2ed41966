package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/internal/testutil"
	"github.com/fsxkms/fsxkms/pkg/finding"
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

// goldenAlerts are the alerts of the golden tests: every
// testdata/*.input.json, and those made here (many resources, an alert
// shortened for SNS), by name.
func goldenAlerts(t *testing.T) map[string]Alert {
	t.Helper()
	inputs, err := filepath.Glob("testdata/*.input.json")
	if err != nil || len(inputs) < 5 {
		t.Fatalf("want at least 5 golden inputs, got %d (%v)", len(inputs), err)
	}
	as := map[string]Alert{}
	for _, in := range inputs {
		as[strings.TrimSuffix(filepath.Base(in), ".input.json")] = loadInput(t, in)
	}
	as["many-resources"] = manyResources(t, 2, 398)
	as["shortened"] = shortened(t)
	return as
}

// made are the golden alerts made by code, not read from an input file:
// their machine form is not kept as a golden (it lists every resource).
var made = map[string]bool{"many-resources": true, "shortened": true}

// manyResources is the disabled key of testdata/key-disabled.input.json
// with fileSystems file systems and backups backups on it, as AWS Backup
// keeps hundreds.
func manyResources(t *testing.T, fileSystems, backups int) Alert {
	t.Helper()
	a := loadInput(t, "testdata/key-disabled.input.json")
	a.Resources = nil
	for i := range fileSystems + backups {
		typ, id, fst := "file-system", fmt.Sprintf("fs-%017x", 0xa0000+i), "WINDOWS"
		if i >= fileSystems {
			typ, id = "backup", fmt.Sprintf("backup-%017x", 0xb0000+i)
		}
		a.Resources = append(a.Resources, Resource{Type: typ, ID: id, ARN: "arn:aws:fsx:us-east-1:111122223333:" + typ + "/" + id,
			FileSystemType: fst, Lifecycle: "AVAILABLE"})
	}
	f := &a.Findings[0]
	was := "3 FSx resources (2 file systems, 1 backup)"
	if !strings.Contains(f.Message, was) {
		t.Fatalf("key-disabled's message does not say %q: %s", was, f.Message)
	}
	now := fmt.Sprintf("%d FSx resources (%d file systems, %d backups)", fileSystems+backups, fileSystems, backups)
	if fileSystems == 0 {
		now = fmt.Sprintf("%d FSx backups", backups)
	}
	f.Message = strings.Replace(f.Message, was, now, 1)
	return a
}

// shortened is an alert on 6000 resources as SNS subscribers get it: cut
// to fit the message limit, with ALERT_TRUNCATED (the machine form of the
// message, decoded).
func shortened(t *testing.T) Alert {
	t.Helper()
	m, err := manyResources(t, 0, 6000).Message()
	if err != nil {
		t.Fatal(err)
	}
	machine, email, _ := parts(t, m)
	if !m.Shortened {
		t.Fatal("6000 resources fit one SNS message: no longer a shortened alert")
	}
	if _, body := machine.Email(); body != email {
		t.Fatal("the email of the decoded machine form is not the message's email")
	}
	return machine
}

// TestGolden renders every golden alert in the three forms.
func TestGolden(t *testing.T) {
	for name, a := range goldenAlerts(t) {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join("testdata", name)
			machine, err := a.Machine()
			if err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsAny(machine, "\n") {
				t.Errorf("machine form spans lines")
			}
			if !made[name] {
				testutil.Golden(t, base+".machine.json", indent(t, machine))
			}

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

// TestGoldenEveryCode: the goldens show a finding of every code.
func TestGoldenEveryCode(t *testing.T) {
	seen := map[finding.Code][]string{}
	for name, a := range goldenAlerts(t) {
		for _, f := range a.Findings {
			seen[f.Code] = append(seen[f.Code], name)
		}
	}
	for _, c := range finding.Codes() {
		if len(seen[c]) == 0 {
			t.Errorf("no golden alert has a %s finding", c)
		}
	}
}

// TestManyResourcesEmail: on a key with 400 FSx resources the email starts
// with the findings and their fix, names ten resources (each once) and
// counts the others, and stays short; the machine form lists them all.
func TestManyResourcesEmail(t *testing.T) {
	a := manyResources(t, 2, 398)
	_, body := a.Email()
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if len(lines) > 150 {
		t.Errorf("email has %d lines, want at most 150", len(lines))
	}
	findings, fix, resources := strings.Index(body, "\nFindings (1)\n"), strings.Index(body, "   Fix:\n"), strings.Index(body, "\nFSx resources at risk (400)\n")
	if findings < 0 || fix < findings || resources < fix {
		t.Errorf("findings at byte %d, Fix at %d, resources at %d: want them in that order", findings, fix, resources)
	}
	listed := 0
	for _, r := range a.Resources {
		switch n := strings.Count(body, r.ID); {
		case n > 1:
			t.Errorf("%s appears %d times", r.ID, n)
		case n == 1:
			listed++
		}
	}
	if listed != maxEmailResources {
		t.Errorf("%d resources named, want %d", listed, maxEmailResources)
	}
	for _, want := range []string{"  - and 390 backups\n", "aws fsx describe-backups", "#backups\n", "aws fsx describe-file-systems",
		"lists all 400."} {
		if !strings.Contains(body, want) {
			t.Errorf("email lacks %q", want)
		}
	}
	m, err := a.Machine()
	if err != nil {
		t.Fatal(err)
	}
	var back Alert
	if err := json.Unmarshal(m, &back); err != nil || len(back.Resources) != 400 {
		t.Errorf("machine form has %d resources (%v), want 400", len(back.Resources), err)
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

// checkEmail wants every line of an email body within 80 columns but for
// what cannot be broken: one word longer than a line (a URL, an ARN, also
// in a quoted block) and, in a command, one "--option value" (a JMESPath
// query, a key ARN), with its continuation.
//
// It also wants every command broken between options: a continued line
// starts with an option, never with the value of the option before it.
func checkEmail(t *testing.T, body string) {
	t.Helper()
	ls := strings.Split(body, "\n")
	for i, l := range ls {
		if n := len([]rune(l)); n > 80 && !unbreakable(l) {
			t.Errorf("email line %d has %d columns: %q", i+1, n, l)
		}
		if i == 0 || !strings.HasSuffix(ls[i-1], ` \`) {
			continue
		}
		prev := shellWords(strings.TrimSpace(strings.TrimSuffix(ls[i-1], ` \`)))
		if w := shellWords(strings.TrimSpace(l)); len(w) > 0 && !strings.HasPrefix(w[0], "--") &&
			!(len(prev) > 2 && strings.HasPrefix(prev[0], "--")) { // the values of a long option go on
			t.Errorf("email line %d continues a command with %q, not an option", i+1, w[0])
		}
		if len(prev) > 0 && strings.HasPrefix(prev[len(prev)-1], "--") {
			t.Errorf("email line %d: option %s apart from its value", i, prev[len(prev)-1])
		}
	}
}

// unbreakable reports whether a line too long for 80 columns holds one
// thing that cannot be broken: a word (a URL, an ARN), in a quoted block or
// not, or a command line with one option and its value.
func unbreakable(l string) bool {
	f := strings.Fields(l)
	if len(f) > 1 && f[0] == "|" {
		f = f[1:] // a quoted block
	}
	if len(f) == 1 {
		return true
	}
	words := shellWords(strings.TrimSuffix(strings.TrimSpace(l), ` \`))
	return len(words) == 2 && strings.HasPrefix(words[0], "--") && strings.HasPrefix(l, "        ")
}

// TestGoldenEmailWidth: every golden email's body keeps to 80 columns
// outside what cannot be broken (checkEmail), including goldens no input
// file makes.
func TestGoldenEmailWidth(t *testing.T) {
	emails, err := filepath.Glob("testdata/*.email.txt")
	if err != nil || len(emails) < 10 {
		t.Fatalf("want at least 10 golden emails, got %d (%v)", len(emails), err)
	}
	for _, path := range emails {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		subject, body, ok := strings.Cut(string(b), "\n\n")
		if !ok || !strings.HasPrefix(subject, "Subject: ") {
			t.Fatalf("%s: no subject line", path)
		}
		t.Run(filepath.Base(path), func(t *testing.T) { checkEmail(t, body) })
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
	want := "fsxkms:" + a.Key.ARN
	if a.Key.ARN == "" {
		want = "fsxkms:(unknown key)" // a sweep summary: about no key
	}
	if n.Metadata.ThreadID != want {
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

// TestRemedyPolicyCheck: the fsxkms policy check line of a fix is broken
// between options, its --region with its value.
func TestRemedyPolicyCheck(t *testing.T) {
	key := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	got := remedy(lines(spans("fsxkms policy check --policy policy.json --account 111122223333 --region us-east-1 --key-arn "+key, []string{key})), "     ")
	want := "     fsxkms policy check \\\n" +
		"         --policy policy.json --account 111122223333 --region us-east-1 \\\n" +
		"         --key-arn " + key + "\n"
	if got != want {
		t.Errorf("remedy:\n%s\nwant:\n%s", got, want)
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

// TestChatAtRisk: the chat card says "FSx at risk" only when something is:
// not for the record (INFO: restored, resolved) nor after a refused
// attempt (the key is compliant).
func TestChatAtRisk(t *testing.T) {
	for name, want := range map[string]bool{"key-disabled": true, "policy-implicit": true, "monitor-read-failed": true,
		"restored": false, "resolved": false, "attempt-denied": false} {
		a := loadInput(t, "testdata/"+name+".input.json")
		d := a.filled().chat().Content.Description
		if got := strings.Contains(d, "*FSx at risk ("); got != want {
			t.Errorf("%s: says at risk %v, want %v:\n%s", name, got, want, d)
		}
		if _, body := a.Email(); strings.Contains(body, "\nFSx resources at risk (") != want {
			t.Errorf("%s: email says at risk %v, want %v", name, !want, want)
		}
	}
}
