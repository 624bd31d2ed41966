package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/pkg/alert"
)

// alertFixture reads testdata/alert/<name>.json, one machine-form alert on
// one line as fsxkms sweep --json prints it, and decodes it.
func alertFixture(t *testing.T, name string) (line []byte, a alert.Alert) {
	t.Helper()
	line, err := os.ReadFile(filepath.Join("testdata", "alert", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(line, &a); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(line), a
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantRendered is what alert render must print for alerts in format, taken
// from pkg/alert itself (Email, Chat, Machine), not from golden files: the
// layouts are pkg/alert's, and render shows them as they are.
func wantRendered(t *testing.T, format string, alerts ...alert.Alert) string {
	t.Helper()
	var b strings.Builder
	for i, a := range alerts {
		switch format {
		case "email":
			if i > 0 {
				b.WriteString("\n" + strings.Repeat("=", 78) + "\n\n")
			}
			subject, body := a.Email()
			b.WriteString("Subject: " + subject + "\n\n" + body)
			if !strings.HasSuffix(body, "\n") {
				b.WriteString("\n")
			}
		case "chat":
			c, err := a.Chat()
			if err != nil {
				t.Fatal(err)
			}
			b.Write(append(c, '\n'))
		case "json":
			m, err := a.Machine()
			if err != nil {
				t.Fatal(err)
			}
			b.Write(append(m, '\n'))
		}
	}
	return b.String()
}

// TestAlertRender: an alert, however it was delivered or saved, renders as
// each kind of subscriber receives it: the email (subject and body), the
// chat card and the machine form are pkg/alert's own.
func TestAlertRender(t *testing.T) {
	line, disabled := alertFixture(t, "key-disabled")
	line2, restored := alertFixture(t, "restored")
	indented, err := json.MarshalIndent(json.RawMessage(line), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := disabled.Message()
	if err != nil {
		t.Fatal(err)
	}
	notification := mustJSON(t, map[string]any{
		"Type": "Notification", "MessageId": "0f9e8d7c-6b5a-4c3d-2e1f-0a9b8c7d6e5f",
		"TopicArn": "arn:aws:sns:us-east-1:111122223333:fsxkms-alerts", "Subject": msg.Subject,
		"Message": string(line), "Timestamp": "2026-05-04T09:12:42.000Z",
		"MessageAttributes": map[string]any{"severity": map[string]string{"Type": "String", "Value": "CRITICAL"}},
	})
	inputs := []struct {
		name   string
		input  []byte
		alerts []alert.Alert
	}{
		{"one line (sweep --json, the functions' stdout)", line, []alert.Alert{disabled}},
		{"indented", indented, []alert.Alert{disabled}},
		{"two lines", []byte(string(line) + "\n" + string(line2) + "\n"), []alert.Alert{disabled, restored}},
		{"log lines with a prefix", []byte("2026-05-04T09:12:42.123Z INFO " + string(line) + "\n\n2026-05-04T09:13:00.000Z INFO " + string(line2) + "\n"), []alert.Alert{disabled, restored}},
		{"SNS notification (SQS subscriber, no raw delivery)", notification, []alert.Alert{disabled}},
		{"SNS event (Lambda subscriber)", mustJSON(t, map[string]any{"Records": []any{map[string]any{
			"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": json.RawMessage(notification)}}}), []alert.Alert{disabled}},
		{"SQS event (Lambda reading a raw-delivery queue)", mustJSON(t, map[string]any{"Records": []any{
			map[string]any{"messageId": "m1", "eventSource": "aws:sqs", "body": string(line)},
			map[string]any{"messageId": "m2", "eventSource": "aws:sqs", "body": string(line2)}}}), []alert.Alert{disabled, restored}},
		{"aws sqs receive-message", mustJSON(t, map[string]any{"Messages": []any{map[string]any{
			"MessageId": "m1", "ReceiptHandle": "AQEB...", "Body": string(notification)}}}), []alert.Alert{disabled}},
		{"MessageStructure=json document", []byte(msg.Body), []alert.Alert{disabled}},
		{"CloudWatch JSON log line", mustJSON(t, map[string]any{"timestamp": "2026-05-04T09:12:42Z", "level": "INFO", "message": string(line)}), []alert.Alert{disabled}},
	}
	for _, in := range inputs {
		for _, format := range []string{"email", "chat", "json"} {
			t.Run(in.name+"/"+format, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				code := run([]string{"alert", "render", "--format", format}, bytes.NewReader(in.input), &stdout, &stderr)
				if code != 0 || stderr.Len() != 0 {
					t.Fatalf("exit %d, stderr:\n%s", code, &stderr)
				}
				if want := wantRendered(t, format, in.alerts...); stdout.String() != want {
					t.Errorf("stdout:\n%s\nwant:\n%s", &stdout, want)
				}
			})
		}
	}

	// The default format is email, from a file as from standard input.
	path := filepath.Join("testdata", "alert", "key-disabled.json")
	code, stdout, stderr := runCLI([]string{"alert", "render", path})
	if want := wantRendered(t, "email", disabled); code != 0 || stdout != want || stderr != "" {
		t.Errorf("render FILE: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
	}
	if !strings.HasPrefix(stdout, "Subject: [CRITICAL] ") || !strings.Contains(stdout, disabled.Key.ARN) {
		t.Errorf("email does not begin with its subject or lacks the key ARN:\n%s", stdout)
	}
}

// TestAlertRenderShortened: an alert over the SNS limit is shown as SNS
// subscribers get it, shortened, with a note on stderr.
func TestAlertRenderShortened(t *testing.T) {
	_, a := alertFixture(t, "key-disabled")
	// Each text is bounded (a statement 8 KB), so make many: 40 findings
	// with 4 statements of 8 KB are over 1 MB.
	f := a.Findings[0]
	f.Statements = []string{strings.Repeat("s", 8<<10), strings.Repeat("t", 8<<10), strings.Repeat("u", 8<<10), strings.Repeat("v", 8<<10)}
	a.Findings = nil
	for range 40 {
		a.Findings = append(a.Findings, f)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"alert", "render", "--format", "json"}, bytes.NewReader(mustJSON(t, a)), &stdout, &stderr)
	if code != 0 || !strings.Contains(stderr.String(), "over the SNS message limit: shown shortened") {
		t.Fatalf("exit %d, stderr %q; want 0 and a note", code, &stderr)
	}
	if stdout.Len() > alert.MaxMessageBytes || !strings.Contains(stdout.String(), "truncated by fsxkms") {
		t.Errorf("rendered %d bytes, want at most %d with fsxkms's truncation marker", stdout.Len(), alert.MaxMessageBytes)
	}
}

// TestAlertRenderErrors: bad input is exit 2 with a line that says why;
// alerts that could be read are still printed.
func TestAlertRenderErrors(t *testing.T) {
	line, a := alertFixture(t, "key-disabled")
	event, err := os.ReadFile(filepath.Join("testdata", "event", "putkeypolicy-eventbridge.json"))
	if err != nil {
		t.Fatal(err)
	}
	bad := a
	bad.Severity = "HIGH"
	tests := []struct {
		name     string
		input    string
		want     string // in stderr
		rendered int    // alerts still printed
	}{
		{"empty", "", "standard input holds no alert", 0},
		{"not JSON", "hello\n", `line 1: not JSON, nor a log line ending in a JSON object: hello`, 0},
		{"a KMS event", string(event), `not an fsxkms alert: no "schema": "fsxkms.alert.v1"`, 0},
		{"another schema", `{"schema": "fsxkms.alert.v2"}`, `schema "fsxkms.alert.v2", want "fsxkms.alert.v1"`, 0},
		{"an array", `[1, 2]`, "not an alert: a JSON array, want an object", 0},
		{"an invalid alert", string(mustJSON(t, bad)), `severity "HIGH", want CRITICAL, WARNING or INFO`, 0},
		{"one good, one bad line", string(line) + "\n" + `{"schema": 1}` + "\n", "value 2: schema 1, want", 1},
		{"a bad record among good ones", string(mustJSON(t, map[string]any{"Records": []any{map[string]any{"body": string(line)}, map[string]any{"body": "{}"}}})),
			`Records[1]: not an fsxkms alert`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"alert", "render", "--format", "json"}, strings.NewReader(tt.input), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, &stderr, tt.want)
			}
			if n := strings.Count(stdout.String(), "\n"); n != tt.rendered {
				t.Errorf("%d alerts printed, want %d:\n%s", n, tt.rendered, &stdout)
			}
		})
	}
	code, stdout, stderr := runCLI([]string{"alert", "render", "--format", "html"})
	if code != 2 || stdout != "" || stderr != "fsxkms alert render: --format \"html\": want email, chat or json\nRun 'fsxkms alert render --help' for usage.\n" {
		t.Errorf("--format html: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = runCLI([]string{"alert", "render", filepath.Join("testdata", "alert", "no-such.json")})
	if code != 2 || !strings.Contains(stderr, "no such file") {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
}
