package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fsxkms/fsxkms/pkg/finding"
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
// characters) and a plain-text body for an 80-column reader: what
// happened, the findings with their fixes and references, then the FSx
// resources (at most maxEmailResources named, each once, the others
// counted by kind with the command and console page that list them), the
// console links and a footer naming the sender.
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
	if !a.CheckedAt.IsZero() {
		field(&b, "Checked", lit(a.CheckedAt.UTC().Format(time.RFC3339)))
	}
	field(&b, "Who", val(a.Trigger.Actor))
	field(&b, "From", val(a.Trigger.SourceIP))
	field(&b, "Event ID", val(a.Trigger.EventID))
	field(&b, "Key", val(a.Key.ARN))
	if a.Key.ARN != "" || a.Key.State != "" {
		field(&b, "Key state", a.keyStatePieces()...)
	}
	var aliases []piece
	for i, al := range a.Key.Aliases {
		if i > 0 {
			aliases = append(aliases, lit(", "))
		}
		aliases = append(aliases, val(al))
	}
	field(&b, "Aliases", aliases...)
	if a.AccountName != "" {
		field(&b, "Account", val(a.Account), lit(" ("), val(a.AccountName), lit(")"))
	} else {
		field(&b, "Account", val(a.Account))
	}
	field(&b, "Region", val(a.Region))
	b.WriteString("\n")

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
			if f.Code.Known() {
				b.WriteString("   Reference:\n   " + f.Code.Reference() + "\n")
			}
			b.WriteString("\n")
		}
	}

	if len(a.Resources) > 0 {
		a.emailResources(&b)
		b.WriteString("\n")
	}

	b.WriteString("Console\n")
	for _, l := range a.links() {
		if l.resource {
			continue // the resources are listed above, each once
		}
		b.WriteString("  " + unbreak(emailLine(l.name(), false, maxInline)) + ":\n  " + l.url + "\n")
	}
	b.WriteString("\n")
	sender := []piece{lit("-- Sent by fsxkms (" + Schema + ").")}
	if a.Sender != "" {
		sender = []piece{lit("-- Sent by "), val(bound(a.Sender, maxInline)), lit(" (fsxkms, " + Schema + ").")}
	}
	sender = append(sender, lit(" Subscriptions can filter on the message attributes severity, status, code, "+
		"key_id, account, region, event_name and notice."))
	b.WriteString(unbreak(wrap(emailLine(sender, true, maxInline), "", "   ")))
	return subject, b.String()
}

// maxEmailResources bounds the FSx resources an email names; the others are
// counted by kind, and the machine form lists them all.
const maxEmailResources = 10

// emailResources writes the FSx resources: at most maxEmailResources,
// file systems first, then how many more of each kind, then for each kind
// on the key the command and the console page that list them.
func (a Alert) emailResources(b *strings.Builder) {
	label := "FSx resources at risk"
	if !a.atRisk() {
		label = "FSx resources using this key"
	}
	fmt.Fprintf(b, "%s (%d)\n", label, len(a.Resources))
	rs := slices.Clone(a.Resources)
	slices.SortStableFunc(rs, func(x, y Resource) int { return kindOf(x.Type).rank - kindOf(y.Type).rank })
	shown := rs[:min(len(rs), maxEmailResources)]
	for _, r := range shown {
		// Values are quoted: one that starts a line there must not pass
		// for one of the commands below.
		b.WriteString(unbreak(wrap(emailLine(r.describe(), true, maxInline), "  - ", "    ")))
	}
	if more := countKinds(rs[len(shown):]); len(more) > 0 {
		b.WriteString(wrap("and "+strings.Join(more, ", "), "  - ", "    "))
	}
	for _, k := range resourceKinds {
		if !slices.ContainsFunc(rs, func(r Resource) bool { return r.Type == k.typ }) {
			continue
		}
		fmt.Fprintf(b, "  %s on this key:\n", capitalize(k.plural))
		if cmd, ok := a.listCommand(k); ok {
			b.WriteString(remedy([][]piece{cmd}, "    "))
		}
		if k.console != "" {
			b.WriteString("    " + a.consoleHost() + "/fsx/home" + a.consoleQuery() + "#" + k.console + "\n")
		}
	}
	switch {
	case slices.ContainsFunc(a.Findings, func(f Finding) bool { return f.Code == finding.AlertTruncated }):
		b.WriteString(wrap(fmt.Sprintf("The machine form (SQS and Lambda subscribers) lists these %d; the others were "+
			"left out to fit SNS (ALERT_TRUNCATED).", len(rs)), "  ", "  "))
	case len(shown) < len(rs):
		b.WriteString(wrap(fmt.Sprintf("The machine form (SQS and Lambda subscribers) lists all %d.", len(rs)), "  ", "  "))
	}
}

