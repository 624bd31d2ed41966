package alert

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// snsSize is what SNS counts against MaxMessageBytes.
func snsSize(m Message) int {
	n := len(m.Body) + len(m.Subject)
	for k, v := range m.Attributes {
		n += len(k) + len("String") + len(v)
	}
	return n
}

// parts decodes the MessageStructure=json document and checks its shape.
func parts(t *testing.T, m Message) (machine Alert, email string, chat chatNotification) {
	t.Helper()
	if !utf8.ValidString(m.Body) {
		t.Fatal("body is not UTF-8")
	}
	var doc map[string]string
	if err := json.Unmarshal([]byte(m.Body), &doc); err != nil {
		t.Fatalf("body is not a JSON object of strings: %v", err)
	}
	for _, k := range []string{"default", "sqs", "lambda", "email", "https"} {
		if doc[k] == "" {
			t.Fatalf("document lacks %q", k)
		}
	}
	if doc["sqs"] != doc["default"] || doc["lambda"] != doc["default"] {
		t.Errorf("sqs/lambda differ from default")
	}
	dec := json.NewDecoder(strings.NewReader(doc["default"]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&machine); err != nil {
		t.Fatalf("default is not the machine form: %v", err)
	}
	if err := json.Unmarshal([]byte(doc["https"]), &chat); err != nil {
		t.Fatalf("https is not the chat JSON: %v", err)
	}
	checkSubject(t, m.Subject)
	return machine, doc["email"], chat
}

func TestMessageSmall(t *testing.T) {
	a := loadInput(t, "testdata/key-disabled.input.json")
	m, err := a.Message()
	if err != nil {
		t.Fatal(err)
	}
	if m.Shortened {
		t.Error("small alert marked shortened")
	}
	machine, email, chat := parts(t, m)
	want, _ := a.Machine()
	if got, _ := machine.Machine(); string(got) != string(want) {
		t.Errorf("machine form changed in transit:\n%s\n%s", got, want)
	}
	if _, body := a.Email(); email != body {
		t.Errorf("email part differs from Email()")
	}
	if chat.Metadata.ThreadID != "fsxkms:"+a.Key.ARN {
		t.Errorf("chat threadId %q", chat.Metadata.ThreadID)
	}
	wantAttrs := map[string]string{
		"severity": "CRITICAL", "status": "NONCOMPLIANT", "code": "KEY_DISABLED",
		"key_id": "1234abcd-12ab-34cd-56ef-1234567890ab", "account": "111122223333",
		"region": "us-east-1", "event_name": "DisableKey",
	}
	if fmt.Sprint(m.Attributes) != fmt.Sprint(wantAttrs) {
		t.Errorf("attributes = %v, want %v", m.Attributes, wantAttrs)
	}
}

func TestAttributesOmitEmpty(t *testing.T) {
	a := loadInput(t, "testdata/sweep-unavailable.input.json")
	m, err := a.Message()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Attributes["event_name"]; ok {
		t.Errorf("sweep alert has an event_name attribute: %v", m.Attributes)
	}
	for k, v := range m.Attributes {
		if v == "" {
			t.Errorf("attribute %s is empty", k)
		}
	}
	m, err = Alert{}.Message()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attributes) != 2 || m.Attributes["severity"] != "INFO" || m.Attributes["status"] != "UNKNOWN" {
		t.Errorf("empty alert attributes = %v, want only severity and status", m.Attributes)
	}
}

// TestHugePolicy puts a 300 KB policy in a finding, 40 times: each is
// first bounded to MaxStatement, and together they still exceed the SNS
// limit. The message must fit, stay valid, keep the facts and show where it
// was cut.
func TestHugePolicy(t *testing.T) {
	a := loadInput(t, "testdata/policy-denied.input.json")
	var st strings.Builder
	st.WriteString(`{"Version":"2012-10-17","Statement":[`)
	for i := 0; st.Len() < 300<<10; i++ {
		if i > 0 {
			st.WriteString(",")
		}
		fmt.Fprintf(&st, `{"Sid":"Allow%05d","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/r%05d"},"Action":"kms:Decrypt","Resource":"*"}`, i, i)
	}
	st.WriteString("]}")
	a.Findings[0].Statements = slices.Repeat([]string{st.String()}, 40)
	a.Findings[1].Message = strings.Repeat("long message ", 2000)

	m, err := a.Message()
	if err != nil {
		t.Fatal(err)
	}
	if n := snsSize(m); n > MaxMessageBytes {
		t.Fatalf("message is %d bytes, over %d", n, MaxMessageBytes)
	}
	if !m.Shortened {
		t.Error("not marked shortened")
	}
	machine, email, chat := parts(t, m)
	got := machine.Findings[0].Statements[0]
	if !strings.Contains(got, "...[truncated by fsxkms: ") || !strings.HasPrefix(got, `{"Version":"2012-10-17"`) {
		t.Errorf("statement not cut with a marker: %.200q", got)
	}
	if !strings.Contains(email, "...[truncated by fsxkms: ") {
		t.Error("email lacks the truncation marker")
	}
	// The facts survive.
	if machine.Key.ARN != a.Key.ARN || len(machine.Resources) != 1 || len(machine.Findings) != 3 ||
		machine.Findings[2].Code != "POLICY_LOCKOUT_BYPASS" {
		t.Errorf("facts lost: %+v", machine)
	}
	if !strings.Contains(chat.Content.Description, "REQUIRED_PERMISSION_DENIED") {
		t.Error("chat lost the finding")
	}
	// It uses the room it has: the cut is not needlessly deep.
	if n := snsSize(m); n < MaxMessageBytes-64<<10 {
		t.Errorf("message cut to %d bytes, far below the limit", n)
	}
}

