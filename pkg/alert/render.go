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
//
// Text from outside fsxkms is data in the body: control and invisible
// characters are escaped, URLs defanged, a finding's message and policy
// statements are quoted blocks (every line starts with "| "), and a value
// inside fsxkms's own lines (a field, a title, a Fix line) never starts a
// line: its spaces do not break, and a value that is not a plain word is
// quoted ("..." in text, '...' in a command).
func (a Alert) Email() (subject, body string) {
	a = a.filled()
	subject = snsSubject(fmt.Sprintf("[%s] %s", a.Severity, a.Title))

	var b strings.Builder
	head := append([]piece{lit(string(a.Severity) + ": ")}, a.titlePieces()...)
	b.WriteString(unbreak(wrap(emailLine(head, true, maxInline), "", "")))
	b.WriteString("\n")

	b.WriteString("What happened\n")
	field(&b, "Status", lit(string(a.Status)))
	if n := a.Notice; n != nil {
		field(&b, "Notice", lit(n.describe()))
	}
	field(&b, "Event", a.eventPieces()...)
	if !a.Trigger.EventTime.IsZero() {
		field(&b, "When", lit(a.Trigger.EventTime.UTC().Format(time.RFC3339)))
	}
	field(&b, "Who", val(a.Trigger.Actor))
	field(&b, "From", val(a.Trigger.SourceIP))
	field(&b, "Event ID", val(a.Trigger.EventID))
	field(&b, "Key", val(a.Key.ARN))
	field(&b, "Key state", a.keyStatePieces()...)
	var aliases []piece
	for i, al := range a.Key.Aliases {
		if i > 0 {
			aliases = append(aliases, lit(", "))
		}
		aliases = append(aliases, val(al))
	}
	field(&b, "Aliases", aliases...)
	field(&b, "Account", val(a.Account))
	field(&b, "Region", val(a.Region))
	b.WriteString("\n")

	if len(a.Resources) > 0 {
		label := "FSx resources at risk"
		if a.Status == Compliant || a.Severity == Info {
			label = "FSx resources using this key"
		}
		fmt.Fprintf(&b, "%s (%d)\n", label, len(a.Resources))
		for _, r := range a.Resources {
			b.WriteString(unbreak(wrap(emailLine(r.describe(), false, maxInline), "  - ", "    ")))
			if r.ARN != "" {
				b.WriteString("    " + unbreak(emailUnit(r.ARN, false, maxInline)) + "\n")
			}
		}
		b.WriteString("\n")
	}

	if len(a.Findings) > 0 {
		fmt.Fprintf(&b, "Findings (%d)\n", len(a.Findings))
		for i, f := range a.Findings {
			head := []piece{lit(fmt.Sprintf("%d. [%s] ", i+1, orDash(string(f.Severity)))), val(string(f.Code))}
			b.WriteString(unbreak(wrap(emailLine(head, false, maxInline), "", "   ")))
			if f.Message != "" {
				b.WriteString(quote(f.Message, "   "))
			}
			if why := f.why(); len(why) > 0 {
				b.WriteString(unbreak(wrap(emailLine(append([]piece{lit("Why: ")}, why...), false, maxInline), "   ", "        ")))
			}
			for _, s := range f.Statements {
				b.WriteString("   Statement:\n")
				b.WriteString(block(s, "     "))
			}
			if ls := a.remediationLines(f); len(ls) > 0 {
				b.WriteString("   Fix:\n")
				b.WriteString(remedy(ls, "     "))
			}
			b.WriteString("\n")
		}
	}

	b.WriteString("Console\n")
	for _, l := range a.links() {
		b.WriteString("  " + unbreak(emailLine(l.name(), false, maxInline)) + ":\n  " + l.url + "\n")
	}
	b.WriteString("\n")
	b.WriteString(wrap("Sent by fsxkms ("+Schema+"). Subscriptions can filter on the "+
		"message attributes severity, status, code, key_id, account, region and event_name.", "-- ", "   "))
	return subject, b.String()
}