// resourceKind is a kind of FSx resource that carries a key, with the AWS
// CLI command and the console page that list them.
type resourceKind struct {
	typ, one, plural string
	rank             int
	command, list    string // describe command and its list's name
	idField          string
	console          string // fragment of the FSx console page, "" for none known
}

var resourceKinds = []resourceKind{
	{"file-system", "file system", "file systems", 0, "describe-file-systems", "FileSystems", "FileSystemId", "file-systems"},
	{"backup", "backup", "backups", 1, "describe-backups", "Backups", "BackupId", "backups"},
	{"file-cache", "file cache", "file caches", 2, "describe-file-caches", "FileCaches", "FileCacheId", ""},
}

// kindOf is the kind of resources of type typ; another type is "other
// resources", listed last, with no command.
func kindOf(typ string) resourceKind {
	for _, k := range resourceKinds {
		if k.typ == typ {
			return k
		}
	}
	return resourceKind{one: "other resource", plural: "other resources", rank: len(resourceKinds)}
}

// countKinds counts rs by kind, e.g. "390 backups", "1 file cache".
func countKinds(rs []Resource) []string {
	var out []string
	for i := 0; i < len(rs); {
		k := kindOf(rs[i].Type)
		j := i
		for j < len(rs) && kindOf(rs[j].Type).rank == k.rank {
			j++
		}
		noun := k.plural
		if j-i == 1 {
			noun = k.one
		}
		out = append(out, fmt.Sprintf("%d %s", j-i, noun))
		i = j
	}
	return out
}

// listCommand lists the resources of kind k on the key, with their state,
// e.g. aws fsx describe-backups --region R --query "Backups[?KmsKeyId=='K']...".
// A key ARN that is not a plain word makes no command: it would not be a
// JMESPath literal.
func (a Alert) listCommand(k resourceKind) ([]piece, bool) {
	if k.command == "" || a.Key.ARN == "" || !plainWord(a.Key.ARN) {
		return nil, false
	}
	return []piece{
		lit(fmt.Sprintf(`aws fsx %s --region %s --query "%s[?KmsKeyId=='`, k.command, a.linkRegion(), k.list)),
		val(a.Key.ARN),
		lit(fmt.Sprintf(`'].[%s,Lifecycle]"`, k.idField)),
	}, true
}