// TestManyResources: thousands of backups on one key make the lists cut.
func TestManyResources(t *testing.T) {
	a := loadInput(t, "testdata/key-disabled.input.json")
	a.Resources = nil
	for i := range 6000 {
		id := fmt.Sprintf("backup-%017x", i)
		a.Resources = append(a.Resources, Resource{Type: "backup", ID: id,
			ARN: "arn:aws:fsx:us-east-1:111122223333:backup/" + id, FileSystemType: "WINDOWS", Lifecycle: "AVAILABLE"})
	}
	m, err := a.Message()
	if err != nil {
		t.Fatal(err)
	}
	if n := snsSize(m); n > MaxMessageBytes {
		t.Fatalf("message is %d bytes, over %d", n, MaxMessageBytes)
	}
	machine, email, chat := parts(t, m)
	if !strings.Contains(chat.Content.Description, fmt.Sprintf("and %d backups", len(machine.Resources)-maxChatResources)) ||
		len(chat.Metadata.RelatedResources) != 1+maxChatResources || len(chat.Content.NextSteps) > 10 {
		t.Errorf("chat not bounded: %d related, %d steps", len(chat.Metadata.RelatedResources), len(chat.Content.NextSteps))
	}
	last := machine.Findings[len(machine.Findings)-1]
	if last.Code != "ALERT_TRUNCATED" || !strings.Contains(last.Message, "FSx resources") {
		t.Fatalf("no ALERT_TRUNCATED finding: %+v", last)
	}
	kept := len(machine.Resources)
	if kept == 0 || kept >= 6000 || !strings.Contains(last.Message, fmt.Sprintf("%d FSx resources", 6000-kept)) {
		t.Errorf("kept %d resources; marker %q", kept, last.Message)
	}
	if machine.Findings[0].Code != "KEY_DISABLED" || machine.Resources[0].ARN != a.Resources[0].ARN {
		t.Error("first finding or resource lost")
	}
	if !strings.Contains(email, "ALERT_TRUNCATED") {
		t.Error("email lacks the marker")
	}
	// The title still counts every resource.
	if !strings.Contains(machine.Title, "6000 FSx resources") {
		t.Errorf("title %q", machine.Title)
	}
}

func TestLongSubject(t *testing.T) {
	a := loadInput(t, "testdata/key-disabled.input.json")
	a.Title = strings.Repeat("very long title ", 32)[:500]
	subject, body := a.Email()
	if len(subject) < MaxSubject-3 || !strings.HasSuffix(subject, "...") || !strings.HasPrefix(subject, "[CRITICAL] very long title") {
		t.Errorf("subject %d bytes: %q", len(subject), subject)
	}
	checkSubject(t, subject)
	if !strings.Contains(strings.Join(strings.Fields(body), " "), strings.TrimSpace(a.Title)) {
		t.Error("email body lost the end of the title")
	}
	m, err := a.Message()
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != subject {
		t.Errorf("SNS subject %q != email subject %q", m.Subject, subject)
	}
}

