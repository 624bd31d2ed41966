package alert

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// chatNotification is an AWS Chatbot (Amazon Q Developer in chat
// applications) custom notification.
type chatNotification struct {
	Version  string       `json:"version"`
	Source   string       `json:"source"`
	ID       string       `json:"id,omitempty"`
	Content  chatContent  `json:"content"`
	Metadata chatMetadata `json:"metadata"`
}

type chatContent struct {
	TextType    string   `json:"textType"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

type chatMetadata struct {
	ThreadID          string            `json:"threadId"`
	Summary           string            `json:"summary"`
	EventType         string            `json:"eventType"`
	RelatedResources  []string          `json:"relatedResources,omitempty"`
	AdditionalContext map[string]string `json:"additionalContext,omitempty"`
}

// maxChatResources bounds the FSx resources listed in chat.
const maxChatResources = 10

// maxChatStatements bounds the policy statements quoted per finding in chat.
const maxChatStatements = 5

// chatStatementMax bounds a policy statement quoted in chat; the email and
// the machine form carry it up to MaxStatement.
const chatStatementMax = 600

var chatIcon = map[Severity]string{Critical: ":rotating_light:", Warning: ":warning:", Info: ":white_check_mark:"}

// Chat returns the AWS Chatbot custom notification JSON. Its threadId is
// the key ARN, so every alert on one key lands in one thread.
//
// Text from outside fsxkms is data in the card: control and invisible
// characters are escaped; < > & are entities, so it cannot make a
// <url|text> link or a <!channel>, <!here> or <@U123> mention; a word of it
// that could format (*, _, ~), link (a URL or host name) or mention (@) is
// code; a policy statement is a code block; and a line break in it never
// makes a next step. Links are fsxkms's console links only.
func (a Alert) Chat() ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	a = a.filled()
	return marshal(a.chat())
}

// plainChat escapes text for a chat field shown as is.
func plainChat(s string) string { return entities.Replace(escape(s)) }

func (a Alert) chat() chatNotification {
	var d strings.Builder
	fmt.Fprintf(&d, "*%s* · %s · account %s · %s\n", plainChat(string(a.Severity)), plainChat(string(a.Status)), code(a.Account), code(a.Region))
	fmt.Fprintf(&d, "*Key:* %s", code(a.Key.ARN))
	if st := chatLine(a.keyStatePieces(), false); st != "" {
		fmt.Fprintf(&d, " — %s", st)
	}
	d.WriteString("\n")
	if ev := a.eventPieces(); len(ev) > 0 {
		fmt.Fprintf(&d, "*Event:* %s", chatLine(ev, false))
		if a.Trigger.Actor != "" {
			fmt.Fprintf(&d, " by %s", code(a.Trigger.Actor))
		}
		if a.Trigger.SourceIP != "" {
			fmt.Fprintf(&d, " from %s", code(a.Trigger.SourceIP))
		}
		if !a.Trigger.EventTime.IsZero() {
			fmt.Fprintf(&d, " at %s", a.Trigger.EventTime.UTC().Format("2006-01-02 15:04:05Z"))
		}
		d.WriteString("\n")
	}
	if len(a.Resources) > 0 {
		label := "FSx at risk"
		if !a.atRisk() {
			label = "FSx resources on this key"
		}
		fmt.Fprintf(&d, "*%s (%d):*\n", label, len(a.Resources))
		rs := slices.Clone(a.Resources)
		slices.SortStableFunc(rs, func(x, y Resource) int { return kindOf(x.Type).rank - kindOf(y.Type).rank })
		for i, r := range rs {
			if i == maxChatResources {
				fmt.Fprintf(&d, "• and %s (the machine form lists them all)\n", strings.Join(countKinds(rs[i:]), ", "))
				break
			}
			fmt.Fprintf(&d, "• %s\n", chatLine(r.describe(), false))
		}
	}
	for _, f := range a.Findings {
		fmt.Fprintf(&d, "*%s* (%s): %s", chatValue(string(f.Code), false), plainChat(string(f.Severity)), chatProse(f.Message))
		if why := f.why(); len(why) > 0 {
			fmt.Fprintf(&d, " _%s_", chatLine(why, false))
		}
		d.WriteString("\n")
		for i, s := range f.Statements {
			if i == maxChatStatements {
				fmt.Fprintf(&d, "and %d more statements (see the email)\n", len(f.Statements)-i)
				break
			}
			d.WriteString(codeBlock(bound(s, chatStatementMax)) + "\n")
		}
	}

	var steps []string
	for _, f := range a.Findings {
		for _, l := range a.remediationLines(f) {
			if js, ok := jsonLine(l); ok {
				steps = append(steps, codeBlock(string(js)))
			} else if isCommand(l) {
				steps = append(steps, "`"+entities.Replace(strings.ReplaceAll(commandText(l), "`", "'"))+"`")
			} else {
				steps = append(steps, chatLine(l, true))
			}
		}
	}
	for _, l := range a.links() {
		name := l.label
		if l.id != "" && plainWord(l.id) {
			name += " " + l.id
		}
		steps = append(steps, fmt.Sprintf("<%s|%s>", l.url, plainChat(name)))
	}

	kw := []string{plainChat(string(a.Severity)), plainChat(string(a.Status))}
	seen := map[string]bool{}
	for _, f := range a.Findings {
		if code := string(f.Code); code != "" && !seen[code] {
			seen[code] = true
			kw = append(kw, plainChat(code))
		}
	}
	kw = append(kw, plainChat(a.Region))

	related := []string{}
	if a.Key.ARN != "" {
		related = append(related, plainChat(a.Key.ARN))
	}
	for i, r := range a.Resources {
		if r.ARN != "" && i < maxChatResources {
			related = append(related, plainChat(r.ARN))
		}
	}
	ctx := map[string]string{"schema": Schema, "account": plainChat(a.Account), "region": plainChat(a.Region), "keyId": plainChat(a.KeyID())}
	if a.Trigger.EventID != "" {
		ctx["eventId"] = plainChat(a.Trigger.EventID)
	}
	if !a.CheckedAt.IsZero() {
		ctx["checkedAt"] = a.CheckedAt.UTC().Format(time.RFC3339)
	}
	if a.Sender != "" {
		ctx["sender"] = plainChat(a.Sender)
	}
	title := chatLine(a.titlePieces(), false)
	return chatNotification{
		Version: "1.0",
		Source:  "custom",
		ID:      plainChat(a.Trigger.EventID),
		Content: chatContent{
			TextType:    "client-markdown",
			Title:       chatIcon[a.Severity] + " " + title,
			Description: strings.TrimRight(d.String(), "\n"),
			NextSteps:   steps,
			Keywords:    kw,
		},
		Metadata: chatMetadata{
			ThreadID:          a.threadID(),
			Summary:           fmt.Sprintf("[%s] %s", plainChat(string(a.Severity)), title),
			EventType:         plainChat(orDash(a.Code())),
			RelatedResources:  related,
			AdditionalContext: ctx,
		},
	}
}

// threadID groups the alerts of one key into one chat thread.
func (a Alert) threadID() string {
	if a.Key.ARN != "" {
		return "fsxkms:" + plainChat(a.Key.ARN)
	}
	return "fsxkms:" + plainChat(a.keyName().s)
}

// clip shortens s to at most n bytes (on a rune boundary) with a marker:
// the cut made to fit the SNS message limit (bound is the cut of a value to
// its own bound).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	marker := fmt.Sprintf(" ...[truncated by fsxkms: %d bytes in all]", len(s))
	cut := max(0, n-len(marker))
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + marker
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