// atRisk reports whether the alert says the FSx resources are at risk:
// not when it is only for the record (INFO: restored, resolved) or the
// key is compliant (a refused attempt changed nothing).
func (a Alert) atRisk() bool { return a.Severity != Info && a.Status != Compliant }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// describe says in a line why the alert goes out now.
func (n Notice) describe() string {
	var s string
	switch n.Reason {
	case finding.ReasonNew:
		s = "new problem"
	case finding.ReasonChanged:
		s = "the evidence changed"
	case finding.ReasonUnsent:
		s = "first delivery of an alert an earlier attempt failed to send"
	case finding.ReasonReminder:
		s = fmt.Sprintf("reminder %d", n.AlertsBefore)
	case finding.ReasonResolved:
		s = "resolved: " + strings.Join(boundAll(n.Resolved, 5), ", ")
	default:
		s = string(n.Reason)
	}
	if !n.OpenSince.IsZero() {
		verb := "open"
		if n.Reason == finding.ReasonResolved {
			verb = "lasted"
		}
		s += fmt.Sprintf("; %s %s, since %s", verb, n.OpenFor, n.OpenSince.UTC().Format(time.RFC3339))
	}
	if n.Reason != finding.ReasonResolved {
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
type link struct {
	label, id, url string
	resource       bool // a page about one FSx resource, or the FSx resources
}

func (l link) name() []piece {
	if l.id == "" {
		return []piece{lit(l.label)}
	}
	return []piece{lit(l.label + " "), val(l.id)}
}

// maxResourceLinks bounds the console links to FSx resources.
const maxResourceLinks = 5

// consoleHost is the AWS console for the alert's Region (linkRegion).
func (a Alert) consoleHost() string { return "https://" + a.linkRegion() + ".console.aws.amazon.com" }

// consoleQuery is the query string that selects the Region in the console.
func (a Alert) consoleQuery() string { return "?region=" + url.QueryEscape(a.linkRegion()) }

// links are the console pages for the key, the FSx resources and the
// event.
func (a Alert) links() []link {
	host, q := a.consoleHost(), a.consoleQuery()
	var ls []link
	if a.Key.ARN != "" {
		kind := "keys"
		if a.Key.Manager == "AWS" {
			kind = "defaultKeys"
		}
		ls = append(ls, link{label: "KMS key", url: host + "/kms/home" + q + "#/kms/" + kind + "/" + url.PathEscape(a.KeyID())})
	}
	for i, r := range a.Resources {
		if i == maxResourceLinks {
			ls = append(ls, link{label: "All FSx file systems", url: host + "/fsx/home" + q + "#file-systems", resource: true})
			break
		}
		switch {
		case r.Type == "file-system" && r.ID != "":
			ls = append(ls, link{"FSx file system", r.ID, host + "/fsx/home" + q + "#file-system-details/" + url.PathEscape(r.ID), true})
		case r.Type == "backup" && r.ID != "":
			ls = append(ls, link{"FSx backup", r.ID, host + "/fsx/home" + q + "#backup-details/" + url.PathEscape(r.ID), true})
		}
	}
	if len(a.Resources) == 0 {
		ls = append(ls, link{label: "FSx file systems", url: host + "/fsx/home" + q + "#file-systems"})
	}
	if a.Trigger.Source == SourceCloudTrail && a.Trigger.EventID != "" {
		ls = append(ls, link{label: "CloudTrail event", url: host + "/cloudtrailv2/home" + q + "#/events/" + url.PathEscape(a.Trigger.EventID)})
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
		for w := range strings.FieldsSeq(para) {
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
		for l := range strings.SplitSeq(pretty.String(), "\n") {
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
// shell continuations, so they still paste as one command: the command's
// own words on the first line, then its options, an option never apart
// from its value; a value from outside in a command is one quoted shell
// word. A key policy statement fsxkms wrote (a line that is a JSON object)
// is shown indented, ready to paste. Other lines are wrapped at fsxkms's
// own spaces, their values quoted; a comment ("# ...") stays one on every
// line it takes.
func remedy(ls [][]piece, indent string) string {
	var b strings.Builder
	for _, l := range ls {
		if js, ok := jsonLine(l); ok {
			b.WriteString(js.block(indent))
			continue
		}
		if !isCommand(l) {
			rest := indent
			if !l[0].data && strings.HasPrefix(l[0].s, "#") {
				rest = indent + "# "
			}
			b.WriteString(unbreak(wrap(fixLine(l), indent, rest)))
			continue
		}
		b.WriteString(command(commandText(l), indent))
	}
	return b.String()
}

// command writes a shell command at indent, on one line when it fits, else
// broken with continuations: its leading words (before the first option)
// on the first line, then its option groups, filled, on lines indented
// four more. A group too long for a line gets its own line, its option and
// first value together.
func command(line, indent string) string {
	if len(indent)+len(line) <= width {
		return indent + line + "\n"
	}
	var b strings.Builder
	cont := indent + "    "
	gs := optionGroups(shellWords(line))
	if len(gs) == 0 {
		return indent + line + "\n"
	}
	cur := indent + strings.Join(gs[0], " ")
	for i, g := range gs[1:] {
		joined := strings.Join(g, " ")
		switch {
		case i > 0 && len(cur)+1+len(joined)+2 <= width:
			cur += " " + joined
		case len(cont)+len(joined)+2 <= width:
			b.WriteString(cur + " \\\n")
			cur = cont + joined
		default: // A long group: "--option value", then its other words, filled.
			b.WriteString(cur + " \\\n")
			units := g
			if len(g) >= 2 && strings.HasPrefix(g[0], "--") {
				units = append([]string{g[0] + " " + g[1]}, g[2:]...)
			}
			cur = cont + units[0]
			for _, w := range units[1:] {
				if len(cur)+1+len(w)+2 > width {
					b.WriteString(cur + " \\\n")
					cur = cont + w
				} else {
					cur += " " + w
				}
			}
		}
	}
	b.WriteString(cur + "\n")
	return b.String()
}

// statementJSON is a key policy statement fsxkms wrote in a remediation.
type statementJSON string

// jsonLine reports whether l is a JSON object fsxkms wrote: it starts with
// fsxkms's own "{", every value in it is a plain word, and it is valid JSON.
func jsonLine(l []piece) (statementJSON, bool) {
	if len(l) == 0 || l[0].data || !strings.HasPrefix(l[0].s, "{") {
		return "", false
	}
	for _, p := range l {
		if p.data && !plainWord(p.s) {
			return "", false
		}
	}
	s := text(l)
	if !json.Valid([]byte(s)) {
		return "", false
	}
	return statementJSON(s), true
}

// block writes the statement pretty-printed under indent, escaped (an
// escape in a JSON string means the same character, so it still pastes).
func (s statementJSON) block(indent string) string {
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(s), "", "  "); err != nil {
		return indent + escape(string(s)) + "\n"
	}
	var b strings.Builder
	for l := range strings.SplitSeq(pretty.String(), "\n") {
		b.WriteString(strings.TrimRight(indent+escape(l), " ") + "\n")
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