func TestUnicode(t *testing.T) {
	a := loadInput(t, "testdata/key-disabled.input.json")
	a.Title = "Schlüssel für Dateisystem ✓ gesperrt\r\nzweite Zeile\ttab"
	a.Key.Aliases = []string{"alias/ファイル-κλειδί-🔑"}
	a.Trigger.Actor = "arn:aws:sts::111122223333:assumed-role/Admin/josé.núñez@example.com"
	a.Findings[0].Message = "Ключ отключён. \xff invalid byte. 键已禁用。"
	a.Findings[0].Statements = []string{`{"Sid":"Ünïcødé","Effect":"Allow"}`}

	subject, body := a.Email()
	checkSubject(t, subject)
	if want := "[CRITICAL] Schl?ssel f?r Dateisystem ? gesperrt zweite Zeile tab"; subject != want {
		t.Errorf("subject %q, want %q", subject, want)
	}
	if !strings.Contains(body, "alias/ファイル-κλειδί-🔑") || !strings.Contains(body, "josé.núñez") {
		t.Error("email lost unicode names")
	}
	checkEmail(t, body)

	m, err := a.Message()
	if err != nil {
		t.Fatal(err)
	}
	machine, _, chat := parts(t, m)
	if machine.Key.Aliases[0] != a.Key.Aliases[0] || machine.Trigger.Actor != a.Trigger.Actor {
		t.Errorf("unicode changed: %q %q", machine.Key.Aliases, machine.Trigger.Actor)
	}
	if !strings.Contains(machine.Findings[0].Message, "Ключ отключён. \uFFFD invalid byte. 键已禁用。") {
		t.Errorf("message %q", machine.Findings[0].Message)
	}
	if !strings.Contains(chat.Content.Description, "Ключ") {
		t.Error("chat lost unicode")
	}
	// A clip never splits a rune.
	for n := 1; n < 80; n++ {
		if s := clip(strings.Repeat("🔑", 40), n); !utf8.ValidString(s) {
			t.Fatalf("clip(%d) split a rune: %q", n, s)
		}
	}
}

func TestSubjectSanitize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "fsxkms alert"},
		{"  \n\t ", "fsxkms alert"},
		{"a\x00b\x7fc", "abc"},
		{"line1\nline2", "line1 line2"},
		{strings.Repeat("x", 99), strings.Repeat("x", 99)},
		{strings.Repeat("x", 100), strings.Repeat("x", 96) + "..."},
		{strings.Repeat("ab ", 40), strings.TrimSpace(strings.Repeat("ab ", 32)) + "..."},
	} {
		if got := snsSubject(c.in); got != c.want {
			t.Errorf("snsSubject(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func benchAlert(b *testing.B, statementBytes int) Alert {
	a := Alert{
		Status: Noncompliant,
		Key:    Key{ARN: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", State: "Enabled", Manager: "CUSTOMER"},
		Trigger: Trigger{Source: SourceCloudTrail, EventName: "PutKeyPolicy", EventID: "e1",
			Actor: "arn:aws:iam::111122223333:user/bob"},
		Resources: []Resource{{Type: "file-system", ID: "fs-0123456789abcdef0", FileSystemType: "ONTAP", Lifecycle: "AVAILABLE"}},
		Findings: []Finding{{Code: "REQUIRED_PERMISSION_DENIED", Severity: Critical, Action: "kms:CreateGrant",
			Decision: "explicit-deny", Statements: []string{strings.Repeat(`{"Sid":"S","Effect":"Deny"},`, statementBytes/28)},
			Message: "denied", Remediation: "aws kms put-key-policy --key-id k --policy-name default --policy file://p.json"}},
	}
	return a
}

// BenchmarkMessage measures building the SNS message; "huge" has a 300 KB
// policy statement and must be shortened.
func BenchmarkMessage(b *testing.B) {
	for _, c := range []struct {
		name  string
		bytes int
	}{{"typical", 300}, {"huge", 300 << 10}} {
		a := benchAlert(b, c.bytes)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Message(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzMessage: any text in any field gives a valid message within limits.
func FuzzMessage(f *testing.F) {
	f.Add("title", "alias/x", "message", `{"Sid":"a"}`, "aws kms enable-key --key-id k", 1)
	f.Add("", "ファイル", "\xff\xfe", strings.Repeat("x", 70000), "--\n--", 3000)
	f.Fuzz(func(t *testing.T, title, alias, msg, stmt, fix string, n int) {
		a := Alert{Title: title, Key: Key{ARN: "arn:aws:kms:us-east-1:1:key/" + alias, Aliases: []string{alias}},
			Trigger: Trigger{EventName: alias, Actor: msg}}
		for i := range n % 5000 {
			// IDs stay ID-sized: 5000 resources with 70 KB IDs would
			// only measure the fuzzer's memory.
			a.Resources = append(a.Resources, Resource{Type: "backup", ID: fmt.Sprint(clip(alias, 64), i)})
		}
		for range 4 {
			a.Findings = append(a.Findings, Finding{Code: "KEY_DISABLED", Severity: Critical, Message: msg,
				Statements: []string{stmt, stmt}, Remediation: fix})
		}
		m, err := a.Message()
		if err != nil {
			t.Fatal(err)
		}
		if n := snsSize(m); n > MaxMessageBytes {
			t.Fatalf("message is %d bytes", n)
		}
		parts(t, m)
		_, body := a.Email()
		if !utf8.ValidString(m.Subject) || strings.Contains(body, "\x00") && !strings.Contains(title+alias+msg+stmt+fix, "\x00") {
			t.Fatal("bad email")
		}
	})
}
