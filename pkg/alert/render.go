package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// width is the column limit of the email body (long URLs and ARNs excepted).
const width = 78

// Machine returns the machine form: one compact JSON object, no newline.
func (a Alert) Machine() ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return marshal(a.filled())
}

// marshal encodes v compactly without HTML escaping (<, >, & stay readable).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("alert: encode: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Email returns the email subject (SNS-legal: printable ASCII, under 100
// characters) and a plain-text body for an 80-column reader.
func (a Alert) Email() (subject, body string) {
	a = a.filled()
	subject = snsSubject(fmt.Sprintf("[%s] %s", a.Severity, a.Title))

	var b strings.Builder
	b.WriteString(wrap(fmt.Sprintf("%s: %s", a.Severity, a.Title), "", ""))
	b.WriteString("\n")

	b.WriteString("What happened\n")
	field(&b, "Status", string(a.Status))
	field(&b, "Event", a.eventLine())
	if !a.Trigger.EventTime.IsZero() {
		field(&b, "When", a.Trigger.EventTime.UTC().Format(time.RFC3339))
	}
	field(&b, "Who", a.Trigger.Actor)
	field(&b, "From", a.Trigger.SourceIP)
	field(&b, "Event ID", a.Trigger.EventID)
	field(&b, "Key", a.Key.ARN)
	field(&b, "Key state", a.keyState())
	field(&b, "Aliases", strings.Join(a.Key.Aliases, ", "))
	field(&b, "Account", a.Account)
	field(&b, "Region", a.Region)
	b.WriteString("\n")

	if len(a.Resources) > 0 {
		label := "FSx resources at risk"
		if a.Status == Compliant || a.Severity == Info {
			label = "FSx resources using this key"
		}
		fmt.Fprintf(&b, "%s (%d)\n", label, len(a.Resources))
		for _, r := range a.Resources {
			b.WriteString(wrap(r.describe(), "  - ", "    "))
			if r.ARN != "" {
				b.WriteString("    " + r.ARN + "\n")
			}
		}
		b.WriteString("\n")
	}

	if len(a.Findings) > 0 {
		fmt.Fprintf(&b, "Findings (%d)\n", len(a.Findings))
		for i, f := range a.Findings {
			head := fmt.Sprintf("%d. [%s] %s", i+1, orDash(string(f.Severity)), f.Code)
			b.WriteString(wrap(head, "", "   "))
			if f.Message != "" {
				b.WriteString(wrap(f.Message, "   ", "   "))
			}
			if why := f.why(); why != "" {
				b.WriteString(wrap("Why: "+why, "   ", "        "))
			}
			for _, s := range f.Statements {
				b.WriteString("   Statement:\n")
				b.WriteString(block(s, "     "))
			}
			if f.Remediation != "" {
				b.WriteString("   Fix:\n")
				b.WriteString(remedy(f.Remediation, "     "))
			}
			b.WriteString("\n")
		}
	}

	b.WriteString("Console\n")
	for _, l := range a.links() {
		b.WriteString("  " + l.name + ":\n  " + l.url + "\n")
	}
	b.WriteString("\n")
	b.WriteString(wrap("Sent by fsxkms ("+Schema+"). Subscriptions can filter on the "+
		"message attributes severity, status, code, key_id, account, region and event_name.", "-- ", "   "))
	return subject, b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// field writes "  Name:      value", wrapped under the value column.
func field(b *strings.Builder, name, value string) {
	if value == "" {
		return
	}
	const col = 14
	first := "  " + name + ":" + strings.Repeat(" ", max(1, col-3-len(name)))
	if !strings.Contains(value, " ") && len(first)+len(value) > width {
		// A long ARN: on its own line, so it stays whole and in 80 columns.
		b.WriteString("  " + name + ":\n    " + value + "\n")
		return
	}
	b.WriteString(wrap(value, first, strings.Repeat(" ", col)))
}

func (a Alert) eventLine() string {
	t := a.Trigger
	var s string
	switch t.Source {
	case SourceSweep:
		s = "scheduled sweep"
	case SourceKMSEvent:
		s = "KMS event"
	case SourceCloudTrail:
		s = "CloudTrail"
	}
	if t.EventName != "" {
		s = strings.TrimSpace(t.EventName + " (" + s + ")")
		s = strings.TrimSuffix(s, " ()")
	}
	if t.Failed {
		code := t.ErrorCode
		if code == "" {
			code = "error"
		}
		s += ", the call FAILED with " + code + "; nothing changed"
	}
	return s
}

func (a Alert) keyState() string {
	s := a.Key.State
	if s == "" {
		s = "unknown"
	}
	switch a.Key.Manager {
	case "CUSTOMER":
		s = strings.TrimSpace(s + " (customer managed key)")
	case "AWS":
		s = strings.TrimSpace(s + " (AWS managed key)")
	}
	return s
}

func (r Resource) describe() string {
	kind := r.Type
	switch r.Type {
	case "file-system":
		kind = "file system"
	case "file-cache":
		kind = "file cache" // Amazon File Cache
	case "":
		kind = "resource"
	}
	s := kind + " " + r.ID
	var attrs []string
	for _, v := range []string{r.FileSystemType, r.Lifecycle} {
		if v != "" {
			attrs = append(attrs, v)
		}
	}
	if len(attrs) > 0 {
		s += " (" + strings.Join(attrs, ", ") + ")"
	}
	return s
}

// why summarises the evaluated action and the policy decision.
func (f Finding) why() string {
	switch {
	case f.Action != "" && f.Decision != "":
		return fmt.Sprintf("%s is %s", f.Action, f.Decision)
	case f.Action != "":
		return "action " + f.Action
	case f.Decision != "":
		return "decision " + f.Decision
	}
	return ""
}

type link struct{ name, url string }

// maxResourceLinks bounds the console links to FSx resources.
const maxResourceLinks = 5

// links are the console pages for the key and the FSx resources.
func (a Alert) links() []link {
	region := a.Region
	if region == "" {
		region = "us-east-1"
	}
	host := "https://" + region + ".console.aws.amazon.com"
	q := "?region=" + url.QueryEscape(region)
	var ls []link
	if a.Key.ARN != "" {
		kind := "keys"
		if a.Key.Manager == "AWS" {
			kind = "defaultKeys"
		}
		ls = append(ls, link{"KMS key", host + "/kms/home" + q + "#/kms/" + kind + "/" + url.PathEscape(a.KeyID())})
	}
	for i, r := range a.Resources {
		if i == maxResourceLinks {
			ls = append(ls, link{"All FSx file systems", host + "/fsx/home" + q + "#file-systems"})
			break
		}
		switch {
		case r.Type == "file-system" && r.ID != "":
			ls = append(ls, link{"FSx file system " + r.ID, host + "/fsx/home" + q + "#file-system-details/" + url.PathEscape(r.ID)})
		case r.Type == "backup" && r.ID != "":
			ls = append(ls, link{"FSx backup " + r.ID, host + "/fsx/home" + q + "#backup-details/" + url.PathEscape(r.ID)})
		}
	}
	if len(a.Resources) == 0 {
		ls = append(ls, link{"FSx file systems", host + "/fsx/home" + q + "#file-systems"})
	}
	if a.Trigger.Source == SourceCloudTrail && a.Trigger.EventID != "" {
		ls = append(ls, link{"CloudTrail event", host + "/cloudtrailv2/home" + q + "#/events/" + url.PathEscape(a.Trigger.EventID)})
	}
	return ls
}

// wrap fills text to width, first line prefixed by first, others by rest.
// Words longer than the line (ARNs, URLs) stand alone, unbroken.
func wrap(text, first, rest string) string {
	var b strings.Builder
	for pi, para := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		prefix := first
		if pi > 0 {
			prefix = rest
		}
		line := prefix
		empty := true
		for _, w := range strings.Fields(para) {
			if !empty && len(line)+1+len(w) > width {
				b.WriteString(line + "\n")
				line, empty = rest, true
			}
			if !empty {
				line += " "
			}
			line += w
			empty = false
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	return b.String()
}

// block writes s indented, pretty-printing it if it is JSON.
func block(s, indent string) string {
	var pretty bytes.Buffer
	if json.Valid([]byte(s)) && json.Indent(&pretty, []byte(s), "", "  ") == nil && strings.HasPrefix(strings.TrimSpace(s), "{") {
		s = pretty.String()
		var b strings.Builder
		for _, l := range strings.Split(s, "\n") {
			b.WriteString(indent + l + "\n")
		}
		return b.String()
	}
	return wrap(s, indent, indent)
}

// remedy writes each line of r. AWS CLI commands too long for a line are
// broken with shell continuations, before an option where possible, so
// they still paste as one command.
func remedy(r, indent string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(r), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "aws ") || len(indent)+len(line) <= width {
			b.WriteString(wrap(line, indent, indent))
			continue
		}
		cont := indent + "    "
		cur := ""
		for _, g := range optionGroups(shellWords(line)) {
			joined := strings.Join(g, " ")
			switch {
			case cur == "":
				cur = indent + joined
			case len(cur)+1+len(joined)+2 <= width:
				cur += " " + joined
			case len(cont)+len(joined)+2 <= width:
				b.WriteString(cur + " \\\n")
				cur = cont + joined
			default: // A long group: "--option value", then its other words, filled.
				units := g
				if len(g) >= 2 && strings.HasPrefix(g[0], "--") {
					units = append([]string{g[0] + " " + g[1]}, g[2:]...)
				}
				for _, w := range units {
					if len(cur)+1+len(w)+2 > width && strings.TrimSpace(cur) != "" {
						b.WriteString(cur + " \\\n")
						cur = cont + w
					} else {
						cur += " " + w
					}
				}
			}
		}
		b.WriteString(cur + "\n")
	}
	return b.String()
}

// shellWords splits cmd at spaces outside quotes.
func shellWords(cmd string) []string {
	var words []string
	var cur strings.Builder
	var quote rune
	for _, r := range cmd {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '\'' || r == '"'):
			quote = r
		case quote == 0 && r == ' ':
			if cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words
}

// optionGroups groups words into the leading command and one group per
// "--option values..." run.
func optionGroups(words []string) [][]string {
	var gs [][]string
	for _, w := range words {
		if len(gs) == 0 || strings.HasPrefix(w, "--") {
			gs = append(gs, nil)
		}
		gs[len(gs)-1] = append(gs[len(gs)-1], w)
	}
	return gs
}