// describe says in a line why the alert goes out now.
func (n Notice) describe() string {
	var s string
	switch n.Reason {
	case "NEW":
		s = "new problem"
	case NoticeChanged:
		s = "the evidence changed"
	case "UNSENT":
		s = "first delivery of an alert an earlier attempt failed to send"
	case NoticeReminder:
		s = fmt.Sprintf("reminder %d", n.AlertsBefore)
	case NoticeResolved:
		s = "resolved: " + strings.Join(boundAll(n.Resolved, 5), ", ")
	default:
		s = n.Reason
	}
	if !n.OpenSince.IsZero() {
		verb := "open"
		if n.Reason == NoticeResolved {
			verb = "lasted"
		}
		s += fmt.Sprintf("; %s %s, since %s", verb, n.OpenFor, n.OpenSince.UTC().Format(time.RFC3339))
	}
	if n.Reason != NoticeResolved {
		if n.RemindAfter != "" {
			s += "; reminded every " + strings.TrimSuffix(strings.TrimSuffix(n.RemindAfter, "0s"), "0m") + " until fixed"
		} else {
			s += "; no reminders (REMIND_AFTER=0)"
		}
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fieldCol is the column where field values start.
const fieldCol = 14

// field writes "  Name:      value", wrapped under the value column at
// fsxkms's own spaces only.
func field(b *strings.Builder, name string, value ...piece) {
	v := emailLine(value, false, width-fieldCol)
	if strings.TrimSpace(unbreak(v)) == "" {
		return
	}
	first := "  " + name + ":" + strings.Repeat(" ", max(1, fieldCol-3-len(name)))
	if !strings.Contains(v, " ") && len(first)+len(v) > width {
		// A long ARN: on its own line, so it stays whole and in 80 columns.
		b.WriteString("  " + name + ":\n    " + unbreak(v) + "\n")
		return
	}
	b.WriteString(unbreak(wrap(v, first, strings.Repeat(" ", fieldCol))))
}

// quote writes outside text as a quoted block: escaped and defanged, one
// paragraph, every line starting with indent and "| ".
func quote(text, indent string) string {
	return wrap(defang(escape(text)), indent+"| ", indent+"| ")
}

// sourceName names a trigger source in words.
func sourceName(src string) string {
	switch src {
	case SourceSweep:
		return "scheduled sweep"
	case SourceKMSEvent:
		return "KMS event"
	case SourceCloudTrail:
		return "CloudTrail"
	}
	return ""
}

// eventPieces says what the trigger was, e.g. "DisableKey (CloudTrail)".
func (a Alert) eventPieces() []piece {
	t := a.Trigger
	src := sourceName(t.Source)
	var ps []piece
	switch {
	case t.EventName != "" && src != "":
		ps = []piece{val(t.EventName), lit(" (" + src + ")")}
	case t.EventName != "":
		ps = []piece{val(t.EventName)}
	case src != "":
		ps = []piece{lit(src)}
	}
	if t.Failed {
		code := val(t.ErrorCode)
		if t.ErrorCode == "" {
			code = lit("error")
		}
		ps = append(ps, lit(", the call FAILED with "), code, lit("; nothing changed"))
	}
	return ps
}

// text joins pieces as they are, for the machine form and the subject.
func text(ps []piece) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.s)
	}
	return b.String()
}

func (a Alert) keyStatePieces() []piece {
	ps := []piece{val(a.Key.State)}
	if a.Key.State == "" {
		ps = []piece{lit("unknown")}
	}
	switch a.Key.Manager {
	case "CUSTOMER":
		ps = append(ps, lit(" (customer managed key)"))
	case "AWS":
		ps = append(ps, lit(" (AWS managed key)"))
	}
	return ps
}

func (r Resource) describe() []piece {
	kind := lit(r.Type + " ")
	switch r.Type {
	case "file-system":
		kind = lit("file system ")
	case "file-cache":
		kind = lit("file cache ") // Amazon File Cache
	case "backup":
	case "":
		kind = lit("resource ")
	default:
		kind = val(r.Type)
	}
	ps := []piece{kind}
	if kind.data {
		ps = append(ps, lit(" "))
	}
	ps = append(ps, val(r.ID))
	var attrs []piece
	for _, v := range []string{r.FileSystemType, r.Lifecycle} {
		if v != "" {
			if len(attrs) > 0 {
				attrs = append(attrs, lit(", "))
			}
			attrs = append(attrs, val(v))
		}
	}
	if len(attrs) > 0 {
		ps = append(ps, lit(" ("))
		ps = append(ps, attrs...)
		ps = append(ps, lit(")"))
	}
	return ps
}

// why summarises the evaluated action and the policy decision.
func (f Finding) why() []piece {
	switch {
	case f.Action != "" && f.Decision != "":
		return []piece{val(f.Action), lit(" is "), val(f.Decision)}
	case f.Action != "":
		return []piece{lit("action "), val(f.Action)}
	case f.Decision != "":
		return []piece{lit("decision "), val(f.Decision)}
	}
	return nil
}

