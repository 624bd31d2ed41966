package alert

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Everything in an alert but its severity, status and schema may come from
// outside fsxkms: a key policy (statement names, principals, condition
// values), an event (actor, event name, error code, source address, event
// ID), or an AWS answer. A key policy Sid may hold line breaks. So every
// rendering treats those strings as data: bounded (below), control and
// invisible characters escaped (escape), and laid out so that they cannot
// start a line of their own, a Fix line, a chat next step, a link or a
// mention. The machine form carries the values as they are (JSON escapes
// them), bounded.

// Bounds on the strings of an alert, applied to every form. A value over
// its bound is cut and ends in "… (clipped, N bytes)", N its full size.
const (
	MaxTitle       = 512  // the title
	MaxField       = 1024 // one value: an ARN, an ID, an alias, an event field, a code
	MaxMessage     = 4096 // a finding's message
	MaxStatement   = 8192 // one policy statement quoted in a finding
	MaxRemediation = 4096 // a finding's remediation
)

// maxInline bounds a value shown inside a line of fsxkms's own words (a
// statement name in a Fix comment, an alias in a title): it must leave room
// for those words in 80 columns.
const maxInline = 60

// bound cuts s to at most n bytes, on a rune boundary, ending in a marker
// that gives the full size. bound is idempotent: a bounded string is
// returned unchanged.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	marker := fmt.Sprintf("… (clipped, %d bytes)", len(s))
	cut := max(0, n-len(marker))
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + marker
}

// blank lists graphic characters that show as nothing or as a space, so
// they could fake indentation or hide text: Hangul fillers, the braille
// blank, Khmer inherent vowels, the combining grapheme joiner.
var blank = map[rune]bool{
	0x115F: true, 0x1160: true, 0x3164: true, 0xFFA0: true, 0x2800: true,
	0x17B4: true, 0x17B5: true, 0x034F: true,
}

// hidden reports whether r changes layout or hides text: C0 and C1
// controls, DEL, line and paragraph separators, format characters (bidi
// controls, zero-width characters, the BOM, tags), private use and
// unassigned code points, spaces other than U+0020, and blank.
func hidden(r rune) bool {
	if r == ' ' {
		return false
	}
	return !unicode.IsGraphic(r) || unicode.Is(unicode.Zs, r) || blank[r]
}

