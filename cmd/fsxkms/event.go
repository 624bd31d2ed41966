package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

const eventDecodeHelp = `usage: fsxkms event decode [--json] [--hide-ignored] [FILE|-]

Decodes a KMS event and prints it with its relevance to Amazon FSx: an
EventBridge event, a bare CloudTrail record, a CloudTrail log file
({"Records": [...]}), gzip-compressed or not (.json.gz as a trail delivers
it to S3), or a message of the failure queue (a Lambda destination record,
whose event is in requestPayload, or an EventBridge dead-letter message),
read from FILE, or from standard input when FILE is "-" or absent (at most
10 MiB, uncompressed).

Flags:
  --json           one JSON object per event and line instead of text
  --hide-ignored   leave out the events that cannot matter to FSx (other
                   services, read-only calls, failed calls that changed
                   nothing); standard error says how many

Exit status: 0 when every record decoded, 2 on bad input or usage (events
that did decode are still printed).
`

func runEventDecode(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("fsxkms event decode")
	asJSON := fs.Bool("json", false, "print one JSON object per event")
	hideIgnored := fs.Bool("hide-ignored", false, "leave out ignored events")
	files, code, ok := parse(fs, eventDecodeHelp, args, stdout, stderr)
	if !ok {
		return code
	}
	name, raw, ok := readOperand(fs.Name(), files, stdin, stderr, readEvent)
	if !ok {
		return 2
	}
	events, decodeErr := kmsevent.Decode(raw)
	hidden := 0
	if *hideIgnored {
		events = slices.DeleteFunc(events, func(e kmsevent.Event) bool {
			if e.Relevance == kmsevent.Ignored {
				hidden++
				return true
			}
			return false
		})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		for _, e := range events {
			if err := enc.Encode(e); err != nil {
				fmt.Fprintf(stderr, "fsxkms event decode: %v\n", err)
				return 1
			}
		}
	} else {
		for i, e := range events {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			printEvent(stdout, e)
		}
	}
	if hidden > 0 {
		fmt.Fprintf(stderr, "fsxkms event decode: %d ignored %s not shown (--hide-ignored)\n", hidden, plural(hidden, "event", "events"))
	}
	if decodeErr != nil {
		fmt.Fprintf(stderr, "fsxkms event decode: %s: %v\n", name, decodeErr)
		return 2
	}
	return 0
}

// readEvent reads an event, uncompressing it when it is gzip (by its magic
// bytes, whatever the file's name), and at most one byte past
// kmsevent.MaxInputSize so that Decode reports an oversized input.
func readEvent(in io.Reader) ([]byte, error) {
	br := bufio.NewReader(in)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		raw, err := io.ReadAll(io.LimitReader(zr, kmsevent.MaxInputSize+1))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return raw, nil
	}
	return io.ReadAll(io.LimitReader(br, kmsevent.MaxInputSize+1))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// printEvent writes one event for a person to read. Strings from the input
// are clipped and escaped (kmsevent.Clip): a record may be hostile.
func printEvent(w io.Writer, e kmsevent.Event) {
	c := kmsevent.Clip
	fmt.Fprintf(w, "%s %s (%s) at %s\n", strings.ToUpper(string(e.Relevance)), c(e.EventName), e.Kind, e.EventTime.Format(time.RFC3339))
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-9s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	line("event", "%s in account %s, %s", c(e.EventID), c(e.Account), c(e.Region))
	for _, k := range e.KeyARNs {
		line("key", "%s", c(k))
	}
	for _, a := range e.Aliases {
		line("alias", "%s", c(a))
	}
	if e.CustomKeyStoreID != "" {
		line("key store", "%s", c(e.CustomKeyStoreID))
	}
	if e.GrantID != "" {
		line("grant", "%s", c(e.GrantID))
	}
	if e.Policy != "" {
		line("policy", "%d bytes, bypassPolicyLockoutSafetyCheck=%t", len(e.Policy), e.BypassPolicyLockoutSafetyCheck)
	}
	if e.PendingWindowInDays != 0 || !e.DeletionDate.IsZero() || e.KeyState != "" {
		var parts []string
		if e.KeyState != "" {
			parts = append(parts, c(e.KeyState))
		}
		if e.PendingWindowInDays != 0 {
			parts = append(parts, fmt.Sprintf("waiting %d days", e.PendingWindowInDays))
		}
		if !e.DeletionDate.IsZero() {
			parts = append(parts, "deletion on "+e.DeletionDate.Format(time.RFC3339))
		}
		line("state", "%s", strings.Join(parts, ", "))
	}
	if actor := describeActor(e.Actor); actor != "" {
		line("actor", "%s", c(actor))
	}
	if e.Failed {
		if e.ErrorMessage != "" {
			line("failed", "%s: %s", c(e.ErrorCode), c(e.ErrorMessage))
		} else {
			line("failed", "%s", c(e.ErrorCode))
		}
	}
	line("reason", "%s", e.Reason)
	if d := e.Destination; d != nil {
		line("delivery", "%s", describeDestination(*d))
		if d.ErrorType != "" || d.ErrorMessage != "" {
			line("error", "%s", c(strings.TrimPrefix(d.ErrorType+": "+d.ErrorMessage, ": ")))
		}
	}
	for _, warn := range e.Warnings {
		line("warning", "%s", warn)
	}
}

// describeDestination says what a Lambda destination record says of the
// invocation that failed.
func describeDestination(d kmsevent.Invocation) string {
	c := kmsevent.Clip
	var b strings.Builder
	b.WriteString("Lambda failure record")
	if fn := d.FunctionName(); fn != "" {
		b.WriteString(" of " + c(fn))
	}
	var facts []string
	if d.Condition != "" {
		facts = append(facts, c(d.Condition))
	}
	if d.Attempts > 0 {
		facts = append(facts, fmt.Sprintf("%d %s", d.Attempts, plural(d.Attempts, "attempt", "attempts")))
	}
	if !d.Time.IsZero() {
		facts = append(facts, "at "+d.Time.UTC().Format(time.RFC3339))
	}
	if d.RequestID != "" {
		facts = append(facts, "request "+c(d.RequestID))
	}
	if len(facts) > 0 {
		b.WriteString(" (" + strings.Join(facts, ", ") + ")")
	}
	return b.String()
}

func describeActor(a kmsevent.Actor) string {
	var b strings.Builder
	who := a.ARN
	if who == "" {
		who = a.InvokedBy
	}
	b.WriteString(who)
	if a.Type != "" {
		fmt.Fprintf(&b, " (%s)", a.Type)
	}
	if a.InvokedBy != "" && a.InvokedBy != who {
		fmt.Fprintf(&b, " via %s", a.InvokedBy)
	}
	if a.SourceIP != "" && a.SourceIP != a.InvokedBy {
		fmt.Fprintf(&b, " from %s", a.SourceIP)
	}
	if a.Console {
		b.WriteString(", console")
	}
	return strings.TrimSpace(b.String())
}