// link is a console page: its url is built by fsxkms from escaped parts;
// its name is fsxkms's label and, for a resource, the resource ID.
type link struct{ label, id, url string }

func (l link) name() []piece {
	if l.id == "" {
		return []piece{lit(l.label)}
	}
	return []piece{lit(l.label + " "), val(l.id)}
}

// maxResourceLinks bounds the console links to FSx resources.
const maxResourceLinks = 5

// links are the console pages for the key and the FSx resources.
func (a Alert) links() []link {
	region := a.linkRegion()
	host := "https://" + region + ".console.aws.amazon.com"
	q := "?region=" + url.QueryEscape(region)
	var ls []link
	if a.Key.ARN != "" {
		kind := "keys"
		if a.Key.Manager == "AWS" {
			kind = "defaultKeys"
		}
		ls = append(ls, link{"KMS key", "", host + "/kms/home" + q + "#/kms/" + kind + "/" + url.PathEscape(a.KeyID())})
	}
	for i, r := range a.Resources {
		if i == maxResourceLinks {
			ls = append(ls, link{"All FSx file systems", "", host + "/fsx/home" + q + "#file-systems"})
			break
		}
		switch {
		case r.Type == "file-system" && r.ID != "":
			ls = append(ls, link{"FSx file system", r.ID, host + "/fsx/home" + q + "#file-system-details/" + url.PathEscape(r.ID)})
		case r.Type == "backup" && r.ID != "":
			ls = append(ls, link{"FSx backup", r.ID, host + "/fsx/home" + q + "#backup-details/" + url.PathEscape(r.ID)})
		}
	}
	if len(a.Resources) == 0 {
		ls = append(ls, link{"FSx file systems", "", host + "/fsx/home" + q + "#file-systems"})
	}
	if a.Trigger.Source == SourceCloudTrail && a.Trigger.EventID != "" {
		ls = append(ls, link{"CloudTrail event", "", host + "/cloudtrailv2/home" + q + "#/events/" + url.PathEscape(a.Trigger.EventID)})
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

// block writes a policy statement as a quoted block under indent,
// pretty-printing it if it is a JSON object. Long lines are wrapped inside
// the block.
func block(s, indent string) string {
	var pretty bytes.Buffer
	if strings.HasPrefix(strings.TrimSpace(s), "{") && json.Valid([]byte(s)) && json.Indent(&pretty, []byte(s), "", "  ") == nil {
		var b strings.Builder
		for _, l := range strings.Split(pretty.String(), "\n") {
			l = defang(escape(l))
			if len(indent)+2+len(l) <= width {
				b.WriteString(strings.TrimRight(indent+"| "+l, " ") + "\n")
				continue
			}
			body := strings.TrimLeft(l, " ")
			lead := indent + "| " + l[:len(l)-len(body)]
			b.WriteString(wrap(body, lead, lead+"    "))
		}
		return b.String()
	}
	return quote(s, indent)
}

// remedy writes the lines of a remediation. Commands fsxkms wrote (lines
// starting with "aws " or "fsxkms ") too long for a line are broken with
// shell continuations, before an option where possible, so they still
// paste as one command; a value from outside in a command is one quoted
// shell word. Other lines are wrapped at fsxkms's own spaces, their values
// quoted.
func remedy(ls [][]piece, indent string) string {
	var b strings.Builder
	for _, l := range ls {
		if !isCommand(l) {
			b.WriteString(unbreak(wrap(fixLine(l), indent, indent)))
			continue
		}
		line := commandText(l)
		if len(indent)+len(line) <= width {
			b.WriteString(indent + line + "\n")
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

// shellWords splits cmd at spaces outside quotes and not escaped by a
// backslash.
func shellWords(cmd string) []string {
	var words []string
	var cur strings.Builder
	var st shellState
	for _, r := range cmd {
		if st.step(r) {
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

// shellState follows a shell's quoting over a command, one rune at a time.
type shellState struct {
	quote   rune // the open quote, ' or ", or 0 for none
	escaped bool // the previous rune was an escaping backslash
}

// step advances over r and reports whether r separates words: a space
// outside quotes, not escaped.
func (st *shellState) step(r rune) (separator bool) {
	switch {
	case st.escaped:
		st.escaped = false
	case r == '\\' && st.quote != '\'':
		st.escaped = true
	case st.quote != 0 && r == st.quote:
		st.quote = 0
	case st.quote == 0 && (r == '\'' || r == '"'):
		st.quote = r
	case st.quote == 0 && r == ' ':
		return true
	}
	return false
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