// escape shows every hidden character of s as an escape (\n, \r, \t,
// \xNN, \uNNNN, \UNNNNNNNN) and every invalid UTF-8 byte as \xNN, so s
// stays on one line, shows everything it holds and reads left to right.
func escape(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || hidden(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r > 0xFFFF && hidden(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		case hidden(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// quoted shows s as a double-quoted string: escaped, with its quotes and
// backslashes escaped too, so where it ends is never in doubt.
func quoted(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
	return `"` + escape(s) + `"`
}

// shellQuoted shows s (escaped already) as one shell word in single quotes.
func shellQuoted(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// defang keeps a URL in outside text from being turned into a link by a
// mail client: "https://x" becomes "https[:]//x".
func defang(s string) string { return strings.ReplaceAll(s, "://", "[:]//") }

// plainWord reports whether s is safe as is inside fsxkms's own words and
// in a shell command: letters, digits and . _ : / = + , @ % ^ - only.
func plainWord(s string) bool {
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'):
		case strings.ContainsRune("._:/=+,@%^-", r):
		default:
			return false
		}
	}
	return true
}

// piece is part of a text: fsxkms's own words, or a value from outside.
type piece struct {
	s    string
	data bool
}

func lit(s string) piece { return piece{s: s} }
func val(s string) piece { return piece{s: s, data: true} }

// nbsp stands for a space inside a value while an email line is wrapped:
// wrap breaks lines only at fsxkms's own spaces, so a value never starts a
// line it did not start in fsxkms's layout. escape never lets a raw NUL
// through, so it cannot come from outside.
const nbsp = "\x00"

// emailUnit renders a value for an email line of fsxkms's words: escaped,
// defanged, quoted (when it is not a plain word and quote is set, or it
// starts or ends with a space), with its spaces unbreakable; a value with
// spaces is clipped to max bytes so that it fits a line.
func emailUnit(s string, quote bool, max int) string {
	if plainWord(s) {
		return s
	}
	if strings.Contains(s, " ") {
		s = bound(s, max) // it cannot be broken: it must fit a line
	}
	s = defang(s)
	if quote || strings.TrimSpace(s) != s { // spaces around a value would shift a line
		s = quoted(s)
	} else {
		s = escape(s)
	}
	return strings.ReplaceAll(s, " ", nbsp)
}

// emailLine renders pieces for wrap: fsxkms's words escaped, values as
// units (quoted when quote is set) of at most max bytes when they hold
// spaces.
func emailLine(ps []piece, quote bool, max int) string {
	var b strings.Builder
	for _, p := range ps {
		if p.data {
			b.WriteString(emailUnit(p.s, quote, max))
		} else {
			b.WriteString(escape(p.s))
		}
	}
	return b.String()
}

// fixLine renders a line of a Fix section that is not a command: every
// value is quoted, even a plain word, so a value that starts a line there
// is plainly a value ("aws", not aws).
func fixLine(ps []piece) string {
	var b strings.Builder
	for _, p := range ps {
		if !p.data {
			b.WriteString(escape(p.s))
			continue
		}
		s := p.s
		if strings.Contains(s, " ") {
			s = bound(s, maxInline)
		}
		b.WriteString(strings.ReplaceAll(quoted(defang(s)), " ", nbsp))
	}
	return b.String()
}

// unbreak turns the placeholders of wrapped text back into spaces.
func unbreak(s string) string { return strings.ReplaceAll(s, nbsp, " ") }

// ---- chat (Slack mrkdwn, as AWS Chatbot passes it on) ----

// entities escapes the three characters Slack reads as control sequences
// (<url|text> links, <!channel>, <@U123> mentions).
var entities = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// code shows a value as an inline code span: escaped, its backticks made
// quotes, < > & as entities. In a code span Slack formats nothing and
// links nothing.
func code(s string) string {
	return "`" + entities.Replace(strings.ReplaceAll(escape(s), "`", "'")) + "`"
}

// codeBlock shows a value as a code block, on one line.
func codeBlock(s string) string {
	return "```" + entities.Replace(strings.ReplaceAll(escape(s), "`", "'")) + "```"
}

// domainLike matches a word Slack may turn into a link by itself.
var domainLike = regexp.MustCompile(`(?i)(^|[^a-z0-9-])(www\.|[a-z0-9-]+\.)+[a-z]{2,}($|[^a-z0-9-])`)

// risky reports whether a word of outside text could format, link or
// mention in chat: formatting characters at a word edge or next to
// punctuation, backticks, brackets, pipes, @ and #, URLs and host names.
func risky(w string) bool {
	if strings.ContainsAny(w, "`[]|@#") || strings.Contains(w, "://") || domainLike.MatchString(w) {
		return true
	}
	for i := 0; i < len(w); i++ {
		if strings.IndexByte("*_~", w[i]) < 0 {
			continue
		}
		if i == 0 || i == len(w)-1 || !alnum(w[i-1]) || !alnum(w[i+1]) {
			return true
		}
	}
	return false
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// edgePunct is punctuation kept outside the code span of a risky word.
const edgePunct = `()[],.;:!?"'`

// chatProse renders outside text in chat: escaped, one paragraph, < > & as
// entities, and every risky word as code (its surrounding punctuation left
// outside), so no word of it formats, links or mentions.
func chatProse(s string) string {
	s = escape(s)
	words := strings.Split(s, " ")
	for i, w := range words {
		if !risky(w) {
			words[i] = entities.Replace(w)
			continue
		}
		core := strings.TrimLeft(w, edgePunct)
		lead := w[:len(w)-len(core)]
		trimmed := strings.TrimRight(core, edgePunct)
		trail := core[len(trimmed):]
		if risky(trimmed) && !strings.ContainsAny(lead+trail, "[]") {
			words[i] = entities.Replace(lead) + code(trimmed) + entities.Replace(trail)
		} else {
			words[i] = code(w)
		}
	}
	return strings.Join(words, " ")
}

// chatValue renders a value inside fsxkms's words in chat: as is when it is
// a plain word that cannot format or link; quoted as code when quote is set
// and it is not a plain word; else as chatProse.
func chatValue(s string, quote bool) string {
	switch {
	case plainWord(s) && !risky(s):
		return s
	case quote && !plainWord(s):
		return code(quoted(bound(s, 2*maxInline)))
	}
	return chatProse(s)
}

// chatLine renders pieces in chat: fsxkms's words escaped, values through
// chatValue. With quote set (a line of a remediation shown as text: a next
// step), fsxkms's words are shown as chatProse too, so that a URL or a
// host name of theirs is code whether or not a value in the line made it
// text (a value "aws " turns "aws kms put-key-policy ... file://p.json"
// into text).
func chatLine(ps []piece, quote bool) string {
	var b strings.Builder
	for _, p := range ps {
		switch {
		case p.data:
			b.WriteString(chatValue(p.s, quote))
		case quote:
			b.WriteString(chatProse(p.s))
		default:
			b.WriteString(entities.Replace(escape(p.s)))
		}
	}
	return b.String()
}

// ---- values embedded in a remediation ----

// spans splits text into fsxkms's words and the values from outside that it
// embeds: every occurrence of one of values that is not part of a longer
// word (the longest first, left to right). A value found that way is never
// read as part of a command or as a line of its own, whatever it holds (a
// statement name with a line break, spaces or quotes).
func spans(text string, values []string) []piece {
	type hit struct{ at, end int }
	var vs []string
	seen := map[string]bool{}
	for _, v := range values {
		if telling(v) && !seen[v] {
			seen[v] = true
			vs = append(vs, v)
		}
	}
	edge := func(before, first byte) bool { return !alnum(before) || !alnum(first) }
	var hits []hit
	for _, v := range vs {
		for i := 0; i <= len(text)-len(v); {
			j := strings.Index(text[i:], v)
			if j < 0 {
				break
			}
			at, end := i+j, i+j+len(v)
			if (at == 0 || edge(text[at-1], v[0])) && (end == len(text) || edge(text[end], v[len(v)-1])) {
				hits = append(hits, hit{at, end})
				i = end
			} else {
				i = at + 1
			}
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].at != hits[j].at {
			return hits[i].at < hits[j].at
		}
		return hits[i].end > hits[j].end
	})
	var ps []piece
	last := 0
	for _, h := range hits {
		if h.at < last {
			continue // overlaps a longer or earlier value
		}
		if h.at > last {
			ps = append(ps, lit(text[last:h.at]))
		}
		ps = append(ps, val(text[h.at:h.end]))
		last = h.end
	}
	if last < len(text) {
		ps = append(ps, lit(text[last:]))
	}
	return ps
}

// telling reports whether a value must be found in a remediation: it holds
// a letter, a digit, a hidden character, or punctuation that means
// something to a shell or in chat (quotes, ; & | < > $ ( ) * ? [ ] { } ! ~
// # _ @ and the backslash). A value of spaces and . , : = + / % ^ - alone
// (" -", "--") can say nothing, and looking for it would only capture
// fsxkms's own punctuation (which would then be shown quoted: uglier,
// never unsafe).
func telling(v string) bool {
	if strings.TrimSpace(v) == "" {
		// Only spaces and line breaks: indistinguishable from fsxkms's own
		// layout, so looking for it would glue fsxkms's lines together.
		// Producers embed AWS identifiers, which never are blank.
		return false
	}
	for _, r := range v {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == utf8.RuneError || hidden(r) ||
			strings.ContainsRune("\"'`\\;&|<>$()*?[]{}!~#_@", r) {
			return true
		}
	}
	return false
}

// lines splits pieces at the line breaks of fsxkms's words (values are
// never split) and trims the space around each line.
func lines(ps []piece) [][]piece {
	var out [][]piece
	var cur []piece
	for _, p := range ps {
		if p.data {
			cur = append(cur, p)
			continue
		}
		parts := strings.Split(p.s, "\n")
		for i, part := range parts {
			if i > 0 {
				out = append(out, cur)
				cur = nil
			}
			if part != "" {
				cur = append(cur, lit(part))
			}
		}
	}
	out = append(out, cur)
	var kept [][]piece
	for _, l := range out {
		if len(l) > 0 && !l[0].data {
			l[0].s = strings.TrimLeft(l[0].s, " \t\r")
		}
		if n := len(l); n > 0 && !l[n-1].data {
			l[n-1].s = strings.TrimRight(l[n-1].s, " \t\r")
		}
		empty := true
		for _, p := range l {
			if p.s != "" {
				empty = false
			}
		}
		if !empty {
			kept = append(kept, l)
		}
	}
	return kept
}

// isCommand reports whether a remediation line is a command fsxkms wrote:
// it starts with fsxkms's own "aws " or "fsxkms ", and no value in it is a
// word of its own starting with "-" (quoted or not, the CLI would read it as
// an option): such a line is shown as text, its values quoted.
func isCommand(l []piece) bool {
	// A plain word that happens to equal a value ("aws") is still fsxkms's
	// word; any other value at the start makes the line text.
	var start strings.Builder
	for _, p := range l {
		if p.data && !plainWord(p.s) {
			break
		}
		start.WriteString(p.s)
		if start.Len() > len("fsxkms ") {
			break
		}
	}
	if s := start.String(); !strings.HasPrefix(s, "aws ") && !strings.HasPrefix(s, "fsxkms ") {
		return false
	}
	for i, p := range l {
		if !p.data || !strings.HasPrefix(p.s, "-") {
			continue
		}
		startsWord := i == 0 || l[i-1].data || strings.HasSuffix(l[i-1].s, " ")
		endsWord := strings.ContainsRune(p.s, ' ') || i == len(l)-1 || l[i+1].data || strings.HasPrefix(l[i+1].s, " ")
		if startsWord && endsWord {
			return false // a whole word of its own: an option
		}
	}
	return true
}

// commandText renders a command line: fsxkms's words escaped, values that
// are not plain words quoted for where they stand (a single-quoted shell
// word; inside fsxkms's own double or single quotes, escaped for those), so
// a value is never more than one argument. Values are defanged: a mail
// client must not make a link of one.
func commandText(l []piece) string {
	var b strings.Builder
	var quote rune // the shell quote open in fsxkms's words, if any
	for _, p := range l {
		if !p.data {
			s := escape(p.s)
			quote = shellQuoteAfter(quote, s)
			b.WriteString(s)
			continue
		}
		if plainWord(p.s) {
			b.WriteString(p.s)
			continue
		}
		v := escape(defang(p.s))
		switch quote {
		case '"':
			b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`").Replace(v))
		case '\'':
			b.WriteString(strings.ReplaceAll(v, "'", `'\''`))
		default:
			b.WriteString(shellQuoted(v))
		}
	}
	return b.String()
}

// shellQuoteAfter is the shell quote open after s, given the one open
// before it (0 for none).
func shellQuoteAfter(quote rune, s string) rune {
	st := shellState{quote: quote}
	for _, r := range s {
		st.step(r)
	}
	return st.quote
}

// remediationLines is the remediation of f as lines, each value it embeds
// from the alert kept inside its line.
func (a Alert) remediationLines(f Finding) [][]piece {
	return lines(spans(strings.TrimSpace(f.Remediation), a.outsideValues(f)))
}

// outsideValues are the strings of a and f that came from outside fsxkms
// and that a remediation may embed: statement names, the principal, the key ARN, aliases,
// event fields and FSx resource IDs. The event name is left out: fsxkms
// judges only the KMS events it knows by name, and their names are words
// of its own remediations ("the grant allows RetireGrant").
func (a Alert) outsideValues(f Finding) []string {
	vs := append([]string{}, f.Statements...)
	vs = append(vs, f.Principal, a.Key.ARN)
	vs = append(vs, a.Key.Aliases...)
	t := a.Trigger
	vs = append(vs, t.Actor, t.EventID, t.SourceIP, t.ErrorCode)
	for _, r := range a.Resources {
		vs = append(vs, r.ID, r.ARN)
	}
	return vs
}

// ---- console links ----

// regionPattern is the shape of an AWS Region name, e.g. us-east-1,
// us-gov-west-1, ap-southeast-5.
var regionPattern = regexp.MustCompile(`^[a-z]{2,3}(-[a-z]+)+-[0-9]{1,2}$`)

// linkRegion is the Region used in console links: the alert's, when it
// looks like a Region (a key ARN from outside must not choose the host of a
// link), else us-east-1.
func (a Alert) linkRegion() string {
	if regionPattern.MatchString(a.Region) {
		return a.Region
	}
	return "us-east-1"
}
