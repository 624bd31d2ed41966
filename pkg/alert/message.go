package alert

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fsxkms/fsxkms/pkg/finding"
)

// MaxMessageBytes is the SNS limit on one published message, counting the
// message, its subject and its message attributes (256 KiB).
const MaxMessageBytes = 256 * 1024

// MaxSubject is the longest SNS subject: SNS wants fewer than 100 characters.
const MaxSubject = 99

// sizeMargin leaves room for what SNS may count that we do not see.
const sizeMargin = 1024

// Message is an alert ready for SNS, free of SDK types.
type Message struct {
	Subject    string            // Email subject, SNS-legal.
	Body       string            // The MessageStructure=json document.
	Attributes map[string]string // Non-empty String message attributes.
	Shortened  bool              // Parts were cut to respect MaxMessageBytes.
}

// Message builds the SNS message of a: a MessageStructure=json document with
// "default", "sqs" and "lambda" carrying the machine form, "email" the email
// body and "https" the Chatbot notification. If it would exceed
// MaxMessageBytes the longest texts, then the longest lists, are cut with a
// visible marker; it never fails for size.
func (a Alert) Message() (Message, error) {
	if err := a.Validate(); err != nil {
		return Message{}, err
	}
	a = a.filled()
	subject, _ := a.Email()
	m := Message{Subject: subject, Attributes: a.attributes()}
	budget := MaxMessageBytes - sizeMargin - len(subject)
	for k, v := range m.Attributes {
		budget -= len(k) + len("String") + len(v)
	}

	fits := func(b Alert) (string, bool) {
		if 3*b.textBytes() > budget { // The machine form alone is there 3 times.
			return "", false
		}
		doc, err := b.document()
		return doc, err == nil && len(doc) <= budget
	}
	if doc, ok := fits(a); ok {
		m.Body = doc
		return m, nil
	}
	m.Shortened = true

	// Phase 1: cap every free text at the largest size that fits.
	const floor = 64
	if doc, ok := fits(a.capped(floor, -1)); ok {
		_, m.Body = largestFit(floor, min(a.longestText(), budget), doc, func(n int) (string, bool) { return fits(a.capped(n, -1)) })
		return m, nil
	}

	// Phase 2: also keep only the first n entries of every list (long
	// lists are what does not fit: thousands of FSx resources), texts cut
	// to keepText when that fits with empty lists, so that a finding's
	// message and fix stay readable, else to floor.
	textMax := floor
	if _, ok := fits(a.capped(keepText, 0)); ok {
		textMax = keepText
	}
	lo, _ := largestFit(0, a.longestList(), "", func(n int) (string, bool) { return fits(a.capped(textMax, n)) }) // fits(lo) checked below.
	doc, ok := fits(a.capped(textMax, lo))
	if !ok {
		// Unreachable with sane budgets; still publish a small valid message.
		var err error
		if doc, err = a.capped(floor, 0).document(); err != nil {
			return Message{}, fmt.Errorf("alert: message for %s: %w", a.Key.ARN, err)
		}
	}
	m.Body = doc
	return m, nil
}

// largestFit is the largest n from lo to hi-1 at which try succeeds, and
// what try gave there, by bisection: try(lo) is taken to succeed, giving
// atLo, and try(hi) to fail.
func largestFit[T any](lo, hi int, atLo T, try func(n int) (T, bool)) (int, T) {
	best := atLo
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if v, ok := try(mid); ok {
			lo, best = mid, v
		} else {
			hi = mid
		}
	}
	return lo, best
}

// document renders the MessageStructure=json document.
func (a Alert) document() (string, error) {
	machine, err := marshal(a)
	if err != nil {
		return "", err
	}
	chat, err := marshal(a.chat())
	if err != nil {
		return "", err
	}
	_, email := a.Email()
	doc, err := marshal(map[string]string{
		"default": string(machine),
		"sqs":     string(machine),
		"lambda":  string(machine),
		"email":   email,
		"https":   string(chat),
	})
	return string(doc), err
}

// attributes are the SNS message attributes subscriptions filter on.
// SNS rejects empty String attributes, so empty ones are left out.
func (a Alert) attributes() map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{
		"severity":   string(a.Severity),
		"status":     string(a.Status),
		"code":       a.Code(),
		"key_id":     a.KeyID(),
		"account":    a.Account,
		"region":     a.Region,
		"event_name": a.Trigger.EventName,
		"notice":     a.noticeReason(),
	} {
		// SNS takes printable characters only: escape the rest.
		if v = strings.TrimSpace(escape(v)); v != "" {
			m[k] = clip(v, 256)
		}
	}
	return m
}

func (a Alert) noticeReason() string {
	if a.Notice == nil {
		return ""
	}
	return string(a.Notice.Reason)
}

// keepText is what a free text keeps when an alert's lists must be cut to
// fit SNS: a finding's fix as pkg/check writes it, whole.
const keepText = 2048

