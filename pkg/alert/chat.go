package alert

import (
	"fmt"
	"strings"
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

// chatStatementMax bounds a policy statement quoted in chat; the email and
// the machine form carry it whole.
const chatStatementMax = 600

var chatIcon = map[Severity]string{Critical: ":rotating_light:", Warning: ":warning:", Info: ":white_check_mark:"}

// Chat returns the AWS Chatbot custom notification JSON. Its threadId is
// the key ARN, so every alert on one key lands in one thread.
func (a Alert) Chat() ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	a = a.filled()
	return marshal(a.chat())
}

func (a Alert) chat() chatNotification {
	var d strings.Builder
	fmt.Fprintf(&d, "*%s* · %s · account `%s` · `%s`\n", a.Severity, a.Status, a.Account, a.Region)
	fmt.Fprintf(&d, "*Key:* `%s`", a.Key.ARN)
	if st := a.keyState(); st != "" {
		fmt.Fprintf(&d, " — %s", st)
	}
	d.WriteString("\n")
	if ev := a.eventLine(); ev != "" {
		fmt.Fprintf(&d, "*Event:* %s", md(ev))
		if a.Trigger.Actor != "" {
			fmt.Fprintf(&d, " by `%s`", a.Trigger.Actor)
		}
		if a.Trigger.SourceIP != "" {
			fmt.Fprintf(&d, " from `%s`", a.Trigger.SourceIP)
		}
		if !a.Trigger.EventTime.IsZero() {
			fmt.Fprintf(&d, " at %s", a.Trigger.EventTime.UTC().Format("2006-01-02 15:04:05Z"))
		}
		d.WriteString("\n")
	}
	if len(a.Resources) > 0 {
		fmt.Fprintf(&d, "*FSx at risk (%d):*\n", len(a.Resources))
		for i, r := range a.Resources {
			if i == maxChatResources {
				fmt.Fprintf(&d, "• and %d more (see the email or the machine form)\n", len(a.Resources)-i)
				break
			}
			fmt.Fprintf(&d, "• %s\n", md(r.describe()))
		}
	}
	for _, f := range a.Findings {
		fmt.Fprintf(&d, "*%s* (%s): %s", f.Code, f.Severity, md(f.Message))
		if why := f.why(); why != "" {
			fmt.Fprintf(&d, " _%s_", md(why))
		}
		d.WriteString("\n")
		for _, s := range f.Statements {
			fmt.Fprintf(&d, "```%s```\n", strings.ReplaceAll(clip(s, chatStatementMax), "```", "'''"))
		}
	}

	var steps []string
	for _, f := range a.Findings {
		for _, line := range strings.Split(strings.TrimSpace(f.Remediation), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				if strings.HasPrefix(line, "aws ") {
					line = "`" + strings.ReplaceAll(line, "`", "'") + "`"
				}
				steps = append(steps, line)
			}
		}
	}
	for _, l := range a.links() {
		steps = append(steps, fmt.Sprintf("<%s|%s>", l.url, l.name))
	}

	kw := []string{string(a.Severity), string(a.Status)}
	seen := map[string]bool{}
	for _, f := range a.Findings {
		if f.Code != "" && !seen[f.Code] {
			seen[f.Code] = true
			kw = append(kw, f.Code)
		}
	}
	kw = append(kw, a.Region)

	related := []string{}
	if a.Key.ARN != "" {
		related = append(related, a.Key.ARN)
	}
	for i, r := range a.Resources {
		if r.ARN != "" && i < maxChatResources {
			related = append(related, r.ARN)
		}
	}
	ctx := map[string]string{"schema": Schema, "account": a.Account, "region": a.Region, "keyId": a.KeyID()}
	if a.Trigger.EventID != "" {
		ctx["eventId"] = a.Trigger.EventID
	}
	return chatNotification{
		Version: "1.0",
		Source:  "custom",
		ID:      a.Trigger.EventID,
		Content: chatContent{
			TextType:    "client-markdown",
			Title:       chatIcon[a.Severity] + " " + a.Title,
			Description: strings.TrimRight(d.String(), "\n"),
			NextSteps:   steps,
			Keywords:    kw,
		},
		Metadata: chatMetadata{
			ThreadID:          a.threadID(),
			Summary:           fmt.Sprintf("[%s] %s", a.Severity, a.Title),
			EventType:         orDash(a.Code()),
			RelatedResources:  related,
			AdditionalContext: ctx,
		},
	}
}

// threadID groups the alerts of one key into one chat thread.
func (a Alert) threadID() string {
	if a.Key.ARN != "" {
		return "fsxkms:" + a.Key.ARN
	}
	return "fsxkms:" + a.keyName()
}

// md keeps user text from closing or opening code spans in chat.
func md(s string) string { return strings.ReplaceAll(s, "`", "'") }

// clip shortens s to at most n bytes (on a rune boundary) with a marker.
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