// idMax bounds identifiers (ARNs, IDs) once an alert must be shortened;
// 2048 is the longest ARN AWS issues.
const idMax = 2048

// capped returns a copy with every free text clipped to textMax bytes and,
// if listMax >= 0, every list cut to listMax entries. A finding
// ALERT_TRUNCATED says what was left out.
func (a Alert) capped(textMax, listMax int) Alert {
	c := func(s string) string { return clip(s, textMax) }
	id := func(s string) string { return clip(s, idMax) }
	var cutRes, cutFind, cutStmt, cutAlias int
	cut := func(n int, count *int) int {
		if listMax >= 0 && n > listMax {
			*count += n - listMax
			return listMax
		}
		return n
	}

	a.Title = clip(a.Title, max(textMax, 200))
	a.Account, a.Region = id(a.Account), id(a.Region)
	a.Key = Key{ARN: id(a.Key.ARN), State: id(a.Key.State), Manager: id(a.Key.Manager),
		Aliases: mapSlice(a.Key.Aliases[:cut(len(a.Key.Aliases), &cutAlias)], id)}
	t := &a.Trigger
	t.EventName, t.EventID, t.Actor, t.SourceIP, t.ErrorCode = id(t.EventName), id(t.EventID), id(t.Actor), id(t.SourceIP), id(t.ErrorCode)
	t.Source = id(t.Source)

	rs := make([]Resource, cut(len(a.Resources), &cutRes))
	for i := range rs {
		r := a.Resources[i]
		rs[i] = Resource{Type: id(r.Type), ID: id(r.ID), ARN: id(r.ARN), FileSystemType: id(r.FileSystemType), Lifecycle: id(r.Lifecycle)}
	}
	a.Resources = rs

	fs := make([]Finding, cut(len(a.Findings), &cutFind))
	for i := range fs {
		f := a.Findings[i]
		fs[i] = Finding{Code: finding.Code(id(string(f.Code))), Severity: f.Severity, Action: c(f.Action), Decision: c(f.Decision),
			Statements:  mapSlice(f.Statements[:cut(len(f.Statements), &cutStmt)], c),
			Message:     c(f.Message),
			Remediation: c(f.Remediation)}
	}
	if cutRes+cutFind+cutStmt+cutAlias > 0 {
		fs = append(fs, Finding{
			Code:       finding.AlertTruncated,
			Severity:   Info,
			Statements: []string{},
			Message: fmt.Sprintf("This alert was shortened to fit the SNS 256 KB message limit; not listed: "+
				"%d FSx resources, %d findings, %d policy statements, %d aliases.", cutRes, cutFind, cutStmt, cutAlias),
		})
	}
	a.Findings = fs
	return a
}

func mapSlice(s []string, f func(string) string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// textBytes is the size of all strings in a: a lower bound of its machine
// form, cheap to compute before rendering.
func (a Alert) textBytes() int {
	n := len(a.Title) + len(a.Account) + len(a.Region) + len(a.Key.ARN) + len(a.Key.State) + len(a.Key.Manager)
	for _, s := range a.Key.Aliases {
		n += len(s)
	}
	t := a.Trigger
	n += len(t.Source) + len(t.EventName) + len(t.EventID) + len(t.Actor) + len(t.SourceIP) + len(t.ErrorCode)
	for _, r := range a.Resources {
		n += len(r.Type) + len(r.ID) + len(r.ARN) + len(r.FileSystemType) + len(r.Lifecycle)
	}
	for _, f := range a.Findings {
		n += len(f.Code) + len(f.Action) + len(f.Decision) + len(f.Message) + len(f.Remediation)
		for _, s := range f.Statements {
			n += len(s)
		}
	}
	return n
}

func (a Alert) longestText() int {
	n := 0
	for _, f := range a.Findings {
		n = max(n, len(f.Action), len(f.Decision), len(f.Message), len(f.Remediation))
		for _, s := range f.Statements {
			n = max(n, len(s))
		}
	}
	return n
}

func (a Alert) longestList() int {
	n := max(len(a.Resources), len(a.Findings), len(a.Key.Aliases))
	for _, f := range a.Findings {
		n = max(n, len(f.Statements))
	}
	return n
}

// snsSubject makes s a legal SNS subject: printable ASCII, no line breaks,
// starting with a letter, digit or punctuation, at most MaxSubject bytes.
// Other characters become '?'; an over-long subject ends in "...".
func snsSubject(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			space = true
			continue
		case r < 0x20 || r == 0x7f:
			continue
		case r > 0x7e:
			r = '?'
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := b.String()
	if out == "" {
		out = "fsxkms alert"
	}
	if len(out) > MaxSubject {
		out = strings.TrimRight(out[:MaxSubject-3], " ") + "..."
	}
	return out
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
